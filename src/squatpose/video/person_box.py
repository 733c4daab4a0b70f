"""Finding a person box without a user-given one: OpenCV's people detector, then refinement by the model."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from squatpose.geometry import points_box

log = logging.getLogger(__name__)

# Lower-body crops in training use the tight joint box enlarged by this much on top of the usual padding.
JOINT_BOX_MARGIN = 1.15
_DETECT_MAX_SIDE = 640


def detect_people(image_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """OpenCV's built-in HOG people detector on a resized copy → [(box xywh, score)], best first.

    The copy's longer side is 640 px: large frames shrink for speed, small photos grow (up to 3×)
    because the detector's window is 64×128 px.
    """
    h, w = image_rgb.shape[:2]
    scale = min(_DETECT_MAX_SIDE / max(h, w), 3.0)
    small = cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
    if min(small.shape[:2]) < 128:
        return []
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), winStride=(8, 8),
                                          padding=(8, 8), scale=1.05)
    found = [(np.asarray(r, np.float64) / scale, float(s)) for r, s in zip(rects, np.ravel(weights))]
    # Prefer big, confident detections: the exercising person is usually the main subject.
    return sorted(found, key=lambda item: item[1] * np.sqrt(item[0][2] * item[0][3]), reverse=True)


def window_boxes(image_wh: tuple[int, int], aspect_wh: float = 0.75,
                 heights: tuple[float, ...] = (1.0, 0.65, 0.45)) -> np.ndarray:
    """Overlapping person-shaped windows `(N,4)` over the image, for finding someone the detector missed.

    The model itself scores each window (mean joint confidence); the best one is refined from its joints.
    """
    w, h = image_wh
    boxes = []
    for frac in heights:
        win_h = h * frac
        win_w = min(w, win_h * aspect_wh)
        xs = np.linspace(0, w - win_w, max(1, int(np.ceil(2 * (w - win_w) / win_w)) + 1))
        ys = np.linspace(0, h - win_h, max(1, int(np.ceil(2 * (h - win_h) / win_h)) + 1))
        boxes += [[x, y, win_w, win_h] for y in ys for x in xs]
    return np.asarray(boxes, np.float64)


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


def person_box_from_legs(xy: np.ndarray, score: np.ndarray, joint_names: tuple[str, ...], min_score: float,
                         torso_ratio: float = 0.8) -> np.ndarray | None:
    """A whole-person box `[x,y,w,h]` grown upward from the confident leg joints `(K,2)`.

    The model is most sure of itself on whole-person crops (the boxes it was mostly trained on), so a
    video tracker should not shrink to the legs: the box reaches `torso_ratio` leg lengths above the
    hips. Leg length = the longest confident thigh + shin; None without one whole confident leg.
    """
    box = box_from_joints(xy, score, min_score)
    if box is None:
        return None
    confident = np.asarray(score) >= min_score
    index = {name: i for i, name in enumerate(joint_names)}
    legs = []
    for side in ("left", "right"):
        chain = [index.get(f"{side}_{part}") for part in ("hip", "knee", "ankle")]
        if None not in chain and confident[chain].all():
            points = xy[chain]
            legs.append(np.linalg.norm(points[1] - points[0]) + np.linalg.norm(points[2] - points[1]))
    hips = [index[n] for n in ("left_hip", "right_hip") if n in index and confident[index[n]]]
    if not legs or not hips:
        return None  # a box of the legs alone would crop the person to their shins
    top = min(float(xy[hips, 1].min()) - torso_ratio * max(legs), box[1])
    return np.array([box[0], top, box[2], box[1] + box[3] - top])
