"""Occlusion and appearance augmentation for gym footage, applied to a training crop (RGB uint8).

Aimed at the failures seen on real gym clips: rack uprights, bars, plates and benches in front of the
legs; other objects; dark, low-contrast leggings; dim rooms; motion blur; the narrow frame of a phone
held upright. Labels stay where they are: the model must learn where a hidden joint is.
Every function draws its randomness from the generator it is given (reproducible, resumable runs).
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from squatpose.pose.training.config import AugmentConfig

METAL = ((40, 40, 42), (90, 92, 96), (150, 150, 155), (25, 30, 70), (140, 30, 30), (20, 20, 20))


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(METAL[rng.integers(len(METAL))], np.float64)
    return tuple(int(v) for v in np.clip(base * rng.uniform(0.7, 1.3), 0, 255))


def _anchor(legs_xy: np.ndarray, rng: np.random.Generator, wh: tuple[int, int]) -> np.ndarray:
    """A point on the legs (a random labelled leg joint, jittered), or anywhere in the crop without one."""
    if len(legs_xy):
        return legs_xy[rng.integers(len(legs_xy))] + rng.normal(0, 0.04 * wh[1], 2)
    return rng.uniform((0, 0), wh)


def gym_occluder(crop: np.ndarray, legs_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one synthetic gym object over the legs: an upright, a bar, a plate or a bench."""
    h, w = crop.shape[:2]
    x, y = _anchor(legs_xy, rng, (w, h))
    out = crop.copy()
    kind = rng.integers(4)
    colour = _colour(rng)
    if kind == 0:    # rack upright: a vertical post through the whole crop
        half = rng.uniform(0.03, 0.07) * w
        cv2.rectangle(out, (int(x - half), 0), (int(x + half), h), colour, -1)
        cv2.line(out, (int(x - half * 0.3), 0), (int(x - half * 0.3), h), tuple(min(255, c + 60) for c in colour), 1)
    elif kind == 1:  # barbell or safety bar: a thin horizontal bar across
        half = rng.uniform(0.01, 0.025) * h
        cv2.rectangle(out, (0, int(y - half)), (w, int(y + half)), colour, -1)
    elif kind == 2:  # plate: a disc with a darker rim and a hub
        radius = int(rng.uniform(0.12, 0.3) * h)
        cv2.circle(out, (int(x), int(y)), radius, colour, -1)
        cv2.circle(out, (int(x), int(y)), int(radius * 0.85), tuple(int(c * 0.6) for c in colour), max(1, radius // 12))
        cv2.circle(out, (int(x), int(y)), max(2, radius // 6), (170, 170, 175), -1)
    else:            # bench or box: a wide block over the shins or knees
        bw, bh = rng.uniform(0.4, 1.0) * w, rng.uniform(0.08, 0.2) * h
        cv2.rectangle(out, (int(x - bw / 2), int(y - bh / 2)), (int(x + bw / 2), int(y + bh / 2)), colour, -1)
    return out


def paste_patch(crop: np.ndarray, source: np.ndarray, legs_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cover part of the legs with a random rectangle of another training image (a real object)."""
    h, w = crop.shape[:2]
    pw, ph = int(rng.uniform(0.2, 0.45) * w), int(rng.uniform(0.1, 0.35) * h)
    sh, sw = source.shape[:2]
    if sw < 8 or sh < 8:
        return crop
    sx, sy = rng.integers(0, max(1, sw - pw)), rng.integers(0, max(1, sh - ph))
    patch = cv2.resize(source[sy:sy + ph, sx:sx + pw], (pw, ph))
    x, y = _anchor(legs_xy, rng, (w, h))
    x0, y0 = int(np.clip(x - pw / 2, 0, w - pw)), int(np.clip(y - ph / 2, 0, h - ph))
    out = crop.copy()
    out[y0:y0 + ph, x0:x0 + pw] = patch
    return out


def dark_legs(crop: np.ndarray, chains_xy: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Darken the legs toward a near-black, low-contrast fabric (black leggings), along the leg chains."""
    h, w = crop.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    thickness = max(3, int(rng.uniform(0.06, 0.1) * w))
    for chain in chains_xy:
        cv2.polylines(mask, [np.round(chain).astype(np.int32)], False, 255, thickness)
    if not mask.any():
        return crop
    mask = cv2.GaussianBlur(mask, (0, 0), thickness / 4).astype(np.float32)[..., None] / 255
    fabric = crop.astype(np.float32) * rng.uniform(0.1, 0.3) + rng.uniform(10, 30)
    return (crop * (1 - mask) + fabric * mask).astype(np.uint8)


def low_light(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dim room: darker mid-tones (gamma), a colour cast and sensor noise."""
    image = (crop.astype(np.float32) / 255) ** rng.uniform(1.5, 2.6) * 255
    image = image * rng.uniform(0.85, 1.15, 3) + rng.normal(0, rng.uniform(3, 10), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def motion_blur(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A linear blur of 5–13 px at a random angle (a fast movement at a long exposure)."""
    length = int(rng.integers(5, 14))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1.0 / length
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(crop, -1, kernel / max(float(kernel.sum()), 1e-6))


def portrait_cut(crop: np.ndarray, points_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Black side bands as a portrait video's frame edges make them, mostly outside the person."""
    h, w = crop.shape[:2]
    lo, hi = (points_xy[:, 0].min(), points_xy[:, 0].max()) if len(points_xy) else (w * 0.3, w * 0.7)
    left = int(np.clip(lo - rng.uniform(0.0, 0.15) * w, 0, w))
    right = int(np.clip(hi + rng.uniform(0.0, 0.15) * w, left, w))
    out = crop.copy()
    out[:, :left] = 0
    out[:, right:] = 0
    return out


def appearance_adjust(cfg: AugmentConfig, rng: np.random.Generator, points_xy: np.ndarray,
                      chains_xy: list[np.ndarray], other_image: Callable[[], np.ndarray]
                      ) -> Callable[[np.ndarray], np.ndarray] | None:
    """The crop adjustment drawn for one sample (None when nothing was drawn).

    `points_xy` are the labelled joints in crop px, `chains_xy` the labelled leg chains (hip, knee, ankle),
    `other_image` reads another training image for a real-object patch (only called when one is drawn).
    """
    legs = np.concatenate(chains_xy) if chains_xy else np.zeros((0, 2))
    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    if rng.random() < cfg.dark_legs_prob:
        steps.append(lambda c: dark_legs(c, chains_xy, rng))
    if rng.random() < cfg.occluder_prob:
        steps.append(lambda c: gym_occluder(c, legs, rng))
    if rng.random() < cfg.patch_prob:
        source = other_image()
        steps.append(lambda c: paste_patch(c, source, legs, rng))
    if rng.random() < cfg.portrait_prob:
        steps.append(lambda c: portrait_cut(c, points_xy, rng))
    if rng.random() < cfg.low_light_prob:
        steps.append(lambda c: low_light(c, rng))
    if rng.random() < cfg.blur_prob:
        steps.append(lambda c: motion_blur(c, rng))
    return chain(steps)


def chain(steps: list[Callable[[np.ndarray], np.ndarray]]) -> Callable[[np.ndarray], np.ndarray] | None:
    """One crop adjustment applying `steps` in order (None when there are none)."""
    if not steps:
        return None

    def adjust(crop: np.ndarray) -> np.ndarray:
        for step in steps:
            crop = step(crop)
        return crop
    return adjust
