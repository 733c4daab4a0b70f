"""Random crop parameters (scale, rotation, shift, flip, lower-body crop) and colour jitter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from squatpose.geometry import box_from_joints, box_to_center_size
from squatpose.joints import LOWER6, JointSet
from squatpose.pose.training.config import AugmentConfig

if TYPE_CHECKING:
    from squatpose.pose.data.dataset import PersonRecord



@dataclass(frozen=True)
class CropParams:
    center: np.ndarray
    size_wh: np.ndarray
    rotation_deg: float
    flip: bool


def sample_crop(rng: np.random.Generator, record: PersonRecord, center: np.ndarray, size_wh: np.ndarray,
                joint_set: JointSet, aspect_wh: float, padding: float, cfg: AugmentConfig) -> CropParams:
    """Draw one random crop around a person.

    With `lower_body_prob` the crop is built around the labelled lower-body joints only, the kind of
    box a video tracker makes from the previous frame's legs, so the model learns both framings.
    """
    if rng.random() < cfg.lower_body_prob:
        names = [n for n in LOWER6 if n in joint_set.names]
        idx = [joint_set.index(n) for n in names]
        box = box_from_joints(record.keypoints[idx, :2], record.keypoints[idx, 2], min_score=0.5, min_joints=2)
        if box is not None and max(box[2], box[3]) > 4:
            center, size_wh = box_to_center_size(box, aspect_wh, padding)
    scale = rng.uniform(*cfg.scale_range)
    if cfg.small_person_prob and rng.random() < cfg.small_person_prob:  # no draw when off: old runs replay
        scale = rng.uniform(1.6, 2.4)
    shift = rng.uniform(-cfg.shift_frac, cfg.shift_frac, size=2) * size_wh
    rotation = float(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg)) if rng.random() < cfg.rotation_prob else 0.0
    flip = bool(rng.random() < cfg.flip_prob)
    return CropParams(center + shift, size_wh * scale, rotation, flip)


def color_jitter(crop_rgb: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Random brightness, contrast and saturation change of an RGB uint8 crop."""
    image = crop_rgb.astype(np.float32)
    brightness, contrast, saturation = 1.0 + rng.uniform(-amount, amount, size=3)
    gray = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
    image = gray + (image - gray) * saturation
    image = (image - gray.mean()) * contrast + gray.mean()
    return np.clip(image * brightness, 0, 255).astype(np.uint8)
