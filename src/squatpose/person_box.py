"""Finding a person box without a user-given one: OpenCV's people detector, then refinement by the model."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from .geometry import points_box

log = logging.getLogger(__name__)

# Lower-body crops in training use the tight joint box enlarged by this much on top of the usual padding.
JOINT_BOX_MARGIN = 1.15
_DETECT_MAX_SIDE = 640


def detect_people(image_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """OpenCV's built-in HOG people detector on a downscaled copy → [(box xywh, score)], best first."""
    h, w = image_rgb.shape[:2]
    scale = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    small = cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale)))) if scale < 1 else image_rgb
    if min(small.shape[:2]) < 128:
        return []
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), winStride=(8, 8),
                                          padding=(8, 8), scale=1.05)
    found = [(np.asarray(r, np.float64) / scale, float(s)) for r, s in zip(rects, np.ravel(weights))]
    # Prefer big, confident detections: the exercising person is usually the main subject.
    return sorted(found, key=lambda item: item[1] * np.sqrt(item[0][2] * item[0][3]), reverse=True)


def whole_image_box(image_rgb: np.ndarray) -> np.ndarray:
    h, w = image_rgb.shape[:2]
    return np.array([0.0, 0.0, float(w), float(h)])


def box_from_joints(xy: np.ndarray, score: np.ndarray, min_score: float, min_joints: int = 3) -> np.ndarray | None:
    """Box around confident joints `(K,2)`, enlarged as in training's lower-body crops; None if too few."""
    confident = np.asarray(score) >= min_score
    if confident.sum() < min_joints:
        return None
    box = points_box(xy, confident)
    if box is None:
        return None
    side = max(box[2], box[3], 8.0)
    w, h = max(box[2], 0.25 * side) * JOINT_BOX_MARGIN, max(box[3], 0.25 * side) * JOINT_BOX_MARGIN
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return np.array([cx - w / 2, cy - h / 2, w, h])
