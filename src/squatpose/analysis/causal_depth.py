"""The depth signal frame by frame from the past only: what the repetition counter reads, live and
for files alike.

Per frame, from the smoothed joints (a one-frame `Body`):
* leg length L per side: the `leg_percentile` of the leg-length candidates (`depth.leg_samples`)
  over the last 2 x `leg_window_s` seconds of the current still stretch (the same number of frames
  as the centred window of the whole-clip geometry, all of them in the past), else over the last
  LONG_WINDOW_S seconds;
* depth = leg compression 1 - |hip - ankle| / L, averaged with the knee-angle estimate
  1 - sin(angle / 2) in side views (`knee_weight_side`); without ankles, the hip drop below the
  highest hip of the still stretch (5th percentile of its y) / L;
* feet moving: both ankles and their midpoint moved more than `walk_displacement` x L between the
  two halves of the last `walk_window_s` seconds (the window ends at the frame: walking is seen
  half a window later than by a centred window). Moving frames get no depth and end the still
  stretch;
* knee bent: a 2D knee angle or thigh/shin ratio clearly below standing (`depth.knee_bent` rules),
  the standing ratio being its `leg_percentile` over LONG_WINDOW_S;
* a foot off the floor: an ankle `raised_foot` x L above the other. That leg is left out of the depth
  and of the knee-bent test: a knee raise bends the lifted leg only, a squat the leg it stands on;
* jumps: both ankles rose `jump_lift` x L within TAKEOFF_S (off the ground) or `hop_lift` x L (a
  hop), `FeetGround`;
* knee straight: the straighter 2D knee reaches STRAIGHT_KNEE_DEG (the last measured state holds;
  True until a knee is first measured);
* view (unless the user set it): the `view.py` rules on the evidence seen so far, so the first
  squat of a side view is read as front/back until five of its frames are deep.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatpose.analysis.angles import Measure, interior_angle
from squatpose.analysis.body import ANALYSIS_JOINTS, PARTS, Body, row_mean
from squatpose.analysis.config import AnalysisConfig, DepthConfig, ViewConfig
from squatpose.analysis.depth import DepthSignal, leg_samples
from squatpose.analysis.rep_counter import STRAIGHT_KNEE_DEG
from squatpose.analysis.running import RecentWindow
from squatpose.analysis.view import detect_view

LONG_WINDOW_S = 60.0  # the standing thigh/shin ratio, the leg-length fallback and the view look this far back
LONG_INTERVAL_S = 0.1  # ... at ten samples a second (the view's deep frames: every one)
TAKEOFF_S = 0.25  # a jump lifts the feet off the ground within this (0.18 leg lengths in 0.1 s at 0.2 m)
TINY = float(np.finfo(float).tiny)   # a score of 0 is never a joint (np.finfo is slow to call per frame)


@dataclass(frozen=True)
class DepthSample:
    """One frame: depth (0 standing, ~0.5 thighs parallel, NaN unknown) with its confidence and
    source ('legs', 'hips', ''), feet moving, a knee visibly bent, a knee straight (or none
    measured yet), the view used (side or not), leg length (2,) px, 2D leg compression (2,), both
    feet off the ground (a jump's flight) and both feet rising (a hop, `FeetGround`)."""

    depth: float
    conf: float
    source: str
    moving: bool
    bent: bool
    straight: bool
    side_view: bool
    leg_length: np.ndarray
    compression: np.ndarray
    airborne: bool = False
    hop: bool = False


def body_frame(xy: np.ndarray, score: np.ndarray, columns: np.ndarray, min_score: float) -> Body:
    """A one-frame Body from xy (K, 2), score (K,); `columns` (8,) index ANALYSIS_JOINTS in the
    estimator's joints (-1 where it has none). Joints under `min_score` are missing."""
    sel_xy = np.where((columns >= 0)[:, None], xy[np.maximum(columns, 0)], np.nan)
    sel_score = np.where(columns >= 0, score[np.maximum(columns, 0)], 0.0)
    ok = np.isfinite(sel_xy).all(axis=1) & (sel_score >= max(min_score, TINY))
    shape = (1, len(PARTS), 2)
    return Body(np.where(ok[:, None], sel_xy, np.nan).reshape(*shape, 2),
                np.where(ok, sel_score, 0.0).reshape(shape))


def analysis_columns(joint_names: tuple[str, ...]) -> np.ndarray:
    """(8,) index of each ANALYSIS_JOINTS name in `joint_names`, -1 where absent."""
    return np.array([joint_names.index(n) if n in joint_names else -1 for n in ANALYSIS_JOINTS])


class FeetWindow:
    """Ankle positions of the last `walk_window_s` seconds: are both feet on the move?"""

    def __init__(self, cfg: DepthConfig) -> None:
        self.cfg = cfg
        self.window = RecentWindow(cfg.walk_window_s, 4, capacity=256)

    def update(self, t: float, ankle: np.ndarray, leg_px: float) -> bool:
        """ankle (2, 2) this frame (NaN where unseen); leg_px: the current leg length."""
        both = np.isfinite(ankle).all()
        self.window.push(t, ankle.ravel() if both else np.full(4, np.nan))
        if not np.isfinite(leg_px):
            return False
        half = self.cfg.walk_window_s / 2
        before, after = self.window.between(t - 2 * half, t - half), self.window.since(t - half)
        need = max(1, max(len(before), len(after)) // 2)
        seen_before, seen_after = before[np.isfinite(before[:, 0])], after[np.isfinite(after[:, 0])]
        if len(seen_before) < need or len(seen_after) < need:
            return False
        shift = (seen_after.mean(axis=0) - seen_before.mean(axis=0)).reshape(2, 2)
        limit = self.cfg.walk_displacement * leg_px
        travelled = bool(np.linalg.norm(shift.mean(axis=0)) > limit
                         and (np.linalg.norm(shift, axis=1) > limit).all())
        return travelled and self._stance_changed(np.concatenate([seen_before, seen_after]), leg_px)

    def _stance_changed(self, ankles: np.ndarray, leg_px: float) -> bool:
        """Whether the feet moved relative to each other (N, 4 ankle rows): walking takes steps,
        while a camera that pans, shakes or turns moves both feet alike. Sign-free: a model that swaps
        left and right flips the vector between the ankles, which is no step."""
        between = ankles[:, :2] - ankles[:, 2:]
        typical = np.median(between, axis=0)
        off = np.minimum(np.linalg.norm(between - typical, axis=1), np.linalg.norm(between + typical, axis=1))
        return bool(np.percentile(off, 90) > self.cfg.walk_stance_change * leg_px)


class FeetGround:
    """Jumps, from how fast both feet rise: both ankles `jump_lift` x L above their lowest image position
    (y down) of the last TAKEOFF_S is a takeoff, a rise far faster than a camera pans or tilts, and the
    flight lasts until either ankle is back within half that lift of where it took off; a rise of
    `hop_lift` x L is a hop (a small jump, or a heel raise), enough to show that a dip ended in a jump. A
    camera that jerks can look the same: the repetition counter takes only a short flight for a jump."""

    def __init__(self, cfg: DepthConfig) -> None:
        self.cfg = cfg
        self.window = RecentWindow(TAKEOFF_S, 2)
        self.ground: np.ndarray | None = None   # (2,) the ankles' y at takeoff, during a flight

    def update(self, t: float, ankle: np.ndarray, leg_px: float) -> tuple[bool, bool]:
        """ankle (2, 2) this frame (NaN where unseen); leg_px: the current leg length. Returns (off the
        ground, a hop)."""
        y = ankle[:, 1]
        recent = self.window.since(t - TAKEOFF_S)
        self.window.push(t, y)
        with np.errstate(invalid="ignore"):
            rise = float(np.min(np.max(recent, axis=0) - y)) / leg_px if len(recent) else np.nan
            if self.ground is None and rise > self.cfg.jump_lift:
                self.ground = np.max(recent, axis=0)
            elif self.ground is not None and not (self.ground - y > self.cfg.jump_lift * leg_px / 2).all():
                self.ground = None
        return self.ground is not None, bool(rise > self.cfg.hop_lift)


class ViewEvidence:
    """The view rules of `view.py` on what was seen so far (recent LONG_WINDOW_S)."""

    def __init__(self, requested: str, cfg: ViewConfig) -> None:
        self.requested, self.cfg = requested, cfg
        self.deep = RecentWindow(LONG_WINDOW_S, 1)
        self.standing = RecentWindow(LONG_WINDOW_S, 1, min_interval_s=LONG_INTERVAL_S)
        self.side = requested == "side"
        self._seen = (-1, -1)

    def update(self, t: float, body: Body, leg_length: np.ndarray, compression: np.ndarray) -> bool:
        """Add one frame's evidence; returns whether the depth signal reads it as a side view."""
        if self.requested != "auto":
            return self.side
        comp = float(row_mean(compression[None])[0])
        if np.isfinite(comp) and comp >= self.cfg.deep_depth:
            self.deep.push(t, row_mean(np.abs(body.knee[..., 0] - body.hip[..., 0]) / leg_length[None]))
        elif np.isfinite(comp) and comp < self.cfg.deep_depth / 2:
            gap = np.fmax(abs(body.hip[0, 0, 0] - body.hip[0, 1, 0]),
                          abs(body.ankle[0, 0, 0] - body.ankle[0, 1, 0]))
            self.standing.push(t, [gap / row_mean(leg_length[None])[0]])
        need = self.cfg.min_deep_frames
        if (self.deep.pushes, self.standing.pushes) == self._seen:
            return self.side   # nothing new: the same evidence
        self._seen = (self.deep.pushes, self.standing.pushes)
        thigh, width = self.deep.percentile(t, 50.0, need)[0], self.standing.percentile(t, 50.0, need)[0]
        self.side = detect_view(None if np.isnan(thigh) else float(thigh),
                                None if np.isnan(width) else float(width), self.cfg)[0] == "side"
        return self.side


class CausalDepth:
    """`update(t, body)` once per frame, in time order → DepthSample; constant memory."""

    def __init__(self, cfg: AnalysisConfig, view: str = "auto") -> None:
        self.cfg = cfg.depth
        self.ground = FeetGround(cfg.depth)
        self.windows = (FeetWindow(cfg.depth),
                        RecentWindow(2 * cfg.depth.leg_window_s, 6),         # candidates (4), hip y (2)
                        # candidates (4), thigh/shin (2)
                        RecentWindow(LONG_WINDOW_S, 6, min_interval_s=LONG_INTERVAL_S))
        self.view = ViewEvidence(view, cfg.view)
        self.leg_px = np.nan   # the latest leg length (longer side), for the walking test
        self.straight = True

    def update(self, t: float, body: Body) -> DepthSample:
        cfg = self.cfg
        thigh = np.linalg.norm(body.knee - body.hip, axis=-1)[0]
        shin = np.linalg.norm(body.ankle - body.knee, axis=-1)[0]
        knee_angle = interior_angle(body.hip, body.knee, body.ankle)[0]
        if np.isfinite(knee_angle).any():
            self.straight = bool(np.nanmax(knee_angle) >= STRAIGHT_KNEE_DEG)
        feet, segment, long = self.windows
        moving = feet.update(t, body.ankle[0], self.leg_px)
        airborne, hop = self.ground.update(t, body.ankle[0], self.leg_px)
        candidates = leg_samples(body)[:, 0].ravel()  # (4,) longest bound L/R, twice the thigh L/R
        long.push(t, np.r_[candidates, thigh / shin])
        standing = long.percentile(t, cfg.leg_percentile, min_count=1)
        if moving:
            segment.clear()
            return DepthSample(np.nan, 0.0, "", True, self._bent(knee_angle, thigh / shin, standing[4:]),
                               self.straight, self.view.side, np.full(2, np.nan), np.full(2, np.nan))
        segment.push(t, np.r_[candidates, body.hip[0, :, 1]])
        recent = segment.percentile(t, cfg.leg_percentile)[:4].reshape(2, 2)
        length = _first_finite(np.concatenate([recent, standing[:4].reshape(2, 2)]))
        if np.isfinite(length).any():
            self.leg_px = float(np.nanmax(length))
        compression = 1.0 - np.linalg.norm(body.hip - body.ankle, axis=-1)[0] / length
        side = self.view.update(t, body, length, compression)
        lifted = self._lifted_foot(body.ankle[0])
        legs = np.where(lifted, np.nan, compression)
        knee_angle, ratio = (np.where(lifted, np.nan, v) for v in (knee_angle, thigh / shin))
        if side and cfg.knee_weight_side > 0:
            knee_c = 1.0 - np.sin(np.radians(knee_angle) / 2)
            mixed = (1 - cfg.knee_weight_side) * legs + cfg.knee_weight_side * knee_c
            legs = np.where(np.isfinite(legs) & np.isfinite(knee_c), mixed,
                            np.where(np.isfinite(legs), legs, knee_c))
        leg_m = Measure.from_sides("leg", legs[None], body.conf("hip", "ankle"))
        top = segment.percentile(t, 5.0, min_count=1)[4:]
        hip_m = Measure.from_sides("leg", ((body.hip[0, :, 1] - top) / length)[None], body.score_of("hip"))
        use_legs = bool(np.isfinite(leg_m.value[0]))
        depth = float(leg_m.value[0] if use_legs else hip_m.value[0])
        conf = float(leg_m.conf[0] if use_legs else hip_m.conf[0]) if np.isfinite(depth) else 0.0
        source = "legs" if use_legs else ("hips" if np.isfinite(depth) else "")
        return DepthSample(depth, conf, source, False, self._bent(knee_angle, ratio, standing[4:]),
                           self.straight, side, length, compression, airborne, hop)

    def _lifted_foot(self, ankle: np.ndarray) -> np.ndarray:
        """(2,) True for a foot off the floor: its ankle `raised_foot` leg lengths above the other's
        (image y grows downward)."""
        rise = ankle[::-1, 1] - ankle[:, 1]
        with np.errstate(invalid="ignore"):
            return rise > self.cfg.raised_foot * self.leg_px

    def _bent(self, knee_angle: np.ndarray, ratio: np.ndarray, standing_ratio: np.ndarray) -> bool:
        """One knee clearly and the other at least somewhat bent (`depth.knee_bent`), True when neither
        knee is measurable."""
        cfg = self.cfg
        with np.errstate(invalid="ignore"):
            bent = (knee_angle <= cfg.bend_knee_angle) | (ratio <= cfg.bend_thigh_ratio * standing_ratio)
            some = ((knee_angle <= cfg.bend_other_knee_angle)
                    | (ratio <= cfg.bend_other_thigh_ratio * standing_ratio))
        measurable = np.isfinite(knee_angle) | np.isfinite(ratio)
        one_clearly = (bent & measurable).any() or not measurable.any()
        return bool(one_clearly and (some | ~measurable).all())


def _first_finite(candidates: np.ndarray) -> np.ndarray:
    """(C, S) -> (S,): per column the first finite candidate, NaN if none."""
    out = np.full(candidates.shape[1], np.nan)
    for c in candidates[::-1]:
        out = np.where(np.isfinite(c), c, out)
    return out


@dataclass(frozen=True)
class CausalSignal:
    """`CausalDepth` over a whole clip: the reported DepthSignal and, per frame (T,), feet moving,
    knee straight, the view read, feet off the ground and hops; leg_length and compression (T, 2)."""

    depth: DepthSignal
    moving: np.ndarray
    straight: np.ndarray
    side_view: np.ndarray
    leg_length: np.ndarray
    compression: np.ndarray
    airborne: np.ndarray
    hop: np.ndarray


def causal_signal(body: Body, times: np.ndarray, cfg: AnalysisConfig, view: str = "auto") -> CausalSignal:
    """Run CausalDepth over every frame of `body` at `times` (T,) seconds."""
    stream = CausalDepth(cfg, view)
    samples = [stream.update(float(t), Body(body.xy[i:i + 1], body.score[i:i + 1])) for i,
               t in enumerate(times)]
    column = lambda name, dtype=float: np.array([getattr(s, name) for s in samples], dtype=dtype)  # noqa: E731
    depth = DepthSignal(column("depth"), column("conf"), column("source", "<U4"), column("bent", bool))
    return CausalSignal(depth, column("moving", bool), column("straight", bool), column("side_view", bool),
                        np.array([s.leg_length for s in samples]).reshape(-1, 2),
                        np.array([s.compression for s in samples]).reshape(-1, 2), column("airborne", bool),
                        column("hop", bool))
