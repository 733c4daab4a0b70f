"""Where in the frame things move: a prior for finding the exercising person among static look-alikes
(mirror images, posters, equipment) when the detector and the model are both unsure."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from squatpose.video.io import open_video

_WIDTH = 160


class MotionPrior:
    """Accumulated frame differences of the first seconds of a video, at low resolution."""

    def __init__(self, energy: np.ndarray, frame_wh: tuple[int, int]) -> None:
        self.frame_wh = frame_wh
        total = float(energy.sum())
        self.density = energy / total if total > 0 else None
        if self.density is not None:
            self.integral = cv2.integral(self.density.astype(np.float64))

    @classmethod
    def from_video(cls, path: str | Path, seconds: float = 3.0, max_frames: int = 120) -> MotionPrior:
        cap, info = open_video(path, fallback_fps=30.0)
        fps = info.fps
        frames = int(min(max_frames, max(2, seconds * fps)))
        energy, previous, wh = None, None, (1, 1)
        for _ in range(frames):
            ok, frame = cap.read()
            if not ok:
                break
            wh = (frame.shape[1], frame.shape[0])
            small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
                               (_WIDTH, max(1, round(_WIDTH * frame.shape[0] / frame.shape[1]))),
                               interpolation=cv2.INTER_AREA).astype(np.float32)
            if previous is not None:
                diff = np.abs(small - previous)
                energy = diff if energy is None else energy + diff
            previous = small
        cap.release()
        if energy is None:
            return cls(np.zeros((1, 1)), wh)
        return cls(cv2.GaussianBlur(energy, (0, 0), 2.0), wh)

    def ratio(self, box_xywh: np.ndarray) -> float:
        """Share of the motion inside the box over the box's share of the frame (1 = average, >1 = moving)."""
        if self.density is None:
            return 1.0
        h, w = self.density.shape
        sx, sy = w / self.frame_wh[0], h / self.frame_wh[1]
        x0, y0 = int(np.clip(box_xywh[0] * sx, 0, w)), int(np.clip(box_xywh[1] * sy, 0, h))
        x1 = int(np.clip((box_xywh[0] + box_xywh[2]) * sx, 0, w))
        y1 = int(np.clip((box_xywh[1] + box_xywh[3]) * sy, 0, h))
        if x1 <= x0 or y1 <= y0:
            return 1.0
        inside = self.integral[y1, x1] - self.integral[y0, x1] - self.integral[y1, x0] + self.integral[y0, x0]
        return float(inside / ((x1 - x0) * (y1 - y0) / (w * h)))
