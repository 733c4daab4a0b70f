"""Joint sets as data: names, COCO indices, flip permutation and skeleton edges.

A joint set is chosen at training time and stored in the checkpoint; everything downstream
(decode, metrics, analysis, drawing) reads it from there instead of assuming six joints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COCO_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# Per-keypoint OKS constants from the COCO keypoint evaluation (cocodataset.org/#keypoints-eval).
COCO_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)


SIDES: tuple[str, ...] = ("left", "right")
LEG_PARTS: tuple[str, ...] = ("hip", "knee", "ankle")
# The six lower-body joints, both sides of each part in turn: left_hip, right_hip, left_knee, ...
LOWER6: tuple[str, ...] = tuple(f"{side}_{part}" for part in LEG_PARTS for side in SIDES)


def leg_chains(names: tuple[str, ...] | list[str]) -> dict[str, list[int]]:
    """{side: indices of its [hip, knee, ankle] in `names`} for each side whose three joints are all there."""
    names = list(names)
    chains = {side: [f"{side}_{part}" for part in LEG_PARTS] for side in SIDES}
    return {side: [names.index(n) for n in chain] for side, chain in chains.items()
            if set(chain) <= set(names)}


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


# Mirror partner of each COCO keypoint (left_x <-> right_x), for flipped images.
COCO_FLIP_PERM: tuple[int, ...] = tuple(COCO_NAMES.index(_mirror_name(n)) for n in COCO_NAMES)


@dataclass(frozen=True)
class JointSet:
    """An ordered subset of the COCO keypoints that a model predicts."""

    name: str
    names: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def coco_indices(self) -> tuple[int, ...]:
        return tuple(COCO_NAMES.index(n) for n in self.names)

    @property
    def flip_perm(self) -> tuple[int, ...]:
        """Index of each joint's mirror partner, found by name (left_x <-> right_x)."""
        return tuple(self.names.index(_mirror_name(n)) for n in self.names)

    @property
    def sigmas(self) -> np.ndarray:
        return np.array([COCO_SIGMAS[i] for i in self.coco_indices], dtype=np.float64)

    def index(self, joint_name: str) -> int:
        return self.names.index(joint_name)

    def from_coco(self, keypoints17: np.ndarray) -> np.ndarray:
        """Select this set's joints from COCO-ordered keypoints `(..., 17, C)` → `(..., K, C)`."""
        return np.asarray(keypoints17)[..., list(self.coco_indices), :]

    def to_coco(self, keypoints: np.ndarray) -> np.ndarray:
        """Scatter `(..., K, C)` into COCO order `(..., 17, C)`, zeros for joints not in the set."""
        keypoints = np.asarray(keypoints)
        out = np.zeros(keypoints.shape[:-2] + (len(COCO_NAMES), keypoints.shape[-1]), keypoints.dtype)
        out[..., list(self.coco_indices), :] = keypoints
        return out


_LEG_EDGES = (
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)

JOINT_SETS: dict[str, JointSet] = {
    "lower6": JointSet(
        name="lower6",
        names=LOWER6,
        edges=_LEG_EDGES,
    ),
    "lower8": JointSet(
        name="lower8",
        names=("left_shoulder", "right_shoulder", "left_hip", "right_hip",
               "left_knee", "right_knee", "left_ankle", "right_ankle"),
        edges=(("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"),
               ("right_shoulder", "right_hip")) + _LEG_EDGES,
    ),
}


def get_joint_set(name: str) -> JointSet:
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(f"unknown joint set {name!r}; choose one of {sorted(JOINT_SETS)}") from None
