"""Joints arranged by body part and side, the layout every measure works on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.analysis.tracks import JointTracks
from squatpose.joints import LEG_PARTS, SIDES

PARTS: tuple[str, ...] = ("shoulder", *LEG_PARTS)
ANALYSIS_JOINTS: tuple[str, ...] = tuple(f"{s}_{p}" for p in PARTS for s in SIDES)


@dataclass(frozen=True)
class Body:
    """Per-frame joints by part and side (the person's own left/right).

    xy: (T, 4, 2, 2) = (frame, part in PARTS, side in SIDES, x/y) image pixels, NaN where the joint
    is missing or below the score threshold `min_score`. score: (T, 4, 2), 0 there.
    """

    xy: np.ndarray
    score: np.ndarray
    min_score: float = MIN_JOINT_SCORE

    @classmethod
    def from_tracks(cls, tracks: JointTracks, min_score: float) -> Body:
        sel = tracks.select(ANALYSIS_JOINTS)
        ok = sel.score >= max(min_score, np.finfo(float).tiny)
        xy = np.where(ok[..., None], sel.xy, np.nan).reshape(-1, len(PARTS), len(SIDES), 2)
        score = np.where(ok, sel.score, 0.0).reshape(-1, len(PARTS), len(SIDES))
        return cls(xy, score, min_score)

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    def xy_of(self, part: str) -> np.ndarray:
        """(T, 2, 2) positions of `part` for (left, right)."""
        return self.xy[:, PARTS.index(part)]

    def score_of(self, part: str) -> np.ndarray:
        """(T, 2) scores of `part` for (left, right)."""
        return self.score[:, PARTS.index(part)]

    @property
    def hip(self) -> np.ndarray:
        return self.xy_of("hip")

    @property
    def knee(self) -> np.ndarray:
        return self.xy_of("knee")

    @property
    def ankle(self) -> np.ndarray:
        return self.xy_of("ankle")

    @property
    def shoulder(self) -> np.ndarray:
        return self.xy_of("shoulder")

    def conf(self, *parts: str) -> np.ndarray:
        """(T, 2) per-side confidence of a measure using `parts`: the lowest of their scores."""
        return np.min(np.stack([self.score_of(p) for p in parts]), axis=0)


def joint_sd(score: np.ndarray, leg_px: np.ndarray, sd_at_one: float, floor: float) -> np.ndarray:
    """Standard deviation (pixels, per image coordinate) of joints with calibrated `score`: `sd_at_one` leg
    lengths at score 1, growing as 1 / score, the score floored at `floor` (the analysis's joint-score floor;
    joints below it carry no position anyway). score and leg_px broadcast together."""
    return sd_at_one * leg_px / np.maximum(score, max(floor, np.finfo(float).tiny))


def row_mean(x: np.ndarray) -> np.ndarray:
    """(T, S) -> (T,) mean over the finite entries of each row, NaN for an all-NaN row."""
    ok = np.isfinite(x)
    n = ok.sum(axis=1)
    return np.where(n > 0, np.where(ok, x, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
