"""Penn Action squat ground-truth tracks (../shared/data/penn_action/squat_train.json) as JointTracks.

File format: {"joints": [13 names], "clips": [{"clip", "view", "width", "height", "frames",
"keypoints": [[[x, y, visible], ...13], ...frames]}]}, about 30 fps. Joints flagged invisible
keep annotated coordinates; unlabelled joints sit at a tiny placeholder position (0.67-1.5 px,
x == y, visible 0), which we treat as missing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squatpose.analysis.tracks import JointTracks
from squatpose.joints import COCO_NAMES

PENN_FPS = 30.0
_PLACEHOLDER_MAX_PX = 2.0


@dataclass(frozen=True)
class PennClip:
    """One clip: keypoints (T, 13, 3) as (x, y, visible) in the file's joint order."""

    clip: str
    view: str
    width: int
    height: int
    joint_names: tuple[str, ...]
    keypoints: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        """(T, 13) True where the joint has an annotated position (visible or not)."""
        kp = self.keypoints
        placeholder = (kp[..., 2] == 0) & (kp[..., 0] <= _PLACEHOLDER_MAX_PX) \
            & (kp[..., 1] <= _PLACEHOLDER_MAX_PX)
        return ~placeholder

    def tracks(self, occluded_score: float, fps: float = PENN_FPS) -> JointTracks:
        """COCO-named joints with score 1 for visible, `occluded_score` for labelled-but-invisible
        and 0 for unlabelled joints (non-COCO joints such as 'head' are dropped)."""
        keep = [i for i, n in enumerate(self.joint_names) if n in COCO_NAMES]
        visible = self.keypoints[..., 2] > 0
        score = np.where(visible, 1.0, np.where(self.labelled, occluded_score, 0.0))
        return JointTracks(fps, tuple(self.joint_names[i] for i in keep),
                           self.keypoints[:, keep, :2], score[:, keep], (self.width, self.height))


def load_penn_action(path: str | os.PathLike) -> list[PennClip]:
    """All clips of a Penn Action squat JSON file."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    names = tuple(data["joints"])
    return [PennClip(str(c["clip"]), str(c["view"]), int(c["width"]), int(c["height"]), names,
                     np.asarray(c["keypoints"], dtype=np.float64).reshape(-1, len(names), 3))
            for c in data["clips"]]
