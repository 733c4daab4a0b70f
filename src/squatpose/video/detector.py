"""Person detection: image → whole-body boxes with scores, behind a small interface.

The built-in detector is MediaPipe's BlazePose person detector (Apache-2.0, converted to ONNX by
`tools/convert_detector.py`; see `models/SOURCE.md`). It finds a person by the face and upper body and
regresses two alignment points: the hip centre and a point whose distance from it is the radius of a
circle around the whole body, which stays valid in a deep squat where the legs fold.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

INPUT_SIDE = 224
STRIDES = (8, 16, 32, 32, 32)   # the SSD anchor layers of the model (2254 anchors in all)
BODY_HEIGHT = 1.6               # whole-body box height / circle radius (median over COCO val persons)
BODY_ASPECT = 0.6               # ... and width / height
POSE_BOX = 2.6                  # the pose model's box height / radius: it is surest with this much context


class DetectorError(ValueError):
    """A detector file that is missing or cannot be loaded; the message names the file."""


@dataclass(frozen=True)
class Detection:
    box: np.ndarray      # [x, y, w, h] image px, the whole body
    score: float         # 0..1
    hips: np.ndarray     # (2,) hip centre, image px
    radius: float        # radius of the circle around the whole body, image px

    def pose_box(self) -> np.ndarray:
        """The box to crop for the pose model `[x,y,w,h]`: centred on the hips, looser than `box` (the model
        was measured surest with POSE_BOX radii of height on the shared squat clips)."""
        h = POSE_BOX * self.radius
        return np.array([self.hips[0] - BODY_ASPECT * h / 2, self.hips[1] - h / 2, BODY_ASPECT * h, h])


class PersonDetector(Protocol):
    def __call__(self, image_rgb: np.ndarray) -> list[Detection]:
        """RGB uint8 `(H,W,3)` → detections, best first."""


def default_detector_path() -> Path:
    return Path(str(resources.files("squatpose") / "video" / "models" / "person_detector.onnx"))


def anchors() -> np.ndarray:
    """Anchor centres `(2254,2)` in [0,1], in the model's output order (layers of one stride share a grid)."""
    centres = []
    layer = 0
    while layer < len(STRIDES):
        stride, per_cell = STRIDES[layer], 0
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            per_cell += 2   # aspect ratio 1 and the interpolated scale
            layer += 1
        side = INPUT_SIDE // stride
        ys, xs = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression on boxes `(N,4)` xywh, best first."""
    order, keep = list(np.argsort(-scores)), []
    while order:
        best = order.pop(0)
        keep.append(best)
        order = [i for i in order if box_iou(boxes[best], boxes[i]) <= threshold]
    return keep


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


class BlazePoseDetector:
    """ONNX Runtime on a letterboxed 224×224 copy of the frame (13–19 ms per frame on one busy core)."""

    def __init__(self, path: str | Path | None = None, *, min_score: float = 0.5, nms_iou: float = 0.3,
                 threads: int | None = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path is not None else default_detector_path()
        if not self.path.is_file():
            raise DetectorError(f"{self.path}: person detector file not found (reinstall squatpose)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for a damaged file
            raise DetectorError(f"{self.path}: cannot load the person detector ({error})") from error
        self.min_score, self.nms_iou = min_score, nms_iou
        self.anchors = anchors()

    def letterbox(self, image_rgb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """→ input `(1,224,224,3)` in [-1,1], scale (input px per image px), offset (input px)."""
        h, w = image_rgb.shape[:2]
        scale = INPUT_SIDE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        offset = np.array([(INPUT_SIDE - nw) // 2, (INPUT_SIDE - nh) // 2], np.float64)
        canvas = np.zeros((INPUT_SIDE, INPUT_SIDE, 3), np.uint8)
        canvas[int(offset[1]):int(offset[1]) + nh, int(offset[0]):int(offset[0]) + nw] = cv2.resize(
            image_rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        return (canvas.astype(np.float32) / 127.5 - 1.0)[None], scale, offset

    def __call__(self, image_rgb: np.ndarray) -> list[Detection]:
        batch, scale, offset = self.letterbox(image_rgb)
        regressors, logits = self.session.run(["regressors", "scores"], {"input": batch})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -50, 50)))
        keep = np.flatnonzero(scores >= self.min_score)
        if not len(keep):
            return []
        raw = regressors[0, keep]
        anchor_px = self.anchors[keep] * INPUT_SIDE
        face_centre = raw[:, 0:2] + anchor_px
        face = np.concatenate([face_centre - raw[:, 2:4] / 2, raw[:, 2:4]], axis=1)
        hips = raw[:, 4:6] + anchor_px
        radius = np.linalg.norm(raw[:, 6:8] + anchor_px - hips, axis=1)
        found = []
        for i in nms(face, scores[keep], self.nms_iou):
            centre = (hips[i] - offset) / scale
            r = float(radius[i] / scale)
            h = BODY_HEIGHT * r
            box = np.array([centre[0] - BODY_ASPECT * h / 2, centre[1] - h / 2, BODY_ASPECT * h, h])
            found.append(Detection(box, float(scores[keep][i]), centre, r))
        return found
