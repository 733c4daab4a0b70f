"""Person boxes, crop affine transforms, and the one crop → normalise step of training and inference.

Pixel convention: pixel centres sit at integer coordinates, so pixel i spans [i - 0.5, i + 0.5].
A crop of `size_wh` image pixels around `center` maps onto the network input so that the crop's
edges land on the input's outer pixel edges (-0.5 and w - 0.5). OpenCV's `warpAffine` uses the same
convention, so points and images transform identically.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

# Crop size / person box size; checkpoints record the padding they were trained with (older ones: this).
DEFAULT_BOX_PADDING = 1.25


MAX_BOX_TO_FRAME = 2.0  # a person box more than twice the frame's width or height is a mistake


def box_problem(box: Sequence[float], frame_wh: tuple[int, int] | None) -> str | None:
    """What is wrong with a user's person box [x, y, w, h] for a frame of `frame_wh` pixels, or None:
    four finite numbers, a positive width and height and (when the frame size is given) overlapping the
    frame, at most MAX_BOX_TO_FRAME times its size."""
    if len(box) != 4:
        return f"the box must be four numbers x,y,w,h, got {len(box)}"
    try:
        x, y, w, h = (float(v) for v in box)
    except OverflowError:  # an integer beyond the float range
        return "the box must hold finite numbers"
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return "the box must hold finite numbers"
    if w <= 0 or h <= 0:
        return f"the box must have a positive width and height, got {w:g} × {h:g}"
    if frame_wh is None:
        return None
    width, height = frame_wh
    if w > MAX_BOX_TO_FRAME * width or h > MAX_BOX_TO_FRAME * height:
        return (f"the box {x:g},{y:g},{w:g},{h:g} is more than {MAX_BOX_TO_FRAME:g} times the size of the "
                f"{width}×{height} frame")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return f"the box {x:g},{y:g},{w:g},{h:g} lies outside the {width}×{height} frame"
    return None


def box_to_center_size(box_xywh: np.ndarray, aspect_wh: float, padding: float = DEFAULT_BOX_PADDING
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Box `[x, y, w, h]` → centre `(2,)` and crop size `(2,)` (w, h) in image pixels.

    The box is first widened or heightened (never shrunk, never stretched) to the input's aspect
    ratio `w / h`, then enlarged by `padding`. Nothing is clipped at the image border: the warp
    fills outside pixels, so a person at the border keeps the true aspect and position.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"box must have positive finite size, got {list(box_xywh)}")
    center = np.array([x + w / 2.0, y + h / 2.0], dtype=np.float64)
    if w > aspect_wh * h:
        h = w / aspect_wh
    else:
        w = h * aspect_wh
    return center, np.array([w * padding, h * padding], dtype=np.float64)


def box_crop_matrix(box_xywh: np.ndarray, input_wh: tuple[int, int], padding: float) -> np.ndarray:
    """Image → crop-input matrix `(2,3)` of the un-augmented crop around a person box `[x, y, w, h]`."""
    center, size = box_to_center_size(box_xywh, input_wh[0] / input_wh[1], padding)
    return crop_affine(center, size, input_wh)


def points_box(points: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """Tight box `[x, y, w, h]` around the valid points `(K,2)`; None with fewer than 2 points."""
    pts = np.asarray(points)[np.asarray(valid, bool)]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], dtype=np.float64)


# Lower-body crops in training use the tight joint box enlarged by this much on top of the usual padding.
JOINT_BOX_MARGIN = 1.15


def box_from_joints(xy: np.ndarray, score: np.ndarray, min_score: float,
                    min_joints: int = 3) -> np.ndarray | None:
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


def crop_affine(center: np.ndarray, size_wh: np.ndarray, out_wh: tuple[int, int],
                rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """2×3 matrix mapping image pixels to crop-input pixels.

    The image content is rotated by `rotation_deg` (counter-clockwise as seen) about `center`;
    `flip` mirrors the crop horizontally (x_in → w - 1 - x_in).
    """
    out_w, out_h = out_wh
    scale = out_w / float(size_wh[0])
    theta = math.radians(rotation_deg)
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    # Image y points down, so a visually counter-clockwise rotation uses +sin on x from y.
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = np.array([out_w / 2.0 - 0.5, out_h / 2.0 - 0.5]) - linear @ np.asarray(center, float)
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    if flip:
        matrix = np.array([[-1.0, 0.0, out_w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine matrix."""
    full = np.vstack([np.asarray(matrix, float), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Transform points `(..., 2)` by a 2×3 matrix (or a stack `(..., 2, 3)` broadcast over points)."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.einsum("...ij,...kj->...ki", matrix[..., :2], points) + matrix[..., None, :, 2]


def warp_image(image: np.ndarray, matrix: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """Warp an image with the image→crop matrix; pixels outside the image become black."""
    return cv2.warpAffine(image, np.asarray(matrix, np.float64), (int(out_wh[0]), int(out_wh[1])),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_normalized(image_rgb: np.ndarray, matrix: np.ndarray, input_wh: tuple[int, int],
                    mean: Sequence[float], std: Sequence[float], *,
                    adjust: Callable[[np.ndarray], np.ndarray] | None = None,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Image `(H,W,3)` RGB uint8 → model input `(3,h,w)` float32: warp, then `(rgb - mean) / std`.

    Training, evaluation and inference all call this, so the numbers evaluation reports are those of
    the inference path. `adjust` changes the uint8 crop before normalising (training's colour jitter);
    `out` is a `(3,h,w)` float32 array to fill (the predictor's reused batch buffer).
    """
    crop = warp_image(image_rgb, matrix, input_wh)
    if adjust is not None:
        crop = adjust(crop)
    normalised = (crop.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    chw = normalised.transpose(2, 0, 1)
    if out is None:
        return np.ascontiguousarray(chw)
    out[...] = chw
    return out
