"""View-robust normalised squat depth from 2D joints.

Main signal, per side: leg compression c = 1 - |hip - ankle| / L, with L the person's leg length
(a high percentile of thigh + shin while the feet stay in place). For a leg with equal thigh and
shin, c = 1 - sin(knee angle / 2) in 3D, so c is about 0 standing, 0.29 at 90 deg of knee flexion
and 0.45-0.55 with thighs parallel. Unlike the 2D knee angle it changes just as much in front and
back views as in side views, and it does not depend on camera roll or on where the person stands.
In side views it is averaged with the knee-angle estimate 1 - sin(angle / 2) (config weight).
Where the 3D leg reconstruction (lift3d.py) is well posed, its hip-ankle compression replaces both:
it is the same quantity measured in 3D, so it no longer depends on the camera's yaw (in 2D the
backward hip shift and the forward knee travel show only in views that see them).
Without ankles, hip drop below the highest hip position (/ L) stands in (needs a still camera).
Frames where the feet travel (walking in or out) get no depth: squats keep the feet planted.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from squatpose.analysis.angles import Measure
from squatpose.analysis.body import Body
from squatpose.analysis.config import DepthConfig

SHIN_TO_LEG = 1.7  # leg / shin in 2D: 1st percentile on Penn Action (median 2.0)

if TYPE_CHECKING:  # lift3d uses this module's helpers
    from squatpose.analysis.lift3d import Legs3D


@dataclass(frozen=True)
class LegGeometry:
    """leg_length: (T, 2) pixels per side (per still segment); compression: (T, 2) leg-distance
    depth per side; moving: (T,) feet moving; segment_id: (T,) index of the still segment, -1 while
    moving."""

    leg_length: np.ndarray
    compression: np.ndarray
    moving: np.ndarray
    segment_id: np.ndarray


@dataclass(frozen=True)
class DepthSignal:
    """depth: (T,) 0 = standing, ~0.5 = thighs parallel, NaN where unknown; conf: (T,) joint
    confidence behind it; source: (T,) 'legs', 'hips' (fallback) or '' (none); knee_bent: (T,)
    a knee visibly bent (or the knees are not measurable), see `knee_bent`."""

    depth: np.ndarray
    conf: np.ndarray
    source: np.ndarray
    knee_bent: np.ndarray


def nanpercentile(x: np.ndarray, q: float, min_count: int = 3) -> np.ndarray:
    """Percentile over axis 0 ignoring NaN; NaN where fewer than `min_count` values."""
    count = np.isfinite(x).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = np.nanpercentile(x, q, axis=0)
    return np.where(count >= min_count, p, np.nan)


def standing_length(lengths: np.ndarray, percentile: float) -> np.ndarray:
    """The standing 2D length of a leg or segment over frames (axis 0): its `leg_percentile`
    (config; 85). The one leg-length estimator of the analysis: a squat only shortens the 2D legs, so
    a high percentile is the standing length, and not the maximum or the 95th, which pose zig-zags at a
    deep bottom inflate."""
    return nanpercentile(lengths, percentile)


def leg_samples(body: Body) -> np.ndarray:
    """(2, T, 2) per-frame leg length candidates per side, in order of preference: the longest of
    the 2D lower bounds thigh + shin, hip-ankle distance and SHIN_TO_LEG x shin (the shin barely
    shortens in a squat, so a clip that never shows straight legs still gets a fair length), then
    twice the thigh (NaN where the joints are missing)."""
    thigh = np.linalg.norm(body.knee - body.hip, axis=-1)
    shin = np.linalg.norm(body.ankle - body.knee, axis=-1)
    bounds = np.stack([thigh + shin, np.linalg.norm(body.ankle - body.hip, axis=-1), SHIN_TO_LEG * shin])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN
        longest = np.nanmax(bounds, axis=0)
    return np.stack([longest, 2 * thigh])


def _first_finite(candidates: np.ndarray) -> np.ndarray:
    """(C, ...) -> (...): the first candidate that is finite, NaN if none is."""
    out = candidates[-1].copy()
    for c in candidates[-2::-1]:
        out = np.where(np.isfinite(c), c, out)
    return out


def _rolling_percentile(x: np.ndarray, q: float, half: int, step: int) -> np.ndarray:
    """(n, S) percentile of x over frames [t - half, t + half], evaluated every `step` frames and
    linearly interpolated in between; NaN for columns without enough values."""
    n = len(x)
    windows = sliding_window_view(np.pad(x, ((half, half), (0, 0)), constant_values=np.nan),
                                  2 * half + 1, axis=0)  # (n, S, 2 * half + 1)
    at = np.unique(np.r_[np.arange(0, n, step), n - 1])
    values = nanpercentile(np.moveaxis(windows[at], -1, 0), q)  # (len(at), S)
    out = np.full(x.shape, np.nan)
    for col in range(x.shape[1]):
        ok = np.isfinite(values[:, col])
        if ok.any():
            out[:, col] = np.interp(np.arange(n), at[ok], values[ok, col])
    return out


def _half_window_means(x: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of x (T, D) over [t-h, t) and [t, t+h) ignoring NaN rows; returns before, after
    (T, D) and whether both halves have at least h/2 valid rows (T,)."""
    valid = np.isfinite(x).all(axis=-1)
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(np.where(valid[:, None], x, 0), 0)])
    ccnt = np.concatenate([[0], np.cumsum(valid)])
    t = np.arange(len(x))
    lo, hi = np.maximum(t - h, 0), np.minimum(t + h, len(x))
    n_before, n_after = ccnt[t] - ccnt[lo], ccnt[hi] - ccnt[t]
    with np.errstate(invalid="ignore", divide="ignore"):
        before = (csum[t] - csum[lo]) / n_before[:, None]
        after = (csum[hi] - csum[t]) / n_after[:, None]
    return before, after, (n_before >= max(1, h // 2)) & (n_after >= max(1, h // 2))


def feet_moving(ankle: np.ndarray, leg_px: float, fps: float, cfg: DepthConfig) -> np.ndarray:
    """(T,) True where both feet move: the midpoint of the ankles and each ankle by itself shift more
    than `walk_displacement` leg lengths between the two halves of a `walk_window_s` window centred on
    the frame (frames where both ankles are seen). ankle: (T, 2, 2).

    The midpoint barely moves when a pose model swaps left and right or one ankle wobbles while hidden
    at the bottom of a squat; requiring each ankle to move too leaves out one foot lifted and put back
    (a knee raise, a step-up, a shuffle), which moves the midpoint by half its lift. Walking moves both."""
    h = max(1, int(round(cfg.walk_window_s * fps / 2)))
    if not np.isfinite(leg_px):
        return np.zeros(len(ankle), dtype=bool)
    both = np.isfinite(ankle).all(axis=-1).all(axis=-1)
    seen = np.where(both[:, None, None], ankle, np.nan)
    limit = cfg.walk_displacement * leg_px
    before, after, ok = _half_window_means(seen.mean(axis=1), h)
    moving = ok & (np.linalg.norm(after - before, axis=-1) > limit)
    for side in range(seen.shape[1]):
        before, after, _ = _half_window_means(seen[:, side], h)
        moving &= np.linalg.norm(after - before, axis=-1) > limit
    return moving


def leg_geometry(body: Body, fps: float, cfg: DepthConfig) -> LegGeometry:
    """Walking detection, leg length per frame and leg compression for every frame.

    The leg length of a frame is the `leg_percentile` of the candidates within `leg_window_s`
    around it, inside the same still stretch: it follows slow changes of scale (zoom, shuffling
    closer) while a squat, which only shortens the 2D legs, leaves it alone."""
    samples = leg_samples(body)
    overall = _first_finite(np.stack([standing_length(c, cfg.leg_percentile) for c in samples]))
    finite = overall[np.isfinite(overall)]
    moving = feet_moving(body.ankle, float(finite.max()) if finite.size else float("nan"), fps, cfg)
    still = ~moving
    first = still & ~np.concatenate([[False], still[:-1]])
    segment_id = np.where(still, np.cumsum(first) - 1, -1)
    half = max(1, int(round(cfg.leg_window_s * fps)))
    step = max(1, int(round(fps / 10)))
    length = np.full((body.n_frames, 2), np.nan)
    for seg in range(int(first.sum())):
        frames = segment_id == seg
        rolled = np.stack([_rolling_percentile(c[frames], cfg.leg_percentile, half, step)
                           for c in samples])
        length[frames] = _first_finite(np.concatenate([rolled, np.broadcast_to(
            overall, (1, int(frames.sum()), 2))]))
    comp = 1.0 - np.linalg.norm(body.hip - body.ankle, axis=-1) / length
    return LegGeometry(length, comp, moving, segment_id)


def _hip_drop(body: Body, geom: LegGeometry) -> np.ndarray:
    """(T, 2) drop of each hip below its highest position in the segment (5th pct of y) / L."""
    drop = np.full((body.n_frames, 2), np.nan)
    for seg in range(int(geom.segment_id.max(initial=-1)) + 1):
        frames = geom.segment_id == seg
        top = nanpercentile(body.hip[frames, :, 1], 5)
        drop[frames] = (body.hip[frames, :, 1] - top) / geom.leg_length[frames]
    return drop


def knee_bent(body: Body, knee_angle: Measure, cfg: DepthConfig) -> np.ndarray:
    """(T,) True where one knee is clearly and the other at least somewhat bent in 2D (True if none is
    measurable).

    Scale-free, so a person who only changes size in the image (walking towards or away from the
    camera) never looks bent: side-like views show a small 2D knee angle, front-like views a thigh
    that is short relative to the shin (it points at the camera). Both legs bend in a squat; in
    walking one leg is always nearly straight."""
    ratio = np.linalg.norm(body.knee - body.hip, axis=-1) / np.linalg.norm(body.ankle - body.knee,
                                                                         axis=-1)
    standing = standing_length(ratio, cfg.leg_percentile)
    with np.errstate(invalid="ignore"):
        bent = (knee_angle.lr <= cfg.bend_knee_angle) | (ratio <= cfg.bend_thigh_ratio * standing)
        # The second leg need only be somewhat bent: a pose model often straightens a hidden leg.
        some = (knee_angle.lr <= cfg.bend_other_knee_angle) | (ratio <= cfg.bend_other_thigh_ratio * standing)
    measurable = np.isfinite(knee_angle.lr) | np.isfinite(ratio)
    one_clearly = (bent & measurable).any(axis=1) | ~measurable.any(axis=1)
    return one_clearly & (some | ~measurable).all(axis=1)


def depth_signal(body: Body, geom: LegGeometry, knee_angle: Measure, side_view: bool,
                 cfg: DepthConfig, legs3d: Legs3D | None = None) -> DepthSignal:
    """Combine leg compression (and, in side views, the knee angle; where trusted, the 3D
    compression) into one depth per frame."""
    legs = geom.compression
    if side_view and cfg.knee_weight_side > 0:
        knee_c = 1.0 - np.sin(np.radians(knee_angle.lr) / 2)
        both = np.isfinite(legs) & np.isfinite(knee_c)
        mixed = (1 - cfg.knee_weight_side) * legs + cfg.knee_weight_side * knee_c
        legs = np.where(both, mixed, np.where(np.isfinite(legs), legs, knee_c))
    if legs3d is not None:  # one source per frame: a 3D side beside a 2D side would jump
        legs = np.where(np.isfinite(legs3d.compression).any(axis=1, keepdims=True), legs3d.compression, legs)
    leg_m = Measure.from_sides("leg", legs, body.conf("hip", "ankle"))
    hip_m = Measure.from_sides("leg", _hip_drop(body, geom), body.score_of("hip"))
    use_legs = np.isfinite(leg_m.value)
    depth = np.where(use_legs, leg_m.value, hip_m.value)
    conf = np.where(use_legs, leg_m.conf, hip_m.conf)
    source = np.where(use_legs, "legs", np.where(np.isfinite(hip_m.value), "hips", ""))
    depth[geom.moving] = np.nan
    conf[geom.moving] = 0.0
    source[geom.moving] = ""
    return DepthSignal(depth, np.where(np.isfinite(depth), conf, 0.0), source,
                       knee_bent(body, knee_angle, cfg))
