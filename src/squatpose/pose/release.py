"""The file that ships as a model: a training checkpoint without optimiser state, with calibrated scores."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from squatpose.joints import get_joint_set
from squatpose.pose.calibration import ScoreCalibration, fit_calibration
from squatpose.pose.calibration_crops import CropMix, calibration_crops, crop_correct
from squatpose.pose.checkpoint import LoadedModel, atomic_save, load_model, read_checkpoint
from squatpose.pose.data.dataset import PersonRecord, load_records
from squatpose.pose.evaluation.metrics import bbox_norm, format_reliability, reliability
from squatpose.pose.predictor import TorchRunner

log = logging.getLogger(__name__)

RELEASE_KEYS = ("format", "version", "model", "joint_set", "codec", "input_norm", "state_dict", "metrics",
                "config", "epoch", "box_padding")


def predict_crops(loaded: LoadedModel, records: list[PersonRecord], flip_test: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The model's points `(N,K,2)` and raw scores `(N,K)` on the crops of the records' boxes."""
    from squatpose.pose.evaluation.evaluate import predict_records

    return predict_records(TorchRunner(loaded.model), records, loaded.codec, loaded.joint_set,
                           loaded.input_mean,
                           loaded.input_std, flip_test=flip_test, box_padding=loaded.box_padding)


def calibrate_scores(checkpoint: str | Path, records: list[PersonRecord],
                     persons: list[PersonRecord] | None = None,
                     mix: CropMix | None = None, flip_test: bool = True) -> tuple[ScoreCalibration, str]:
    """Fit the score calibration on GT-box, shifted and empty crops of `records` (see calibration_crops;
    `persons`: every annotated person of those images, default `records`); returns it and the
    before/after reliability table of the GT-box crops (in-sample: an honest one needs a held-out set)."""
    loaded = load_model(checkpoint)
    crops = calibration_crops(records, records if persons is None else persons, mix or CropMix(),
                              loaded.codec.input_wh[0] / loaded.codec.input_wh[1], loaded.box_padding)
    xy, scores = predict_crops(loaded, crops.records, flip_test)
    calibration = fit_calibration(scores, crop_correct(xy, crops))
    gt = np.array([k == "gt" for k in crops.kind])
    tables = reliability_tables(xy[gt], scores[gt], records, calibration)
    counts = ", ".join(f"{crops.kind.count(k)} {k}" for k in ("gt", "shifted", "empty"))
    return calibration, f"fitted on {counts} crops\n\n{tables}"


def reliability_tables(xy: np.ndarray, scores: np.ndarray, records: list[PersonRecord],
                       calibration: ScoreCalibration) -> str:
    """PCK@0.1 per score bin of GT-box predictions `(N,K,2)`, raw and calibrated."""
    gt = np.stack([r.keypoints for r in records])
    norm = bbox_norm(np.stack([r.bbox for r in records]))
    return "\n\n".join(format_reliability(reliability(xy, gt, gt[..., 2] > 0, norm, s),
                                          title=f"{what} scores")
                        for what, s in (("raw", scores), ("calibrated", calibration(scores))))


def write_release(checkpoint: str | Path, out: str | Path, calibration: ScoreCalibration | None) -> Path:
    """Copy the release keys of `checkpoint` (plus the score calibration) atomically to `out`."""
    ckpt = read_checkpoint(checkpoint)
    release = {k: ckpt[k] for k in RELEASE_KEYS if k in ckpt}
    if calibration is not None:
        release["score_calibration"] = calibration.to_dict()
    atomic_save(release, out)
    return Path(out)


def make_release(checkpoint: str | Path, out: str | Path, calibrate_on: str | Path | None = None,
                 images: str | Path | None = None, mix: CropMix | None = None, flip_test: bool = True
                 ) -> tuple[Path, str | None]:
    """Write the release of `checkpoint` to `out`; with `calibrate_on` (a COCO keypoints file of a dev
    split, its images under `images`) the score calibration is fitted first. Returns the release path
    and the calibration's reliability tables (None without one)."""
    calibration, tables = None, None
    if calibrate_on:
        if not images:
            raise ValueError("--calibrate-on needs --images DIR")
        joint_set = get_joint_set(read_checkpoint(checkpoint)["joint_set"])
        records = load_records(calibrate_on, images, joint_set)
        # Every annotated person, labelled or not, is kept out of the empty crops.
        persons = load_records(calibrate_on, images, joint_set, min_joints=0, include_crowd=True)
        calibration, tables = calibrate_scores(checkpoint, records, persons, mix, flip_test=flip_test)
    return write_release(checkpoint, out, calibration), tables
