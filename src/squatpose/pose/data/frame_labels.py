"""One video frame's pseudo-label: the teacher's consensus over jittered crops, checked against its neighbours.

The teacher (MoveNet Thunder) is right most of the time but fails in ways a single pass cannot see: a joint
that moves when the crop moves by a few pixels, or that jumps between two frames 1/30 s apart, is a guess.
So each sampled frame is read through several crops (the box, shifted and rescaled; each averaged with its
mirror image), the consensus is the per-joint median, and a joint is kept only when

- the teacher is confident (mean score over the crops),
- the crops agree (median distance from the consensus, as a fraction of the box's larger side),
- the neighbouring frames agree (the teacher on frames t-1 and t+1, same box, lands near the consensus).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatpose.joints import COCO_NAMES
from squatpose.pose.data.teacher import MoveNetTeacher, TeacherPose

# Crop jitters as (dx, dy, scale): shifts are fractions of the box's width / height.
# Three crops, each with its mirror image: six teacher passes per frame (the CPU budget of a 2-core machine).
JITTERS: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 1.0), (0.05, -0.04, 0.9), (-0.05, 0.04, 1.15))


@dataclass(frozen=True)
class FrameLabelRules:
    joint_score: float = 0.5        # mean teacher score over the crops for a joint to be labelled
    max_spread: float = 0.04        # crops' median distance from the consensus, fraction of the box side
    max_temporal: float = 0.06      # neighbour frames' distance from the consensus, fraction of the box side


@dataclass(frozen=True)
class FrameLabel:
    """Consensus keypoints `(17,2)` image px, mean scores `(17,)`, and which joints survived each check."""

    points: np.ndarray
    scores: np.ndarray
    confident: np.ndarray    # (17,) bool: score >= joint_score
    stable: np.ndarray       # (17,) bool: crops agree
    steady: np.ndarray       # (17,) bool: neighbours agree (True where no neighbour was given)

    @property
    def labelled(self) -> np.ndarray:
        return self.confident & self.stable & self.steady


def jittered_box(box_xywh: np.ndarray, dx: float, dy: float, scale: float) -> np.ndarray:
    x, y, w, h = box_xywh
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * h
    return np.array([cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale])


def consensus(teacher: MoveNetTeacher, frame: np.ndarray, box_xywh: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median points `(17,2)`, mean scores `(17,)` and spread `(17,)` (median distance to the median, px)."""
    poses = [teacher.predict(frame, jittered_box(box_xywh, *j), flip=True) for j in JITTERS]
    points = np.stack([p.points for p in poses])            # (J,17,2)
    median = np.median(points, axis=0)
    spread = np.median(np.linalg.norm(points - median, axis=-1), axis=0)
    return median, np.mean([p.scores for p in poses], axis=0), spread


def label_frame(teacher: MoveNetTeacher, frame: np.ndarray, box_xywh: np.ndarray,
                neighbours: list[np.ndarray], rules: FrameLabelRules) -> FrameLabel:
    """The frame's pseudo-label; `neighbours` are the frames just before and after it (may be empty)."""
    points, scores, spread = consensus(teacher, frame, box_xywh)
    side = float(max(box_xywh[2], box_xywh[3]))
    steady = np.ones(17, bool)
    for other in neighbours:
        pose: TeacherPose = teacher.predict(other, box_xywh, flip=False)
        steady &= np.linalg.norm(pose.points - points, axis=-1) <= rules.max_temporal * side
    return FrameLabel(points, scores, scores >= rules.joint_score, spread <= rules.max_spread * side, steady)


def pose_signature(points: np.ndarray, labelled: np.ndarray, box_xywh: np.ndarray) -> np.ndarray:
    """Keypoints relative to the box centre in units of its larger side, NaN where not labelled `(17,2)`."""
    x, y, w, h = box_xywh
    sig = (points - np.array([x + w / 2, y + h / 2])) / max(w, h)
    sig[~labelled] = np.nan
    return sig


def is_near_duplicate(signature: np.ndarray, kept: list[np.ndarray], min_distance: float) -> bool:
    """Whether a kept frame of the same clip has nearly the same pose: mean joint distance below
    `min_distance` (fraction of the box side) over the joints both label (at least four)."""
    for other in kept:
        both = ~np.isnan(signature[:, 0]) & ~np.isnan(other[:, 0])
        if both.sum() >= 4 and np.linalg.norm(signature[both] - other[both], axis=-1).mean() < min_distance:
            return True
    return False


def disagreement(student_xy: np.ndarray, student_names: tuple[str, ...], label_points: np.ndarray,
                 labelled: np.ndarray, box_xywh: np.ndarray) -> float:
    """Largest distance between a model's joints and the labelled teacher joints of the same names, as a
    fraction of the box's larger side (0 where they share no labelled joint)."""
    side = float(max(box_xywh[2], box_xywh[3]))
    worst = 0.0
    for k, name in enumerate(student_names):
        c = COCO_NAMES.index(name)
        if labelled[c]:
            worst = max(worst, float(np.linalg.norm(student_xy[k] - label_points[c])) / side)
    return worst
