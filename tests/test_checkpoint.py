"""Checkpoint loading is safe: a crafted file cannot run code; real squatpose checkpoints still load."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from squatpose.cli import main
from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import (
    CheckpointError,
    load_model,
    make_checkpoint,
    read_checkpoint,
)
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.models import build_model
from squatpose.pose.predictor import default_checkpoint


class _RunsCode:
    """Unpickling this calls os.system: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _crafted(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code_ran"
    ckpt = make_checkpoint(build_model("dilated_cnn", 6), "dilated_cnn", get_joint_set("lower6"),
                           HeatmapCodec((64, 64), 4, 1.5))
    ckpt["metrics"] = {"score": _RunsCode(marker)}
    path = tmp_path / "crafted.pt"
    torch.save(ckpt, path)
    return path, marker


def test_crafted_checkpoint_does_not_run_code(tmp_path):
    path, marker = _crafted(tmp_path)
    with pytest.raises(CheckpointError, match=r"crafted\.pt: refused: .*system"):
        read_checkpoint(path)
    assert not marker.exists()


def test_crafted_checkpoint_via_the_cli_is_one_line_error(tmp_path, tiny_coco, capsys):
    path, marker = _crafted(tmp_path)
    ann, images = tiny_coco
    assert main(["eval", "--checkpoint", str(path), "--annotations", str(ann), "--images", str(images)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: refused") and "\n" not in err
    assert main(["predict", str(images / "img000.png"), "--checkpoint", str(path),
                 "--out", str(tmp_path)]) == 2
    assert not marker.exists()


def test_builtin_and_numpy_metric_checkpoints_still_load(tmp_path):
    assert load_model(default_checkpoint()).model_name
    ckpt = make_checkpoint(build_model("dilated_cnn", 6), "dilated_cnn", get_joint_set("lower6"),
                           HeatmapCodec((64, 64), 4, 1.5),
                           metrics={"score": np.float64(0.5), "n": np.int64(3)},
                           epoch=2)
    torch.save(ckpt, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.meta["metrics"]["score"] == 0.5 and loaded.meta["epoch"] == 2
