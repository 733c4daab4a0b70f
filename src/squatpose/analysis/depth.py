"""View-robust normalised squat depth from 2D joints: the leg-length estimators and the whole-clip
leg geometry; `causal_depth.py` computes the per-frame signal from them, frame by frame.

Main signal, per side: leg compression c = 1 - |hip - ankle| / L, with L the person's leg length
(a high percentile of thigh + shin while the feet stay in place). For a leg with equal thigh and
shin, c = 1 - sin(knee angle / 2) in 3D, so c is about 0 standing, 0.29 at 90 deg of knee flexion
and 0.45-0.55 with thighs parallel. Unlike the 2D knee angle it changes just as much in front and
back views as in side views, and it does not depend on camera roll or on where the person stands.
In side views it is averaged with the knee-angle estimate 1 - sin(angle / 2) (config weight).
With depth.use_3d, the reported depth (not the counted one) takes the 3D leg reconstruction's
hip-ankle compression where it is well posed (`depth_with_3d`): the same quantity measured in 3D,
so it no longer depends on the camera's yaw.
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


def leg_geometry(body: Body, fps: float, cfg: DepthConfig, moving: np.ndarray | None = None) -> LegGeometry:
    """Leg length per frame and leg compression for every frame, from the whole clip (the
    measures' refinement after the fact; the counted depth is causal_depth's).

    The leg length of a frame is the `leg_percentile` of the candidates within `leg_window_s`
    around it, inside the same still stretch (`moving`: (T,) feet-moving frames, which end a
    stretch; None: the feet never move): it follows slow changes of scale (zoom, shuffling
    closer) while a squat, which only shortens the 2D legs, leaves it alone."""
    samples = leg_samples(body)
    overall = _first_finite(np.stack([standing_length(c, cfg.leg_percentile) for c in samples]))
    moving = np.zeros(body.n_frames, bool) if moving is None else np.asarray(moving, bool)
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


def depth_with_3d(depth: DepthSignal, legs3d: Legs3D, body: Body) -> DepthSignal:
    """The reported depth with the 3D legs' compression wherever they are trusted (depth.use_3d):
    a refinement after the fact, the repetitions having been counted on `depth`."""
    lifted = Measure.from_sides("leg", legs3d.compression, body.conf("hip", "ankle"))
    use = np.isfinite(depth.depth) & np.isfinite(legs3d.compression).any(axis=1) & np.isfinite(lifted.value)
    return DepthSignal(np.where(use, lifted.value, depth.depth), np.where(use, lifted.conf, depth.conf),
                       depth.source, depth.knee_bent)
