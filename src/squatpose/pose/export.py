"""ONNX export of a checkpoint's model, and a per-user cache so `--backend onnx` works without a file.

Exports are cached by their weights. Once a checkpoint file's export is made (or found), the cache also
notes, under the file's content hash, the model's description (LoadedModel.description) and which export
is its: a later run finds and runs it without reading the checkpoint, and so without PyTorch. Exporting
needs PyTorch: it is imported only then.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

from squatpose import atomic
from squatpose.pose.loaded_model import LoadedModel, read_description

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_REVISION = 2  # part of cached file names: raise it when the export itself changes (2: pads folded)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "squatpose"


def export_onnx(loaded: LoadedModel, out_path: str | Path) -> Path:
    """Write `(B,3,h,w)` normalised input → `(B,K,h/4,w/4)` heatmaps, batch dynamic; atomic write.

    The joint set, codec and input normalisation go into the ONNX metadata so the file describes itself.
    """
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    w, h = loaded.codec.input_wh
    dummy = torch.zeros(1, 3, h, w)
    with atomic.replacing(out_path) as tmp, warnings.catch_warnings():
        # The tracer's notes on static shapes are expected: only the batch axis varies.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(loaded.model.eval(), (dummy,), str(tmp), input_names=["image"],
                          output_names=["heatmaps"],
                          dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
        _finish(tmp, loaded)
    return out_path


def onnx_metadata(loaded: LoadedModel) -> dict[str, str]:
    """What an exported file records about its checkpoint (ONNX metadata is strings only)."""
    return {"model": loaded.model_name, "joint_set": loaded.joint_set.name,
            "codec": json.dumps(loaded.codec.to_dict()), "input_mean": json.dumps(list(loaded.input_mean)),
            "input_std": json.dumps(list(loaded.input_std))}


def _finish(path: Path, loaded: LoadedModel) -> None:
    import onnx

    from squatpose.pose.onnx_graph import fold_pads_into_convs  # needs the optional onnx packages

    model = onnx.load(str(path))
    fold_pads_into_convs(model)
    # The fingerprint is not part of the checked metadata (older exports lack it): it only tells whether a
    # shipped file was made from exactly these weights.
    for key, value in {**onnx_metadata(loaded), "weights_fingerprint": weights_fingerprint(loaded)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def check_onnx_metadata(path: str | Path, found: dict[str, str], loaded: LoadedModel) -> None:
    """Refuse an ONNX file whose recorded model, joint set, codec or normalisation differ from the
    checkpoint's: its heatmaps would be decoded with the wrong convention without any error."""
    expected = onnx_metadata(loaded)
    if not set(expected) & set(found):
        log.warning("%s: no squatpose metadata; cannot check it matches the checkpoint", path)
        return
    wrong = [f"{key} {found.get(key)!r} (checkpoint: {value!r})" for key, value in expected.items()
             if found.get(key) != value]
    if wrong:
        raise ValueError(f"{path}: ONNX model does not match the checkpoint: " + "; ".join(wrong))


def weights_fingerprint(loaded: LoadedModel) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([loaded.model_name, loaded.joint_set.name, loaded.codec.to_dict()]).encode())
    for name, tensor in sorted(loaded.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _note_path(checkpoint: str | os.PathLike) -> Path:
    return cache_dir() / "onnx" / f"checkpoint-{file_digest(Path(checkpoint))}-r{EXPORT_REVISION}.json"


def note_export(checkpoint: str | os.PathLike, loaded: LoadedModel, onnx_path: Path) -> None:
    """Note that `onnx_path` (in the cache) is the export of the checkpoint file, with the model's
    description; `loaded` must be that file's model as read, unchanged."""
    atomic.write_text(_note_path(checkpoint), json.dumps({**loaded.description(), "onnx": onnx_path.name}))


def find_cached_export(checkpoint: str | os.PathLike) -> tuple[LoadedModel, Path] | None:
    """The model of a checkpoint file and its cached export, when `note_export` noted them; torch-free."""
    note = _note_path(checkpoint)
    loaded = read_description(note)
    if loaded is None:
        return None
    onnx_path = note.with_name(json.loads(note.read_text())["onnx"])
    return (loaded, onnx_path) if onnx_path.is_file() else None


def export_onnx_cached(loaded: LoadedModel) -> Path:
    """The ONNX file for these exact weights, exported once into the user's cache."""
    path = cache_dir() / "onnx" / f"{loaded.model_name}-{weights_fingerprint(loaded)}-r{EXPORT_REVISION}.onnx"
    if not path.is_file():
        log.info("exporting the model to ONNX once: %s", path)
        export_onnx(loaded, path)
    return path
