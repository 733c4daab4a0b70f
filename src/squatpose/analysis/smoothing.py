"""Confidence-gated One Euro smoothing of joint tracks, with a left/right leg consistency check.

One Euro filter: Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for
Noisy Input in Interactive Systems", CHI 2012. Each point is low-pass filtered with a cutoff that
grows with its (filtered) speed: cutoff = min_cutoff + beta * |speed|. Slow motion is smoothed
hard (little jitter), fast motion lightly (little lag).

Positions are filtered in units of the person's leg length (see `leg_scale`), so `beta` does not
depend on image resolution or distance to the camera: speed is in leg lengths per second.

Gating: a joint whose score is below `min_score` is not fed to the filter; its last estimate is
held for up to `max_hold_frames` frames (score decaying linearly), then it becomes missing and its
filter restarts from the next confident observation.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from squatpose.analysis.config import MIN_JOINT_SCORE, DepthConfig, SmoothingParams
from squatpose.analysis.depth import standing_length
from squatpose.analysis.running import RecentWindow, column_percentile
from squatpose.analysis.tracks import JointTracks
from squatpose.joints import LEG_PARTS, leg_chains

log = logging.getLogger(__name__)

SCALE_WINDOW_S = 8.0  # the running leg scale looks this far back ...
SCALE_INTERVAL_S = 0.1  # ... at ten samples a second


@dataclass(frozen=True)
class SmoothResult:
    """tracks: smoothed (T, K); held: (T, K) estimate held (not observed) at that frame;
    swapped: (T,) legs were relabelled left<->right; scale: pixels per leg length used."""

    tracks: JointTracks
    held: np.ndarray
    swapped: np.ndarray
    scale: float


def _alpha(cutoff: np.ndarray, te: np.ndarray) -> np.ndarray:
    """Exponential smoothing factor for a first-order low-pass at `cutoff` Hz, step `te` s."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / te)


