"""Repetition counting: a hysteresis state machine on the normalised depth signal.

Phases: STANDING -> DESCENDING (depth >= start_depth) -> BOTTOM (within bottom_band of the deepest
point) -> ASCENDING (more than bottom_band above it) -> STANDING (depth < standing_depth). The gap
between start_depth and standing_depth is the hysteresis: jitter around one threshold cannot start
or finish a repetition twice. A repetition counts when it completes with peak depth >= min_depth
and a duration within [min_duration_s, max_duration_s], and a knee was visibly bent near its
deepest point (depth.knee_bent: rules out a person who only grows or shrinks in the image).
Rising again by the hysteresis gap from near standing (without reaching standing_depth) ends the
repetition at that low point and starts the next one (reps without full lockout), unless one side
of that split is too fast for a body (`merge_glitch_splits`). Feet moving (walking) abandons an open
repetition.

A clip that begins above start_depth begins inside a repetition: it counts when its return to
standing is seen. Back near standing means a depth below standing_depth and, where a knee angle
is measured, a knee straightened to STRAIGHT_KNEE_DEG or more in 2D: in a clip cut mid-repetition
the leg length (the depth's scale) comes from bent legs only, is short, and makes a person still
well down look like standing. After walking, counting resumes only from standing. A repetition still open when the clip
ends is reported as partial (if already deeper than min_depth with a bent knee), never counted.
One RepCounter per tracked person.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from squatpose.analysis.config import RepConfig

log = logging.getLogger(__name__)

STRAIGHT_KNEE_DEG = 150.0  # Penn Action side views: 30 % of the way down, 95 % of knees are below 156°


class Phase(str, Enum):
    UNKNOWN = "unknown"
    MOVING = "moving"
    STANDING = "standing"
    DESCENDING = "descending"
    BOTTOM = "bottom"
    ASCENDING = "ascending"


@dataclass
class RepSpan:
    """Frames of one repetition. end_frame is None while (or if) it is unfinished;
    started_in_clip is False when the tracked stretch began inside this repetition; knee_bent:
    a bent knee was seen near the deepest point; trough: lowest depth since the bottom."""

    start_frame: int
    bottom_frame: int
    end_frame: int | None
    peak_depth: float
    started_in_clip: bool
    knee_bent: bool
    missing_frames: int = 0
    trough_depth: float = math.nan
    trough_frame: int = -1


class RepCounter:
    """Feed one depth value per frame with `update`; read `completed`, `rejected`, `finish()`."""

    def __init__(self, cfg: RepConfig, fps: float) -> None:
        self.cfg = cfg
        self.fps = fps
        self.phase = Phase.UNKNOWN
        self.completed: list[RepSpan] = []
        self.rejected: list[tuple[RepSpan, str]] = []
        self._open: RepSpan | None = None
        self._rest_frame: int | None = None
        self._may_start_inside = True  # only before any walking: the clip may begin mid-rep

    def update(self, frame: int, depth: float, moving: bool = False, bent: bool = True,
               straight: bool = True) -> Phase:
        """Advance by one frame; NaN depth (no data) keeps the phase. `moving`: feet moving;
        `bent`: a knee is visibly bent (a rep needs one near its deepest point); `straight`: a knee
        is straight or none is measured (a rep ends only then). Returns the phase."""
        if moving:
            if self._open is not None:
                self.rejected.append((self._open, "feet moved (walking?) during the repetition"))
            self._open, self.phase, self._may_start_inside = None, Phase.MOVING, False
        elif not math.isfinite(depth):
            if self._open is not None:
                self._open.missing_frames += 1
        elif self.phase in (Phase.UNKNOWN, Phase.MOVING):
            self._begin(frame, depth, bent)
        elif self.phase == Phase.STANDING:
            self._standing(frame, depth, bent)
        else:
            self.phase = self._in_rep(frame, depth, bent, straight)
        return self.phase

    def finish(self) -> RepSpan | None:
        """The repetition still open at the end of the clip (partial), if it already reached
        min_depth with a bent knee; shallower unfinished dips are not reported."""
        rep = self._open
        return rep if rep is not None and rep.knee_bent and rep.peak_depth >= self.cfg.min_depth \
            else None

    def _begin(self, frame: int, depth: float, bent: bool) -> None:
        if depth >= self.cfg.start_depth:
            if self._may_start_inside:
                self._start(frame, depth, bent, started_in_clip=False)
                self.phase = Phase.DESCENDING
            else:
                self.phase = Phase.UNKNOWN  # after walking: wait for standing
        else:
            self.phase = Phase.STANDING
            self._rest_frame = frame if depth < self.cfg.standing_depth else None

    def _standing(self, frame: int, depth: float, bent: bool) -> None:
        if depth < self.cfg.standing_depth:
            self._rest_frame = frame
        if depth >= self.cfg.start_depth:
            start = self._rest_frame if self._rest_frame is not None else frame
            self._start(start, depth, bent, started_in_clip=True, bottom=frame)
            self.phase = Phase.DESCENDING

    def _start(self, start: int, depth: float, bent: bool, started_in_clip: bool,
               bottom: int | None = None) -> None:
        bottom = start if bottom is None else bottom
        self._open = RepSpan(start, bottom, None, depth, started_in_clip, bent)
        self._open.trough_depth, self._open.trough_frame = depth, bottom

    def _in_rep(self, frame: int, depth: float, bent: bool, straight: bool) -> Phase:
        rep = self._open
        assert rep is not None
        cfg = self.cfg
        if depth > rep.peak_depth:
            rep.peak_depth, rep.bottom_frame = depth, frame
            rep.trough_depth, rep.trough_frame = depth, frame
            rep.knee_bent = bent
            return Phase.DESCENDING
        if self.phase != Phase.ASCENDING and depth > rep.peak_depth - cfg.bottom_band:
            rep.knee_bent |= bent
            return Phase.BOTTOM
        if depth < rep.trough_depth:
            rep.trough_depth, rep.trough_frame = depth, frame
        if depth < cfg.standing_depth and straight:
            self._close(frame)
            self._rest_frame = frame
            return Phase.STANDING
        if (rep.trough_depth < cfg.start_depth
                and depth >= rep.trough_depth + (cfg.start_depth - cfg.standing_depth)):
            trough = rep.trough_frame
            self._close(trough)
            self._start(trough, depth, bent, started_in_clip=True, bottom=frame)
            return Phase.DESCENDING
        return Phase.BOTTOM if depth > rep.peak_depth - cfg.bottom_band else Phase.ASCENDING

    def _close(self, end_frame: int) -> None:
        rep = self._open
        assert rep is not None
        self._open = None
        rep.end_frame = end_frame
        duration = (end_frame - rep.start_frame) / self.fps
        if rep.peak_depth < self.cfg.min_depth:
            reason = f"too shallow (depth {rep.peak_depth:.2f} < {self.cfg.min_depth:.2f})"
        elif not rep.knee_bent:
            reason = ("no bent knee at the bottom (the person only changed size in the image: "
                      "walking towards or away from the camera?)")
        elif duration < self.cfg.min_duration_s:
            reason = f"too short ({duration:.2f} s < {self.cfg.min_duration_s:.2f} s)"
        elif duration > self.cfg.max_duration_s:
            reason = f"too long ({duration:.1f} s > {self.cfg.max_duration_s:.1f} s)"
        else:
            self.completed.append(rep)
            return
        log.debug("dip at frames %d-%d not counted: %s", rep.start_frame, end_frame, reason)
        self.rejected.append((rep, reason))


@dataclass(frozen=True)
class RepCount:
    """completed / partial repetitions, rejected dips with reasons, and phases (T,) of str."""

    completed: list[RepSpan]
    partial: list[RepSpan]
    rejected: list[tuple[RepSpan, str]]
    phases: np.ndarray


def _rest(stretch: np.ndarray) -> float | None:
    finite = stretch[np.isfinite(stretch)]
    return float(np.median(finite)) if finite.size else None


def refine_boundaries(spans: list[RepSpan], depth: np.ndarray, band: float,
                      phases: np.ndarray) -> None:
    """Move each start back to the last frame within `band` of the standing level before it (the
    median depth since the previous repetition), and each end forward to the first such frame
    after it, so descent/ascent times cover the whole movement (the counter's own boundaries,
    crossings of standing_depth, miss its first and last part). Relabels `phases` (T,) in place:
    'standing' frames inside a repetition become 'descending' / 'ascending'."""
    for i, rep in enumerate(spans):
        if rep.started_in_clip:
            lo = (spans[i - 1].end_frame or 0) if i else 0
            before = depth[lo:rep.start_frame + 1]
            rest = _rest(before)
            near = np.flatnonzero(before <= rest + band) if rest is not None else np.array([])
            rep.start_frame = lo + int(near[-1]) if near.size else rep.start_frame
        if rep.end_frame is not None:
            hi = spans[i + 1].start_frame if i + 1 < len(spans) else len(depth) - 1
            after = depth[rep.end_frame:hi + 1]
            rest = _rest(after)
            near = np.flatnonzero(after <= rest + band) if rest is not None else np.array([])
            rep.end_frame += int(near[0]) if near.size else 0
        for lo, hi, phase in ((rep.start_frame + 1, rep.bottom_frame, Phase.DESCENDING),
                              (rep.bottom_frame, rep.end_frame or 0, Phase.ASCENDING)):
            stretch = phases[lo:hi]
            stretch[stretch == Phase.STANDING.value] = phase.value


def knee_straight(knee_angle_lr: np.ndarray) -> np.ndarray:
    """(T,) True where the straighter knee of (T, 2) 2D knee angles reaches STRAIGHT_KNEE_DEG.
    Frames without a measured knee keep the last measured state (False before the first); all True
    when no knee is ever measured (then depth alone decides)."""
    finite = np.isfinite(knee_angle_lr).any(axis=1)
    if not finite.any():
        return np.ones(len(knee_angle_lr), bool)
    straight = np.where(np.isfinite(knee_angle_lr), knee_angle_lr, -np.inf).max(axis=1) >= STRAIGHT_KNEE_DEG
    last = np.maximum.accumulate(np.where(finite, np.arange(len(finite)), -1))
    return np.where(last >= 0, straight[np.maximum(last, 0)], False)


def merge_glitch_splits(spans: list[RepSpan], fps: float, min_phase_s: float) -> list[RepSpan]:
    """Merge back-to-back repetitions (standing for less than `min_phase_s` between them, or not at
    all) when the first's rise or the second's fall takes less than `min_phase_s`: a few frames where
    the depth signal jumps to standing and back (a pose that failed at the bottom, possibly read as
    standing for a frame or two) are not a repetition ending and the next beginning. The merged one
    keeps the deeper bottom."""
    limit = min_phase_s * fps
    merged: list[RepSpan] = []
    for rep in spans:
        last = merged[-1] if merged else None
        if (last is not None and rep.start_frame - last.end_frame < limit
                and min(last.end_frame - last.bottom_frame, rep.bottom_frame - rep.start_frame) < limit):
            deeper = last if last.peak_depth >= rep.peak_depth else rep
            merged[-1] = RepSpan(last.start_frame, deeper.bottom_frame, rep.end_frame, deeper.peak_depth,
                                 last.started_in_clip, deeper.knee_bent,
                                 last.missing_frames + rep.missing_frames, rep.trough_depth, rep.trough_frame)
            log.debug("repetitions split at frame %d merged (a glitch of the depth signal)", rep.start_frame)
        else:
            merged.append(rep)
    return merged


def count_reps(depth: np.ndarray, moving: np.ndarray, bent: np.ndarray, fps: float,
               cfg: RepConfig, straight: np.ndarray | None = None) -> RepCount:
    """Run one RepCounter over depth (T,) with feet-moving (T,), knee-bent (T,) and knee-straight
    (T,, default all True) masks, merge repetitions split by a glitch (`merge_glitch_splits`), then
    refine the repetitions' start and end frames (`refine_boundaries`)."""
    counter = RepCounter(cfg, fps)
    straight = np.ones(len(depth), bool) if straight is None else straight
    phases = np.array([counter.update(t, float(d), bool(m), bool(b), bool(s)).value
                       for t, (d, m, b, s) in enumerate(zip(depth, moving, bent, straight))]).astype("<U10")
    unfinished = counter.finish()
    completed = merge_glitch_splits(counter.completed, fps, cfg.min_phase_s)
    spans = completed + ([unfinished] if unfinished else [])
    refine_boundaries(spans, depth, cfg.onset_band, phases)
    return RepCount(completed, [unfinished] if unfinished else [], counter.rejected, phases)
