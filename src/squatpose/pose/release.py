"""The file that ships as a model: a training checkpoint without optimiser state, with calibrated scores."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from squatpose.pose.calibration import ScoreCalibration, correct_at, fit_calibration
from squatpose.pose.checkpoint import atomic_save, load_model, read_checkpoint
from squatpose.pose.data.dataset import PersonRecord
from squatpose.pose.evaluation.metrics import bbox_norm, format_reliability, reliability
from squatpose.pose.predictor import TorchRunner

log = logging.getLogger(__name__)

RELEASE_KEYS = ("format", "version", "model", "joint_set", "codec", "input_norm", "state_dict", "metrics",
                "config", "epoch", "box_padding")


def calibrate_scores(checkpoint: str | Path, records: list[PersonRecord], flip_test: bool = True
                     ) -> tuple[ScoreCalibration, str]:
    """Fit the score calibration on GT-box predictions of `records`; returns it and a before/after table."""
    from squatpose.pose.evaluation.evaluate import predict_records

    loaded = load_model(checkpoint)
    xy, scores = predict_records(TorchRunner(loaded.model), records, loaded.codec, loaded.joint_set,
                                 loaded.input_mean, loaded.input_std, flip_test=flip_test,
                                 box_padding=loaded.box_padding)
    gt = np.stack([r.keypoints for r in records])
    norm = bbox_norm(np.stack([r.bbox for r in records]))
    counted, correct = correct_at(xy, gt, gt[..., 2] > 0, norm)
    calibration = fit_calibration(scores[counted], correct)
    tables = "\n\n".join(
        format_reliability(reliability(xy, gt, gt[..., 2] > 0, norm, s), title=f"{what} scores")
        for what, s in (("raw", scores), ("calibrated", calibration(scores))))
    return calibration, tables


def write_release(checkpoint: str | Path, out: str | Path, calibration: ScoreCalibration | None) -> Path:
    """Copy the release keys of `checkpoint` (plus the score calibration) atomically to `out`."""
    ckpt = read_checkpoint(checkpoint)
    release = {k: ckpt[k] for k in RELEASE_KEYS if k in ckpt}
    if calibration is not None:
        release["score_calibration"] = calibration.to_dict()
    atomic_save(release, out)
    return Path(out)
