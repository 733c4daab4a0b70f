"""Which persons a training epoch sees how often: whole-dataset repeats and deep-squat oversampling."""
from __future__ import annotations

import numpy as np

from squatpose.joints import COCO_NAMES
from squatpose.pose.data.dataset import PersonRecord

_IDX = {name: COCO_NAMES.index(name) for name in COCO_NAMES}
DEEP_KNEE_DEG = 100.0     # knee angle below this on a labelled leg: a deep squat-like pose
UPRIGHT_TRUNK_DEG = 45.0  # shoulder-to-hip line within this of vertical (when the shoulders are labelled)


def _angle_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Interior angle at b of the points a-b-c, in degrees."""
    u, v = a - b, c - b
    cos = float(u @ v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def is_deep_squat(record: PersonRecord) -> bool:
    """A knee bent below 100° on a fully labelled leg, with the trunk upright when shoulders are labelled."""
    kps = record.keypoints17
    labelled = kps[:, 2] > 0
    bent = False
    for side in ("left", "right"):
        hip, knee, ankle = (_IDX[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        if (labelled[[hip, knee, ankle]].all()
                and _angle_deg(kps[hip, :2], kps[knee, :2], kps[ankle, :2]) < DEEP_KNEE_DEG):
            bent = True
    if not bent:
        return False
    shoulders = [_IDX["left_shoulder"], _IDX["right_shoulder"]]
    hips = [_IDX["left_hip"], _IDX["right_hip"]]
    if not (labelled[shoulders].any() and labelled[hips].any()):
        return True
    trunk = kps[shoulders][labelled[shoulders], :2].mean(axis=0) - kps[hips][labelled[hips], :2].mean(axis=0)
    lean = float(np.degrees(np.arctan2(abs(trunk[0]), -trunk[1])))  # 0 = shoulders straight above the hips
    return lean < UPRIGHT_TRUNK_DEG


def oversample(records: list[PersonRecord], repeat: int, deep_squat_repeat: int) -> list[PersonRecord]:
    """Each record `repeat` times, deep-squat poses `repeat × deep_squat_repeat` times (each copy gets its own
    augmentation, since the dataset seeds augmentation by position)."""
    out: list[PersonRecord] = []
    for record in records:
        times = repeat * (deep_squat_repeat if deep_squat_repeat > 1 and is_deep_squat(record) else 1)
        out += [record] * times
    return out
