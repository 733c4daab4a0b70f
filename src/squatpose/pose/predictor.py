"""Predictor: image + person boxes → keypoints in image pixels, with PyTorch or ONNX Runtime.

PyTorch is imported only where a PyTorch model runs or a checkpoint is read: ONNX Runtime on a cached
export (`--backend onnx`) never loads it, nor does importing this module.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from squatpose.geometry import (
    apply_affine,
    box_crop_matrix,
    crop_normalized,
    invert_affine,
)
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.export import (
    check_onnx_metadata,
    export_onnx_cached,
    find_cached_export,
    note_export,
    weights_fingerprint,
)
from squatpose.pose.loaded_model import LoadedModel
from squatpose.pose.runtime_choice import DEFAULT_WEIGHTS, choose_here, shipped_file

log = logging.getLogger(__name__)



def default_checkpoint() -> Path:
    """Path of the built-in model shipped inside the package."""
    path = shipped_file(DEFAULT_WEIGHTS)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: this install has no built-in model; pass --checkpoint PATH")
    return path


def onnx_available() -> bool:
    """Whether the optional ONNX packages (the `onnx` extra) are installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class HeatmapRunner(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Normalised input `(B,3,h,w)` float32 → heatmaps `(B,K,H,W)` float32."""


class TorchRunner:
    def __init__(self, model) -> None:  # noqa: ANN001 - a torch.nn.Module
        self.model = model.eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            param = next(self.model.parameters())
            return self.model(torch.from_numpy(batch).to(param.device, param.dtype)).float().cpu().numpy()


class OnnxRunner:
    """ONNX Runtime on a pose model file. Its worker threads sleep between calls instead of spin-waiting
    (ONNX Runtime's default): in a video the next crop comes only after decoding and tracking, and spinning
    took their CPU (benchmarks/speed.py --spinning: 6 ms more CPU per frame on 2 cores)."""

    def __init__(self, onnx_path: str | Path, threads: int | None = None, spin: bool = False) -> None:
        import onnxruntime as ort  # optional dependency: only needed for --backend onnx

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(onnx_path)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]


def run_with_flip(runner: HeatmapRunner, batch: np.ndarray, flip_perm: tuple[int, ...] | None) -> np.ndarray:
    """Heatmaps `(B,K,H,W)`; with `flip_perm`, averaged with those of the mirrored input (flip test)."""
    heatmaps = runner(batch)
    if flip_perm is None:
        return heatmaps
    flipped = runner(np.ascontiguousarray(batch[..., ::-1]))
    return 0.5 * (heatmaps + HeatmapCodec.flip(flipped, flip_perm))


def heatmaps_to_image(codec: HeatmapCodec, heatmaps: np.ndarray, matrices: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps `(B,K,H,W)` + image→crop matrices `(B,2,3)` → points `(B,K,2)` image px, scores `(B,K)`."""
    points_in, scores = codec.decode(heatmaps)
    inverse = np.stack([invert_affine(m) for m in matrices])
    return apply_affine(points_in, inverse), scores


@dataclass
class PoseBatch:
    """Keypoints `(N,K,2)` in image pixels and their scores `(N,K)`: the heatmap peak, calibrated to the
    probability of being within 0.1 of the person box side when the checkpoint carries a calibration."""

    xy: np.ndarray
    score: np.ndarray
    heatmaps: np.ndarray | None = None   # (N,K,H,W) when asked for
    matrices: np.ndarray | None = None   # (N,2,3) image → crop-input transforms


def shipped_int8(loaded: LoadedModel, name: str, threads: int | None = None) -> OnnxRunner | None:
    """A runner on the shipped int8 file `name` when it was made from exactly `loaded`'s weights (a user's
    own checkpoint gets None, and so does a missing file)."""
    path = shipped_file(name)
    if not path.is_file():
        log.info("%s is not installed; running the float model", name)
        return None
    runner = OnnxRunner(path, threads)
    if runner.metadata.get("weights_fingerprint") != weights_fingerprint(loaded):
        log.info("%s was made from other weights than these; running the float model", name)
        return None
    return runner


def make_runner(loaded: LoadedModel, backend: str, onnx_path: str | Path | None, threads: int | None
                ) -> tuple[HeatmapRunner, str, str]:
    """The model runner for a backend name → (runner, backend used, precision).

    "auto": the shipped int8 file that `choose_runtime` picks for this CPU when it was made from these
    weights (fastest), else ONNX Runtime on a float export made once into the user's cache (needs the
    `onnx` extra), else PyTorch; threads as it picks them. "onnx": `onnx_path` or the float export.
    "torch": PyTorch eager.
    """
    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"unknown backend {backend!r}; choose auto, torch or onnx")
    if backend == "auto" and onnx_path is None:
        choice, cpu = choose_here(threads)
        log.info("default backend on %s: %s", cpu.model or cpu.machine, choice.describe())
        threads = choice.threads
        shipped = None if choice.file is None else shipped_int8(loaded, choice.file, threads)
        if shipped is not None:
            return shipped, "onnx", "int8"
    if backend == "auto":
        backend = "onnx" if onnx_path is not None or onnx_available() else "torch"
    if backend == "torch":
        if threads:
            import torch

            torch.set_num_threads(threads)
        return TorchRunner(loaded.model), "torch", "float32"
    if onnx_path is None:
        onnx_path = export_onnx_cached(loaded)
    runner = OnnxRunner(onnx_path, threads)
    check_onnx_metadata(onnx_path, runner.metadata, loaded)
    return runner, "onnx", runner.metadata.get("precision", "float32")


class Predictor:
    """Runs a pose model on person boxes of an image; reuses its input buffer across calls.

    The backend is chosen by `make_runner` (default "auto": the fastest available for these weights)."""

    def __init__(self, loaded: LoadedModel, *, backend: str = "auto", onnx_path: str | Path | None = None,
                 flip_test: bool = False, box_padding: float | None = None, threads: int | None = None) -> None:
        self.loaded = loaded
        self.codec = loaded.codec
        self.joint_set = loaded.joint_set
        self.flip_perm = loaded.joint_set.flip_perm if flip_test else None
        self.box_padding = loaded.box_padding if box_padding is None else box_padding
        self.runner, self.backend, self.precision = make_runner(loaded, backend, onnx_path, threads)
        self._buffer = np.zeros((0, 3, loaded.codec.input_wh[1], loaded.codec.input_wh[0]), np.float32)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path | None = None, **kwargs) -> Predictor:
        """The model of `checkpoint` (default: the built-in one); `kwargs` as for the constructor. With
        backend "onnx", once this file's export is cached, the checkpoint is not read (nor PyTorch loaded)."""
        path = Path(checkpoint) if checkpoint else default_checkpoint()
        cached_onnx = kwargs.get("backend") == "onnx" and kwargs.get("onnx_path") is None
        if cached_onnx and (cached := find_cached_export(path)) is not None:
            return cls(cached[0], **{**kwargs, "onnx_path": cached[1]})
        from squatpose.pose.checkpoint import load_model  # reading a checkpoint needs PyTorch

        predictor = cls(load_model(path), **kwargs)
        if cached_onnx:
            note_export(path, predictor.loaded, predictor.runner.path)
        return predictor

    def crop_matrices(self, boxes_xywh: np.ndarray) -> np.ndarray:
        """Image → crop-input matrices `(N,2,3)` of boxes `(N,4)`, with the checkpoint's box padding."""
        mats = [box_crop_matrix(box, self.codec.input_wh, self.box_padding)
                for box in np.asarray(boxes_xywh, np.float64).reshape(-1, 4)]
        return np.stack(mats) if mats else np.zeros((0, 2, 3))

    def predict(self, image_rgb: np.ndarray, boxes_xywh: np.ndarray, return_heatmaps: bool = False) -> PoseBatch:
        """Image `(H,W,3)` RGB uint8 and boxes `(N,4)` `[x,y,w,h]` → PoseBatch of N persons."""
        matrices = self.crop_matrices(boxes_xywh)
        n = len(matrices)
        if n == 0:
            k = self.joint_set.num_joints
            return PoseBatch(np.zeros((0, k, 2)), np.zeros((0, k)))
        if len(self._buffer) < n:
            self._buffer = np.zeros((n,) + self._buffer.shape[1:], np.float32)
        batch = self._buffer[:n]
        for i, matrix in enumerate(matrices):
            crop_normalized(image_rgb, matrix, self.codec.input_wh, self.loaded.input_mean, self.loaded.input_std,
                            out=batch[i])
        heatmaps = run_with_flip(self.runner, batch, self.flip_perm)
        xy, score = heatmaps_to_image(self.codec, heatmaps, matrices)
        score = self.loaded.calibrate(score)
        if return_heatmaps:
            return PoseBatch(xy, score, heatmaps.copy(), matrices)
        return PoseBatch(xy, score)
