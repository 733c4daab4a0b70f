"""The live engine: joints in one frame at a time (from any estimator), events out.

    engine = OnlineAnalyzer(joint_names)
    for t, xy, score in frames:            # seconds, (K, 2) pixels, (K,) scores
        for event in engine.push(t, xy, score):
            print(event.to_dict())
    engine.finish()                        # the last repetition settled, and the set's summary

It runs exactly what `analyze_tracks` runs to count: the causal One Euro smoothing
(`smoothing.StreamSmoother`), the causal depth signal (`causal_depth.CausalDepth`) and the repetition
logic (`rep_counter.RepStream`), so a file and the same frames fed here give the same repetitions.
What the file path adds after the fact (boundaries moved to where the movement starts and stops,
whole-clip leg lengths, view and 3D legs for the per-repetition numbers) is not here. Memory stays
constant over an endless stream (fixed windows; the records of the last MAX_REPS repetitions are kept).

Events (`LiveEvent.to_dict()`): person_found, person_lost, rep_started, bottom (with the depth
verdict), rep_completed (number, depth verdict, descent and ascent seconds), rep_not_counted (why),
and at `finish()` summary.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squatpose.analysis.angles import Measure, thigh_angle
from squatpose.analysis.causal_depth import CausalDepth, DepthSample, analysis_columns, body_frame
from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.feedback import depth_words
from squatpose.analysis.rep_counter import Phase, RepEvent, RepSpan, RepStream
from squatpose.analysis.smoothing import StreamSmoother
from squatpose.analysis.verdicts import depth_class
from squatpose.analysis.view import VIEW_CHOICES

PARALLEL_DEPTH = 0.5   # depth signal with thighs about parallel (docs/analysis.md: 0.45-0.55)
LOST_AFTER_S = 1.0     # no leg joints for this long: the person is lost
MIN_LEG_JOINTS = 3     # of the six hips, knees and ankles, confidently seen: a person is there
MAX_REPS = 1000        # repetitions remembered for the summary


@dataclass(frozen=True)
class LiveEvent:
    """One event at stream time `t` (s) and frame index `frame` (frames pushed before it)."""

    event: str
    t: float
    frame: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "t": round(self.t, 3), "frame": self.frame, **self.data}


@dataclass(frozen=True)
class DepthVerdict:
    """How deep a repetition went. With a thigh angle (side views with confident hips and knees): the
    file analysis's three-way verdict ('below', 'parallel' = about parallel, 'above'; `depth_class`) on
    the 2D angle ± sd, sd being the pose model's thigh_model_sd_deg (the file analysis adds joint noise
    and camera tilt from the whole clip), in the report's words. Without one, the depth signal against
    PARALLEL_DEPTH. below_parallel is None where it cannot be told; `by` names the measure."""

    depth: float
    below_parallel: bool | None
    by: str
    thigh_deg: float | None = None
    verdict: str | None = None
    thigh_sd: float | None = None

    @property
    def words(self) -> str:
        if self.verdict is not None and self.thigh_deg is not None:
            return depth_words(self.verdict, self.thigh_deg)[1]
        return "below parallel" if self.below_parallel else (
            "above parallel" if self.below_parallel is False else "depth unknown")

    def to_dict(self) -> dict[str, Any]:
        return {"depth": round(self.depth, 3), "below_parallel": self.below_parallel,
                "verdict": self.words, "depth_verdict": self.verdict, "measured_by": self.by,
                "thigh_angle": None if self.thigh_deg is None else round(self.thigh_deg, 1),
                "thigh_angle_sd": self.thigh_sd}


@dataclass
class LiveState:
    """What a display shows after each frame."""

    person: bool = False
    depth: float | None = None
    below_parallel: bool = False
    phase: str = Phase.UNKNOWN.value
    reps: int = 0
    side_view: bool = False
    joints: np.ndarray | None = None   # (K, 3) smoothed x, y, score


class OnlineAnalyzer:
    """One person's squat set from a stream of joints; `push` once per frame in time order."""

    def __init__(self, joint_names: tuple[str, ...] | list[str], config: AnalysisConfig | None = None,
                 view: str = "auto", frame_height: float | None = None) -> None:
        if view not in VIEW_CHOICES:
            raise ValueError(f"view must be one of {VIEW_CHOICES}, got {view!r}")
        self.cfg = config or AnalysisConfig()
        self.joint_names = tuple(joint_names)
        self.columns = analysis_columns(self.joint_names)
        self.smoother = StreamSmoother(self.joint_names, self.cfg.smoothing, self.cfg.depth.leg_percentile,
                                       frame_height=frame_height, min_score=self.cfg.min_joint_score)
        self.depth = CausalDepth(self.cfg, view)
        self.reps = RepStream(self.cfg.reps, fps=30.0)   # fps is unused: every frame carries its time
        self.state = LiveState()
        self.frames = 0
        self.counted: deque[dict[str, Any]] = deque(maxlen=MAX_REPS)   # the last repetitions' records
        self.reps_counted = 0
        self.below_parallel = 0
        self.not_counted = 0
        self._last_t = -math.inf
        self._last_seen = -math.inf
        # lowest confident thigh angle of the open repetition, by start frame
        self._thigh: dict[int, float] = {}

    def push(self, t: float, xy: np.ndarray | None, score: np.ndarray | None) -> list[LiveEvent]:
        """One frame at time `t` s (later than the last): xy (K, 2) pixels and score (K,) in the order
        of `joint_names`, or None when no person was found in it."""
        if not math.isfinite(t) or t <= self._last_t:
            raise ValueError(f"frame times must increase: got {t} after {self._last_t}")
        self._last_t = t
        k = len(self.joint_names)
        xy = np.full((k, 2), np.nan) if xy is None else np.asarray(xy, np.float64).reshape(k, 2)
        score = np.zeros(k) if score is None else np.asarray(score, np.float64).reshape(k)
        score = np.where(np.isfinite(score) & np.isfinite(xy).all(axis=1), np.maximum(score, 0.0), 0.0)
        smooth_xy, smooth_score, _, _ = self.smoother.step(t, xy, score)
        body = body_frame(smooth_xy, smooth_score, self.columns, self.cfg.min_joint_score)
        sample = self.depth.update(t, body)
        events = self._presence(t, body)
        frame = self.frames
        for rep_event in self.reps.update(frame, t, sample.depth, sample.moving, sample.bent, sample.straight,
                                          sample.conf, sample.airborne, sample.hop):
            events += self._rep_event(rep_event, t)
        self._update_state(sample, self._frame_thigh(body, sample), smooth_xy, smooth_score)
        self.frames += 1
        return events

    def finish(self) -> list[LiveEvent]:
        """End of the stream: the last repetition settled, then the set's summary."""
        settled, _partial = self.reps.finish()
        events = [e for rep_event in settled for e in self._rep_event(rep_event, self._last_t)]
        events.append(LiveEvent("summary", self._last_t, self.frames, self.summary()))
        return events

    def summary(self) -> dict[str, Any]:
        return {"reps": self.reps_counted, "not_counted": self.not_counted, "frames": self.frames,
                "below_parallel": self.below_parallel, "repetitions": list(self.counted)}

    # ------------------------------------------------------------------ per frame

    def _presence(self, t: float, body) -> list[LiveEvent]:  # noqa: ANN001 - a one-frame Body
        seen = int((body.score[0, 1:] > 0).sum()) >= MIN_LEG_JOINTS   # parts 1: are hip, knee, ankle
        if seen:
            self._last_seen = t
            if not self.state.person:
                self.state.person = True
                return [LiveEvent("person_found", t, self.frames)]
        elif self.state.person and t - self._last_seen >= LOST_AFTER_S:
            self.state.person = False
            message = "nobody in view: step back so that hips, knees and feet are in the picture"
            return [LiveEvent("person_lost", t, self.frames, {"message": message})]
        return []

    def _rep_event(self, rep_event: RepEvent, t: float) -> list[LiveEvent]:
        rep = rep_event.span
        if rep_event.kind == "started":
            return [LiveEvent("rep_started", t, self.frames, {"rep": self.reps_counted + 1})]
        if rep_event.kind == "bottom":
            return [LiveEvent("bottom", t, self.frames,
                              {"rep": self.reps_counted + 1, **self._verdict(rep).to_dict()})]
        if rep_event.kind == "counted":
            record = {"rep": self.reps_counted + 1, **self._verdict(rep).to_dict(), **_tempo(rep)}
            self.counted.append(record)
            self.reps_counted += 1
            self.below_parallel += bool(record["below_parallel"])
            self._forget_thigh(rep.end_frame)
            return [LiveEvent("rep_completed", t, self.frames, record)]
        self.not_counted += 1
        if rep_event.kind == "rejected":   # a dip the counter closed: the pending repetition keeps its angles
            self._thigh.pop(rep.start_frame, None)
        else:
            self._forget_thigh(rep.end_frame)
        why = rep_event.reason or "the joints were found too unreliably"
        return [LiveEvent("rep_not_counted", t, self.frames,
                          {"reason": why, "depth": round(rep.peak_depth, 3)})]

    def _verdict(self, rep: RepSpan) -> DepthVerdict:
        end = rep.end_frame if rep.end_frame is not None else self.frames
        angles = [a for start, a in self._thigh.items() if rep.start_frame <= start <= end]
        if angles:
            thigh, sd = min(angles), self.cfg.feedback.thigh_model_sd_deg
            verdict = depth_class(thigh, sd, self.cfg.feedback.parallel_tolerance_deg)
            return DepthVerdict(rep.peak_depth, verdict == "below", "thigh angle", thigh, verdict, sd)
        return DepthVerdict(rep.peak_depth, bool(rep.peak_depth >= PARALLEL_DEPTH), "depth signal")

    def _forget_thigh(self, upto_frame: int | None) -> None:
        end = self.frames if upto_frame is None else upto_frame
        self._thigh = {start: a for start, a in self._thigh.items() if start > end}

    def _frame_thigh(self, body, sample: DepthSample) -> float | None:  # noqa: ANN001 - a one-frame Body
        """The frame's 2D thigh angle in a side view where hips and knees are confident, else None;
        kept as the lowest of the open repetition."""
        if not sample.side_view:
            return None
        angle = Measure.from_sides("deg", thigh_angle(body.hip, body.knee), body.conf("hip", "knee"))
        if angle.conf[0] < self.cfg.feedback.min_confidence or not np.isfinite(angle.value[0]):
            return None
        value = float(angle.value[0])
        rep = self.reps.counter.open
        if rep is not None:
            self._thigh[rep.start_frame] = min(self._thigh.get(rep.start_frame, math.inf), value)
        return value

    def _update_state(self, sample: DepthSample, thigh: float | None, xy: np.ndarray,
                      score: np.ndarray) -> None:
        state = self.state
        state.depth = float(sample.depth) if math.isfinite(sample.depth) else None
        if thigh is not None:
            state.below_parallel = thigh <= self.cfg.feedback.parallel_tolerance_deg
        else:
            state.below_parallel = state.depth is not None and state.depth >= PARALLEL_DEPTH
        state.phase = self.reps.phase.value
        state.reps = self.reps_counted
        state.side_view = sample.side_view
        state.joints = np.concatenate([xy, score[:, None]], axis=1)


def _tempo(rep: RepSpan) -> dict[str, Any]:
    descent = rep.bottom_t - rep.start_t if rep.started_in_clip else None
    return {"descent_s": None if descent is None else round(descent, 2),
            "ascent_s": round(rep.end_t - rep.bottom_t, 2)}