class OneEuroFilter:
    """One Euro filter over K points of dimension D, advanced one frame at a time.

    State (per point): estimate (K, D), filtered velocity (K, D), time of the last observation,
    alive flag and number of frames held since the last observation. `scale` (units per leg length)
    puts the speed in leg lengths per second, so that `beta` means the same at any image size.
    """

    def __init__(self, n_points: int, dims: int, params: SmoothingParams) -> None:
        self.params = params
        self.est = np.full((n_points, dims), np.nan)
        self.vel = np.zeros((n_points, dims))
        self.t_last = np.zeros(n_points)
        self.alive = np.zeros(n_points, dtype=bool)
        self.hold = np.zeros(n_points, dtype=np.int64)

    def step(self, t: float, x: np.ndarray, ok: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Feed observations x (K, D) where ok (K,) at time t; returns a copy of the estimate."""
        p = self.params
        new = ok & ~self.alive
        upd = ok & self.alive
        if upd.any():
            te = np.maximum(t - self.t_last[upd], 1e-6)[:, None]
            raw_vel = (x[upd] - self.est[upd]) / te
            self.vel[upd] += _alpha(np.float64(p.d_cutoff), te) * (raw_vel - self.vel[upd])
            cutoff = p.min_cutoff + p.beta * np.linalg.norm(self.vel[upd], axis=-1, keepdims=True) / scale
            self.est[upd] += _alpha(cutoff, te) * (x[upd] - self.est[upd])
        self.est[new] = x[new]
        self.vel[new] = 0.0
        self.alive |= new
        self.t_last[ok] = t
        self.hold[ok] = 0
        gap = ~ok & self.alive
        self.hold[gap] += 1
        expired = gap & (self.hold > p.max_hold_frames)
        self.alive[expired] = False
        self.est[expired] = np.nan
        return self.est.copy()


def leg_pairs(joint_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Indices (left, right) of the leg joints present on both sides, e.g. left_knee/right_knee."""
    pairs = [(joint_names.index(f"left_{p}"), joint_names.index(f"right_{p}")) for p in LEG_PARTS
             if {f"left_{p}", f"right_{p}"} <= set(joint_names)]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def leg_scale(tracks: JointTracks, min_score: float,
              percentile: float = DepthConfig.leg_percentile) -> float:
    """Leg length in pixels: the standing length (`depth.standing_length`) of thigh + shin over
    confident frames.

    Falls back to the same percentile of the confident joints' bounding-box diagonal, then to the
    frame height, then 1.
    """
    xy = np.where((tracks.score >= min_score)[..., None], tracks.xy, np.nan)
    sides = list(leg_chains(tracks.joint_names).values())
    if sides:
        leg = xy[:, np.array(sides)]  # (T, S, 3, 2)
        length = np.linalg.norm(np.diff(leg, axis=2), axis=-1).sum(axis=2)
        if np.isfinite(length).sum() >= 3:
            return float(standing_length(length.reshape(-1), percentile))
    rows = np.isfinite(xy[..., 0]).sum(axis=1) >= 2
    if rows.sum() >= 3:
        span = np.nanmax(xy[rows], axis=1) - np.nanmin(xy[rows], axis=1)
        return float(standing_length(np.linalg.norm(span, axis=-1), percentile))
    return float(tracks.frame_wh[1]) if tracks.frame_wh else 1.0


def _should_swap(obs: np.ndarray, ok: np.ndarray, est: np.ndarray, alive: np.ndarray,
                 left: np.ndarray, right: np.ndarray, params: SmoothingParams) -> bool:
    """Compare keeping vs swapping left/right leg labels against the previous estimate.

    obs, est: (K, 2) in leg lengths; ok, alive: (K,). Only pairs seen on both sides now and
    estimated on both sides before take part.
    """
    both = ok[left] & ok[right] & alive[left] & alive[right]
    if not both.any():
        return False
    lo, ro, le, re = obs[left][both], obs[right][both], est[left][both], est[right][both]
    keep = np.linalg.norm(lo - le, axis=-1).sum() + np.linalg.norm(ro - re, axis=-1).sum()
    swap = np.linalg.norm(lo - re, axis=-1).sum() + np.linalg.norm(ro - le, axis=-1).sum()
    per_joint = keep / (2 * both.sum())
    return bool(per_joint > params.swap_min_dist and swap < params.swap_ratio * keep)


class RunningScale:
    """Pixels per leg length from the recent past only: the `percentile` of the confident 2D thigh +
    shin lengths (both legs) over the last `window_s` seconds, sampled SCALE_INTERVAL_S apart; before
    any leg is seen, the same of the confident joints' bounding-box diagonal, then the frame height,
    then 1."""

    def __init__(self, joint_names: tuple[str, ...], min_score: float, percentile: float,
                 frame_height: float | None = None, window_s: float = SCALE_WINDOW_S) -> None:
        self.chains = np.array(list(leg_chains(joint_names).values()), dtype=np.int64).reshape(-1, 3)
        self.min_score, self.percentile = min_score, percentile
        self.fallback = float(frame_height) if frame_height else 1.0
        self.window = RecentWindow(window_s, len(self.chains) + 1, min_interval_s=SCALE_INTERVAL_S)
        self.last = self.fallback

    def update(self, t: float, xy: np.ndarray, score: np.ndarray) -> float:
        """Add frame `t` (xy (K, 2) pixels, score (K,)); returns the scale to use for it."""
        if not self.window.due(t):
            return self.last
        seen = np.where((score >= self.min_score)[:, None], xy, np.nan)
        legs = np.linalg.norm(np.diff(seen[self.chains], axis=1), axis=-1).sum(axis=1)
        rows = np.isfinite(seen[:, 0])
        diag = (np.linalg.norm(np.nanmax(seen[rows], axis=0) - np.nanmin(seen[rows], axis=0))
                if rows.sum() >= 2 else np.nan)
        self.window.push(t, np.r_[legs, diag])
        recent = self.window.recent(t)
        self.last = self.fallback
        for values in (recent[:, :-1].reshape(-1, 1), recent[:, -1:]):
            value = column_percentile(values, self.percentile, min_count=1)[0]
            if value > 0:
                self.last = float(value)
                break
        return self.last


class StreamSmoother:
    """Confidence-gated One Euro smoothing with the left/right leg check, one frame at a time and
    causal (each frame's output depends on earlier frames only): the live engine and `smooth_tracks`
    both run it. `scale` fixes the pixels per leg length (else `RunningScale`)."""

    def __init__(self, joint_names: tuple[str, ...], params: SmoothingParams,
                 leg_percentile: float = DepthConfig.leg_percentile, scale: float | None = None,
                 frame_height: float | None = None, min_score: float = MIN_JOINT_SCORE) -> None:
        self.params, self.min_score = params, min_score
        self.fixed_scale = float(scale) if scale else None
        self.running = RunningScale(joint_names, min_score, leg_percentile, frame_height)
        self.left, self.right = leg_pairs(joint_names)
        self.perm = np.arange(len(joint_names))
        self.perm[self.left], self.perm[self.right] = self.right, self.left
        self.filter = OneEuroFilter(len(joint_names), 2, params)
        self.last_score = np.zeros(len(joint_names))

    def step(self, t: float, xy: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Frame at time `t` s: xy (K, 2) pixels, score (K,) → smoothed xy (K, 2), scores (K,) (held
        estimates decay linearly, missing ones 0), held (K,) and whether the legs were relabelled."""
        p, filt = self.params, self.filter
        scale = self.fixed_scale or self.running.update(t, xy, score)
        ok = (score >= self.min_score) & (score > 0)
        swapped = bool(p.swap_ratio > 0 and self.left.size and _should_swap(
            xy / scale, ok, filt.est / scale, filt.alive, self.left, self.right, p))
        if swapped:
            xy, ok, score = xy[self.perm], ok[self.perm], score[self.perm]
        est = filt.step(t, xy, ok, scale)
        self.last_score = np.where(ok, score, self.last_score)
        held = filt.alive & ~ok
        out_score = np.where(ok, score, 0.0)
        out_score[held] = self.last_score[held] * (1 - filt.hold[held] / (p.max_hold_frames + 1))
        return est, out_score, held, swapped


def smooth_tracks(tracks: JointTracks, params: SmoothingParams, scale: float | None = None,
                  leg_percentile: float = DepthConfig.leg_percentile,
                  min_score: float = MIN_JOINT_SCORE) -> SmoothResult:
    """`StreamSmoother` over all frames of `tracks` (T, K, 2): the same causal smoothing as the live
    engine (joints under `min_score` are not fed). scale: fixed pixels per leg length for the filter
    units (default: the running estimate); SmoothResult.scale is the median of the scales used."""
    smoother = StreamSmoother(tracks.joint_names, params, leg_percentile, scale,
                              tracks.frame_wh[1] if tracks.frame_wh else None, min_score)
    est = np.full_like(tracks.xy, np.nan)
    score = np.zeros_like(tracks.score)
    held = np.zeros(score.shape, dtype=bool)
    swapped = np.zeros(tracks.n_frames, dtype=bool)
    scales = np.zeros(tracks.n_frames)
    for t in range(tracks.n_frames):
        est[t], score[t], held[t], swapped[t] = smoother.step(t / tracks.fps, tracks.xy[t], tracks.score[t])
        scales[t] = smoother.fixed_scale or smoother.running.last
    if swapped.any():
        log.info("legs relabelled left<->right in %d of %d frames", swapped.sum(), tracks.n_frames)
    out = JointTracks(tracks.fps, tracks.joint_names, est, score, tracks.frame_wh)
    return SmoothResult(out, held, swapped, float(np.median(scales)) if len(scales) else 1.0)


def second_difference_jitter(xy: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over joints and frames with three valid neighbours.

    xy: (T, K, 2). Returns pixels per frame^2 (NaN when no valid triple). A constant-velocity
    track scores 0; white noise of standard deviation s per axis scores
    sqrt(6) * sqrt(pi / 2) * s = 3.07 s (Rayleigh mean).
    """
    d2 = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1)
    return float(np.nanmean(d2)) if np.isfinite(d2).any() else float("nan")
