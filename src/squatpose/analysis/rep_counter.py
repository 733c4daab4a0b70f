"""Repetition counting: a hysteresis state machine on the normalised depth signal.

Phases: STANDING -> DESCENDING (depth >= start_depth) -> BOTTOM (within bottom_band of the deepest
point) -> ASCENDING (more than bottom_band above it) -> STANDING (depth < standing_depth). The gap
between start_depth and standing_depth is the hysteresis: jitter around one threshold cannot start
or finish a repetition twice. A repetition counts when it completes with peak depth >= min_depth
and a duration within [min_duration_s, max_duration_s], and a knee was visibly bent within
bottom_band of its deepest point (causal_depth's knee-bent test: rules out a person who only grows or
shrinks in the image). Shallower ones (quarter squats: at least start_depth below the standing before
them) count once `shallow_set` of them were seen, the earlier ones with them: a set of quarter squats,
not a bar picked up. A dip that begins within landing_window_s of a jump's landing counts only if the
feet leave the ground again from it (the next jump squat): a landing is no squat. Rising again by the
hysteresis gap from near standing (without reaching standing_depth) ends the repetition at that low
point and starts the next one (reps without full lockout), unless one side of that split is too fast
for a body (`is_glitch_split`). Feet moving (walking) abandons an open repetition.

A clip that begins above start_depth begins inside a repetition: it counts when its return to
standing is seen. Back near standing means a depth below standing_depth and, where a knee angle
is measured, a knee straightened to STRAIGHT_KNEE_DEG or more in 2D: in a clip cut mid-repetition
the leg length (the depth's scale) comes from bent legs only, is short, and makes a person still
well down look like standing. After walking, counting resumes only from standing. A repetition still open when
the clip ends is reported as partial (if already deeper than min_depth with a bent knee), never counted.

`RepStream` is the one repetition logic of files (`count_reps`) and of the live engine
(`online.py`): the counter, glitch splits merged as they happen, and unsure repetitions set apart.
Durations use each frame's time, so frames that come unevenly (a camera, dropped frames) count alike.
One RepStream per tracked person.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
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
    """Frames (and times, s) of one repetition. end_frame is None while (or if) it is unfinished;
    started_in_clip is False when the tracked stretch began inside this repetition; knee_bent:
    a bent knee was seen near the deepest point; trough: lowest depth since the bottom;
    conf_sum / conf_frames: the depth signal's confidence summed over the frames the counter saw in it.
    knee_bent: a frame within bottom_band of the deepest one showed a visibly bent knee.
    after_landing: it began within landing_window_s of a jump's landing; shallow: its peak depth is below
    min_depth (a quarter squat, or a dip that is no squat); rest_depth: the lowest depth while standing
    before it (the trough it began from, for repetitions without lockout)."""

    start_frame: int
    bottom_frame: int
    end_frame: int | None
    peak_depth: float
    started_in_clip: bool
    knee_bent: bool
    missing_frames: int = 0
    trough_depth: float = math.nan
    trough_frame: int = -1
    start_t: float = math.nan
    bottom_t: float = math.nan
    end_t: float = math.nan
    trough_t: float = math.nan
    conf_sum: float = 0.0
    conf_frames: int = 0
    bent_depth: float = -math.inf   # the deepest frame with a visibly bent knee
    after_landing: bool = False     # began as the landing of a jump
    shallow: bool = False           # completed, but less deep than min_depth
    rest_depth: float = math.nan    # the lowest depth while standing before it (its trough, if split)

    @property
    def confidence(self) -> float:
        return self.conf_sum / self.conf_frames if self.conf_frames else 0.0


class RepCounter:
    """Feed one depth value per frame with `update`; completed and rejected repetitions appear in
    `completed` and `rejected` (a caller that streams empties them); `finish()` at the end."""

    def __init__(self, cfg: RepConfig, fps: float) -> None:
        self.cfg = cfg
        self.fps = fps
        self.phase = Phase.UNKNOWN
        self.completed: list[RepSpan] = []
        self.rejected: list[tuple[RepSpan, str]] = []
        self.open: RepSpan | None = None
        self.rest: tuple[int, float] | None = None   # last frame (and time) below standing_depth
        self._may_start_inside = True  # only before any walking: the clip may begin mid-rep
        self._flight_from: float | None = None   # when both feet left the ground, while they are off it
        self.last_takeoff_t = -math.inf          # the last hop, or start of a flight short enough for a jump
        self._last_landing_t = -math.inf
        self._rest_low = math.inf   # the lowest depth while standing, since the last repetition began

    def update(self, frame: int, depth: float, moving: bool = False, bent: bool = True,
               straight: bool = True, t: float | None = None, conf: float = 1.0,
               airborne: bool = False, hop: bool = False) -> Phase:
        """Advance by one frame (at time `t` s, default frame / fps); NaN depth (no data) keeps the
        phase. `moving`: feet moving; `bent`: a knee is visibly bent (a rep needs one near its deepest
        point); `straight`: a knee is straight or none is measured (a rep ends only then); `conf`: the
        depth's confidence; `airborne`: both feet off the ground; `hop`: both feet rising (a small jump).
        Returns the phase."""
        t = frame / self.fps if t is None else t
        self._watch_flight(t, airborne, hop)
        if self.open is not None:
            self.open.conf_sum += conf
            self.open.conf_frames += 1
        if moving:
            if self.open is not None:
                self.rejected.append((self.open, "feet moved (walking?) during the repetition"))
            self.open, self.phase, self._may_start_inside = None, Phase.MOVING, False
        elif not math.isfinite(depth):
            if self.open is not None:
                self.open.missing_frames += 1
        elif self.phase in (Phase.UNKNOWN, Phase.MOVING):
            self._begin(frame, t, depth, bent, conf)
        elif self.phase == Phase.STANDING:
            self._standing(frame, t, depth, bent, conf)
        else:
            self.phase = self._in_rep(frame, t, depth, bent, straight, conf)
        return self.phase

    def _watch_flight(self, t: float, airborne: bool, hop: bool) -> None:
        """Jumps: a takeoff when both feet leave the ground (or hop), a landing when they are back
        within max_flight_s (a longer lift is the camera's, and no takeoff after all)."""
        if hop and self._flight_from is None:
            self.last_takeoff_t = t
        if airborne and self._flight_from is None:
            self._flight_from = self.last_takeoff_t = t
        elif airborne and t - self._flight_from > self.cfg.max_flight_s:
            self.last_takeoff_t = -math.inf
        elif not airborne and self._flight_from is not None:
            if t - self._flight_from <= self.cfg.max_flight_s:
                self._last_landing_t = t
            self._flight_from = None

    def finish(self) -> RepSpan | None:
        """The repetition still open at the end of the clip (partial), if it already reached
        min_depth with a bent knee; shallower unfinished dips are not reported."""
        rep = self.open
        return rep if rep is not None and rep.knee_bent and rep.peak_depth >= self.cfg.min_depth \
            else None

    def _begin(self, frame: int, t: float, depth: float, bent: bool, conf: float) -> None:
        if depth >= self.cfg.start_depth:
            if self._may_start_inside:
                self._start((frame, t), depth, bent, conf, started_in_clip=False)
                self.phase = Phase.DESCENDING
            else:
                self.phase = Phase.UNKNOWN  # after walking: wait for standing
        else:
            self.phase = Phase.STANDING
            self.rest = (frame, t) if depth < self.cfg.standing_depth else None
            self._rest_low = depth

    def _standing(self, frame: int, t: float, depth: float, bent: bool, conf: float) -> None:
        if depth < self.cfg.standing_depth:
            self.rest = (frame, t)
        if depth < self.cfg.start_depth:
            self._rest_low = min(self._rest_low, depth)
        else:
            self._start(self.rest or (frame, t), depth, bent, conf, started_in_clip=True, bottom=(frame, t))
            self.phase = Phase.DESCENDING

    def _start(self, start: tuple[int, float], depth: float, bent: bool, conf: float, started_in_clip: bool,
               bottom: tuple[int, float] | None = None) -> None:
        bottom = start if bottom is None else bottom
        landing = bottom[1] - self._last_landing_t <= self.cfg.landing_window_s
        rest, self._rest_low = self._rest_low, math.inf
        self.open = RepSpan(start[0], bottom[0], None, depth, started_in_clip, bent, trough_depth=depth,
                            trough_frame=bottom[0], start_t=start[1], bottom_t=bottom[1], trough_t=bottom[1],
                            conf_sum=conf, conf_frames=1, bent_depth=depth if bent else -math.inf,
                            after_landing=landing, rest_depth=rest if math.isfinite(rest) else math.nan)

    def _in_rep(self, frame: int, t: float, depth: float, bent: bool, straight: bool, conf: float) -> Phase:
        rep = self.open
        assert rep is not None
        cfg = self.cfg
        if bent:
            rep.bent_depth = max(rep.bent_depth, depth)
        rep.knee_bent = rep.bent_depth >= max(rep.peak_depth, depth) - cfg.bottom_band
        if depth > rep.peak_depth:
            rep.peak_depth, rep.bottom_frame, rep.bottom_t = depth, frame, t
            rep.trough_depth, rep.trough_frame, rep.trough_t = depth, frame, t
            return Phase.DESCENDING
        if self.phase != Phase.ASCENDING and depth > rep.peak_depth - cfg.bottom_band:
            return Phase.BOTTOM
        if depth < rep.trough_depth:
            rep.trough_depth, rep.trough_frame, rep.trough_t = depth, frame, t
        if depth < cfg.standing_depth and straight:
            self._close(frame, t)
            self.rest = (frame, t)
            return Phase.STANDING
        if (rep.trough_depth < cfg.start_depth
                and depth >= rep.trough_depth + (cfg.start_depth - cfg.standing_depth)):
            trough = (rep.trough_frame, rep.trough_t)
            self._close(*trough)
            self._rest_low = rep.trough_depth
            self._start(trough, depth, bent, conf, started_in_clip=True, bottom=(frame, t))
            return Phase.DESCENDING
        return Phase.BOTTOM if depth > rep.peak_depth - cfg.bottom_band else Phase.ASCENDING

    def _close(self, end_frame: int, end_t: float) -> None:
        rep = self.open
        assert rep is not None
        self.open = None
        rep.end_frame, rep.end_t = end_frame, end_t
        duration = end_t - rep.start_t
        rep.shallow = rep.peak_depth < self.cfg.min_depth
        if rep.shallow and not rep.peak_depth - rep.rest_depth >= self.cfg.start_depth:
            drop = rep.peak_depth - rep.rest_depth
            reason = f"too shallow (depth {rep.peak_depth:.2f} < {self.cfg.min_depth:.2f}" + (
                f", and only {drop:.2f} below the standing level before it)" if math.isfinite(drop) else ")")
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
    """completed (counted) / uncertain (completed on joints too unsure to count) / partial
    repetitions, rejected dips with reasons, and phases (T,) of str."""

    completed: list[RepSpan]
    partial: list[RepSpan]
    rejected: list[tuple[RepSpan, str]]
    phases: np.ndarray
    uncertain: list[RepSpan] = field(default_factory=list)


@dataclass(frozen=True)
class RepEvent:
    """What the repetition logic says after a frame: 'started' (a descent began), 'bottom' (the
    first rise from the deepest point so far), 'counted', 'uncertain' (completed on joints too
    unsure to count), 'rejected' (a dip that is no repetition, `reason` says why)."""

    kind: str
    span: RepSpan
    reason: str = ""


def is_glitch_split(first: RepSpan, second: RepSpan, min_phase_s: float) -> bool:
    """Back-to-back repetitions (standing for less than `min_phase_s` between them, or not at all)
    where the first's rise or the second's fall takes less than `min_phase_s`: a few frames where the
    depth signal jumps to standing and back (a pose that failed at the bottom, possibly read as
    standing for a frame or two), not a repetition ending and the next beginning."""
    return (_shorter(second.start_t - first.end_t, min_phase_s)
            and _shorter(min(first.end_t - first.bottom_t, second.bottom_t - second.start_t), min_phase_s))


def _shorter(seconds: float, limit: float) -> bool:
    return seconds < limit + 1e-9  # frame times are multiples of 1/fps: equal within rounding counts


def merge_spans(first: RepSpan, second: RepSpan) -> RepSpan:
    """One repetition from a glitch split: the deeper bottom, the first's start, the second's end."""
    deeper = first if first.peak_depth >= second.peak_depth else second
    return RepSpan(first.start_frame, deeper.bottom_frame, second.end_frame, deeper.peak_depth,
                   first.started_in_clip, deeper.knee_bent, first.missing_frames + second.missing_frames,
                   second.trough_depth, second.trough_frame, first.start_t, deeper.bottom_t, second.end_t,
                   second.trough_t, first.conf_sum + second.conf_sum, first.conf_frames + second.conf_frames,
                   deeper.bent_depth, first.after_landing, deeper.shallow, first.rest_depth)


class RepStream:
    """The one repetition logic of files and of the live engine: a RepCounter, repetitions split by
    a glitch merged (`is_glitch_split`), and those completed on joints too unsure
    (`reps.min_confidence`) set apart. `update` once per frame returns RepEvents; a completed
    repetition is announced once no later one can merge with it (normally `min_phase_s` after it
    ends). Memory does not grow with the stream."""

    def __init__(self, cfg: RepConfig, fps: float) -> None:
        self.cfg = cfg
        self.counter = RepCounter(cfg, fps)
        self.pending: RepSpan | None = None   # completed, may still merge with the next one
        self._bottom_told: RepSpan | None = None
        self.shallow_held: list[RepSpan] = []   # shallow repetitions until there are shallow_set of them
        self._shallow_seen = 0

    @property
    def phase(self) -> Phase:
        return self.counter.phase

    def update(self, frame: int, t: float, depth: float, moving: bool = False, bent: bool = True,
               straight: bool = True, conf: float = 1.0, airborne: bool = False,
               hop: bool = False) -> list[RepEvent]:
        counter = self.counter
        before = counter.open
        phase = counter.update(frame, depth, moving, bent, straight, t, conf, airborne, hop)
        events: list[RepEvent] = []
        for rep in counter.completed:
            if self.pending is not None and is_glitch_split(self.pending, rep, self.cfg.min_phase_s):
                log.debug("repetitions split at frame %d merged (a glitch of the depth signal)",
                          rep.start_frame)
                self.pending = merge_spans(self.pending, rep)
            else:
                events += self._settle()
                self.pending = rep
        events += [RepEvent("rejected", rep, why) for rep, why in counter.rejected]
        counter.completed.clear()
        counter.rejected.clear()
        if counter.open is not None and counter.open is not before:
            events.append(RepEvent("started", counter.open))
        if phase == Phase.ASCENDING and counter.open is not None and self._bottom_told is not counter.open:
            self._bottom_told = counter.open
            events.append(RepEvent("bottom", counter.open))
        if self.pending is not None and not self._may_merge(t) and not self._awaits_jump(t):
            events += self._settle()
        return events

    def finish(self) -> tuple[list[RepEvent], RepSpan | None]:
        """At the end of the stream: the last repetition settled, shallow ones that never made a set
        rejected, and the one still open (partial), if it already reached min_depth with a bent knee."""
        events = self._settle()
        held, self.shallow_held = self.shallow_held, []
        why = (f"too shallow (depth below {self.cfg.min_depth:.2f}), and {len(held)} such dip(s) are no set "
               f"of quarter squats (a set counts from {self.cfg.shallow_set} of them)")
        return events + [RepEvent("rejected", rep, why) for rep in held], self.counter.finish()

    def _settle(self) -> list[RepEvent]:
        rep, self.pending = self.pending, None
        if rep is None:
            return []
        if rep.after_landing and not self._jumped_after(rep):
            return [RepEvent("rejected", rep, "the landing of a jump, not a squat (no jump followed it)")]
        if rep.shallow:
            self._shallow_seen += 1
            self.shallow_held.append(rep)
            if self._shallow_seen < self.cfg.shallow_set:
                return []
            held, self.shallow_held = self.shallow_held, []
            return [self._counted(r, self.cfg.min_confidence) for r in held]
        return [self._counted(rep, self.cfg.min_confidence)]

    @staticmethod
    def _counted(rep: RepSpan, min_confidence: float) -> RepEvent:
        return RepEvent("counted" if rep.confidence >= min_confidence else "uncertain", rep)

    def _jumped_after(self, rep: RepSpan) -> bool:
        """Whether the feet left the ground from the way up of `rep` or within landing_window_s after
        it ended: the dip was the next jump squat's, not only a landing."""
        return rep.bottom_t < self.counter.last_takeoff_t <= rep.end_t + self.cfg.landing_window_s

    def _awaits_jump(self, now: float) -> bool:
        """A landing's dip is settled once a jump followed it, or once none can any more."""
        rep = self.pending
        assert rep is not None
        return (rep.after_landing and not self._jumped_after(rep)
                and now <= rep.end_t + self.cfg.landing_window_s)

    def _may_merge(self, now: float) -> bool:
        """Whether a repetition still to come could merge with the pending one."""
        last, limit = self.pending, self.cfg.min_phase_s
        assert last is not None
        fast_rise = _shorter(last.end_t - last.bottom_t, limit)
        nxt = self.counter.open
        if nxt is not None:
            return _shorter(nxt.start_t - last.end_t, limit) and (
                fast_rise or _shorter(nxt.bottom_t - nxt.start_t, limit))
        # the next repetition would start at the last standing frame, or later; its bottom after now
        rest = self.counter.rest
        start = rest[1] if self.counter.phase == Phase.STANDING and rest is not None else now
        return _shorter(start - last.end_t, limit) and (fast_rise or _shorter(now - start, limit))


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


def count_reps(depth: np.ndarray, moving: np.ndarray, bent: np.ndarray, fps: float, cfg: RepConfig,
               straight: np.ndarray | None = None, conf: np.ndarray | None = None,
               airborne: np.ndarray | None = None, hop: np.ndarray | None = None) -> RepCount:
    """Run one RepStream over depth (T,) with feet-moving (T,), knee-bent (T,), knee-straight (T,,
    default all True) masks, the depth's confidence (T,, default 1), feet off the ground and hops (T,,
    default none), then refine the repetitions' start and end frames (`refine_boundaries`)."""
    stream = RepStream(cfg, fps)
    n = len(depth)
    straight = np.ones(n, bool) if straight is None else straight
    conf = np.ones(n) if conf is None else conf
    airborne = np.zeros(n, bool) if airborne is None else airborne
    hop = np.zeros(n, bool) if hop is None else hop
    phases = np.empty(n, dtype="<U10")
    events: list[RepEvent] = []
    for t in range(n):
        events += stream.update(t, t / fps, float(depth[t]), bool(moving[t]), bool(bent[t]),
                                bool(straight[t]), float(conf[t]), bool(airborne[t]), bool(hop[t]))
        phases[t] = stream.phase.value
    last, unfinished = stream.finish()
    events += last
    completed = [e.span for e in events if e.kind == "counted"]
    uncertain = [e.span for e in events if e.kind == "uncertain"]
    spans = sorted(completed + uncertain, key=lambda r: r.start_frame) + ([unfinished] if unfinished else [])
    refine_boundaries(spans, depth, cfg.onset_band, phases)
    return RepCount(completed, [unfinished] if unfinished else [],
                    [(e.span, e.reason) for e in events if e.kind == "rejected"], phases, uncertain)
