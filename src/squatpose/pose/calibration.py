"""Joint scores that mean something: a monotone map from the heatmap peak to P(joint within 0.1 of the box).

Fitted on a precisely labelled dev split by isotonic regression (pool-adjacent-violators over score-sorted
joints), stored in the checkpoint as a few knots and applied by the predictor with linear interpolation.
A calibrated 0.7 means "about 70 % of joints scored like this are within 0.1 of the box side", so the
tracker's and the analysis's thresholds read as probabilities. Monotone: it never reorders joints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KNOTS = 24  # quantile knots kept in the checkpoint


@dataclass(frozen=True)
class ScoreCalibration:
    raw: tuple[float, ...]
    calibrated: tuple[float, ...]

    def __post_init__(self) -> None:
        raw, cal = np.asarray(self.raw, np.float64), np.asarray(self.calibrated, np.float64)
        if (raw.ndim != 1 or raw.shape != cal.shape or len(raw) < 2 or not np.isfinite(raw).all()
                or not np.isfinite(cal).all() or (np.diff(raw) <= 0).any() or (np.diff(cal) < 0).any()
                or cal.min() < 0 or cal.max() > 1):
            raise ValueError("a score calibration needs ≥ 2 increasing raw knots and non-decreasing "
                             "calibrated values in [0, 1]")

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores, same shape; values outside the knots take the end values."""
        return np.interp(np.asarray(scores, np.float64), self.raw, self.calibrated).astype(np.float32)

    def to_dict(self) -> dict:
        return {"raw": list(self.raw), "calibrated": list(self.calibrated)}

    @classmethod
    def from_dict(cls, data: dict) -> ScoreCalibration:
        return cls(tuple(float(v) for v in data["raw"]), tuple(float(v) for v in data["calibrated"]))


def isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing sequence closest to `values` in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(np.asarray(values, np.float64), np.asarray(weights, np.float64)):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), m) for m, _, n in blocks])


def fit_calibration(scores: np.ndarray, correct: np.ndarray, knots: int = KNOTS) -> ScoreCalibration:
    """Isotonic fit of correctness (0/1) on raw scores, summarised at `knots` score quantiles."""
    scores = np.asarray(scores, np.float64).ravel()
    correct = np.asarray(correct, np.float64).ravel()
    if scores.shape != correct.shape or len(scores) < 2 * knots:
        raise ValueError(f"calibration needs at least {2 * knots} scored joints, got {len(scores)}")
    order = np.argsort(scores, kind="stable")
    # Bin into equal-count groups first: the knots then sit where the data is, and PAV runs on few points.
    groups = np.array_split(order, knots)
    raw = np.array([scores[g].mean() for g in groups])
    rate = np.array([correct[g].mean() for g in groups])
    fitted = isotonic(rate, np.array([len(g) for g in groups], np.float64))
    raw, keep = np.unique(raw, return_index=True)  # equal raw means (ties) collapse to one knot
    return ScoreCalibration(tuple(float(v) for v in raw), tuple(float(v) for v in fitted[keep]))

