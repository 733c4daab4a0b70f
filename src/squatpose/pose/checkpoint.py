"""Self-describing checkpoints: everything predict/eval/analyze need is inside the file."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from squatpose import atomic
from squatpose.geometry import DEFAULT_BOX_PADDING
from squatpose.joints import JointSet, get_joint_set
from squatpose.pose.calibration import ScoreCalibration
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.loaded_model import LoadedModel
from squatpose.pose.models import MODELS, build_model

FORMAT = "squatpose-checkpoint"
VERSION = 1


# Besides tensors and plain containers/numbers/strings (what torch's weights_only loader allows),
# a checkpoint may hold numpy scalars (metrics of older runs). Nothing else is ever unpickled, so a
# crafted file cannot run code while it is read.
SAFE_GLOBALS = [np.core.multiarray.scalar, np.dtype, *{type(np.dtype(t)) for t in "?bhilqBHILQefdg"}]


class CheckpointError(ValueError):
    """A checkpoint that can't be used; the message names the file."""


def _refusal(exc: pickle.UnpicklingError) -> str:
    """The line of torch's weights_only error that names the refused object."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line]
    return (named or lines or ["unknown object"])[0][:200]


def unwrap(model: nn.Module) -> nn.Module:
    """Strip DDP (`module.`) and torch.compile (`_orig_mod.`) wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        torch.save(obj, tmp)


def make_checkpoint(model: nn.Module, model_name: str, joint_set: JointSet, codec: HeatmapCodec,
                    **extra: Any) -> dict:
    model = unwrap(model)
    return {
        "format": FORMAT, "version": VERSION,
        "model": {"name": model_name},
        "joint_set": joint_set.name,
        "codec": codec.to_dict(),
        "input_norm": {"mean": list(model.INPUT_MEAN), "std": list(model.INPUT_STD)},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }


def read_checkpoint(path: str | Path) -> dict:
    """Load and validate the checkpoint dict (no model built)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # not a refused object: a corrupt file
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated)") from None
        raise CheckpointError(
            f"{path}: refused: the file holds Python objects other than tensors and plain data "
            f"({_refusal(exc)}); squatpose checkpoints never do, and loading such a file could run "
            "code. Use a checkpoint written by squatpose") from None
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a squatpose checkpoint (no format={FORMAT!r} field)")
    missing = [k for k in ("model", "joint_set", "codec", "input_norm", "state_dict") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    if ckpt["model"]["name"] not in MODELS:
        raise CheckpointError(f"{path}: unknown architecture {ckpt['model']['name']!r}")
    return ckpt


def load_model(path: str | Path, *, expect_joint_set: str | None = None, expect_model: str | None = None
               ) -> LoadedModel:
    """Build the model described by a checkpoint and load its weights (eval mode, CPU)."""
    ckpt = read_checkpoint(path)
    name, joint_set = ckpt["model"]["name"], get_joint_set(ckpt["joint_set"])
    if expect_joint_set and joint_set.name != expect_joint_set:
        raise CheckpointError(f"{path}: checkpoint is for joint set {joint_set.name!r}, expected {expect_joint_set!r}")
    if expect_model and name != expect_model:
        raise CheckpointError(f"{path}: checkpoint is a {name!r} model, expected {expect_model!r}")
    codec = HeatmapCodec.from_dict(ckpt["codec"])
    try:
        model = build_model(name, joint_set.num_joints, stride=codec.stride)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    load_state(model, ckpt["state_dict"], path)
    model.eval()
    norm = ckpt["input_norm"]
    return LoadedModel(model, name, joint_set, codec, tuple(norm["mean"]), tuple(norm["std"]),
                       {k: ckpt[k] for k in ("metrics", "config", "epoch") if k in ckpt},
                       float(ckpt.get("box_padding", DEFAULT_BOX_PADDING)), _calibration(ckpt, path))


def _calibration(ckpt: dict, path: str | Path) -> ScoreCalibration | None:
    if "score_calibration" not in ckpt:
        return None
    try:
        return ScoreCalibration.from_dict(ckpt["score_calibration"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid score_calibration ({exc})") from None


def load_state(model: nn.Module, state_dict: dict, path: str | Path) -> None:
    """Strict load with an error that names the file and the first mismatching keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [k for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"{path}: weights do not fit this architecture (missing {missing[:3]}, unexpected {unexpected[:3]}, "
            f"shape mismatch {shapes[:3]}); was it trained for another model or joint set?")
    model.load_state_dict(state_dict)


def load_state_across_joint_sets(model: nn.Module, state_dict: dict, from_names: tuple[str, ...],
                                 to_names: tuple[str, ...], path: str | Path) -> list[str]:
    """Warm start from a checkpoint of another joint set: layers whose first dimension is the joint count
    (the output head) take the rows of the joints both sets share, by name; new joints keep their fresh
    initialisation. Every other tensor must fit exactly. Returns the names of the new joints."""
    if from_names == to_names:
        load_state(model, state_dict, path)
        return []
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shared = [(to_names.index(n), from_names.index(n)) for n in to_names if n in from_names]
    merged = {}
    for key, tensor in own.items():
        old = state_dict.get(key)
        if old is None or old.shape == tensor.shape:
            merged[key] = old
        elif old.shape[0] == len(from_names) and tensor.shape[0] == len(to_names) and old.shape[1:] == tensor.shape[1:]:
            rows = tensor.clone()
            for new_i, old_i in shared:
                rows[new_i] = old[old_i]
            merged[key] = rows
        else:
            raise CheckpointError(f"{path}: weights do not fit this architecture ({key}: {tuple(old.shape)} vs "
                                  f"{tuple(tensor.shape)}); was it trained for another model?")
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit this architecture (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}); was it trained for another model?")
    model.load_state_dict(merged)
    return [n for n in to_names if n not in from_names]
