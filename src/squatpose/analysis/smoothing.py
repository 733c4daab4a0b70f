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
from squatpose.analysis.tracks import JointTracks
from squatpose.joints import LEG_PARTS, leg_chains

log = logging.getLogger(__name__)



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
    alive flag and number of frames held since the last observation.
    """

    def __init__(self, n_points: int, dims: int, params: SmoothingParams) -> None:
        self.params = params
        self.est = np.full((n_points, dims), np.nan)
        self.vel = np.zeros((n_points, dims))
        self.t_last = np.zeros(n_points)
        self.alive = np.zeros(n_points, dtype=bool)
        self.hold = np.zeros(n_points, dtype=np.int64)

    def step(self, t: float, x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Feed observations x (K, D) where ok (K,) at time t; returns a copy of the estimate."""
        p = self.params
        new = ok & ~self.alive
        upd = ok & self.alive
        if upd.any():
            te = np.maximum(t - self.t_last[upd], 1e-6)[:, None]
            raw_vel = (x[upd] - self.est[upd]) / te
            self.vel[upd] += _alpha(np.float64(p.d_cutoff), te) * (raw_vel - self.vel[upd])
            cutoff = p.min_cutoff + p.beta * np.linalg.norm(self.vel[upd], axis=-1, keepdims=True)
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


def smooth_tracks(tracks: JointTracks, params: SmoothingParams, scale: float | None = None,
                  leg_percentile: float = DepthConfig.leg_percentile,
                  min_score: float = MIN_JOINT_SCORE) -> SmoothResult:
    """One Euro smoothing of all joints of `tracks` (T, K, 2), gated by score (joints under `min_score`
    are not fed), legs kept consistent.

    scale: pixels per leg length for the filter units; estimated with `leg_scale` when None.
    """
    scale = float(scale) if scale else leg_scale(tracks, min_score, leg_percentile)
    obs = tracks.xy / scale
    score = tracks.score.copy()
    ok = (score >= min_score) & (score > 0)
    left, right = leg_pairs(tracks.joint_names)
    perm = np.arange(tracks.n_joints)
    perm[left], perm[right] = right, left
    filt = OneEuroFilter(tracks.n_joints, 2, params)
    est = np.full_like(obs, np.nan)
    swapped = np.zeros(tracks.n_frames, dtype=bool)
    held = np.zeros(score.shape, dtype=bool)
    last_score = np.zeros(tracks.n_joints)
    for t in range(tracks.n_frames):
        if params.swap_ratio > 0 and left.size and _should_swap(
                obs[t], ok[t], filt.est, filt.alive, left, right, params):
            obs[t], ok[t], score[t] = obs[t, perm], ok[t, perm], score[t, perm]
            swapped[t] = True
        est[t] = filt.step(t / tracks.fps, obs[t], ok[t])
        last_score = np.where(ok[t], score[t], last_score)
        held[t] = filt.alive & ~ok[t]
        score[t] = np.where(ok[t], score[t], 0.0)
        score[t, held[t]] = last_score[held[t]] * (1 - filt.hold[held[t]] / (params.max_hold_frames + 1))
    if swapped.any():
        log.info("legs relabelled left<->right in %d of %d frames", swapped.sum(), tracks.n_frames)
    out = JointTracks(tracks.fps, tracks.joint_names, est * scale, score, tracks.frame_wh)
    return SmoothResult(out, held, swapped, scale)


def second_difference_jitter(xy: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over joints and frames with three valid neighbours.

    xy: (T, K, 2). Returns pixels per frame^2 (NaN when no valid triple). A constant-velocity
    track scores 0; white noise of standard deviation s per axis scores
    sqrt(6) * sqrt(pi / 2) * s = 3.07 s (Rayleigh mean).
    """
    d2 = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1)
    return float(np.nanmean(d2)) if np.isfinite(d2).any() else float("nan")
