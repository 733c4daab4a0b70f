"""Per-repetition numbers: timing, depth and its verdict, knees, asymmetry, trunk lean.

Only what the view allows is reported; everything else is None with the reason in `notes`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from squatpose.analysis.angles import Measure, Measures
from squatpose.analysis.body import row_mean
from squatpose.analysis.config import FeedbackConfig
from squatpose.analysis.depth import DepthSignal
from squatpose.analysis.lift3d import Legs3D
from squatpose.analysis.rep_counter import RepSpan
from squatpose.analysis.thigh import ThighElevation
from squatpose.analysis.verdicts import depth_verdict, knee_difference, knees_verdict

NOT_IN_FRONT_VIEW = "not measurable in a front/back view (the thigh and knee bend towards the camera)"
NOT_IN_SIDE_VIEW = "not measurable in a side view (the hips overlap)"


@dataclass(frozen=True)
class RepContext:
    """What a repetition is measured from. leg_length, hip_y (image y, down) and hip_conf are (T, 2)
    per side; hip_width: (T,) hips
    apart in the image, leg lengths; thigh: the thigh's angle to the horizontal in any view;
    joint_sd: 2D joint noise at score 1, leg lengths (the 3D lift's)."""

    fps: float
    side_view: bool
    measures: Measures
    depth: DepthSignal
    leg_length: np.ndarray
    hip_y: np.ndarray
    hip_conf: np.ndarray
    hip_width: np.ndarray
    thigh: ThighElevation
    feedback: FeedbackConfig
    bottom_band: float
    joint_sd: float
    legs3d: Legs3D | None = None

    @property
    def min_conf(self) -> float:
        return self.feedback.min_confidence


@dataclass(frozen=True)
class Repetition:
    """One repetition. Times in seconds from the first frame; depth in leg lengths (0 standing,
    ~0.5 thighs parallel). depth_verdict: 'below', 'parallel' (about parallel) or 'above' parallel,
    None where not measurable (notes say why); thigh_angle: the thigh to the horizontal at the
    lowest point (degrees, 0 = parallel, < 0 below; any view, thigh.py) with thigh_angle_sd, one
    standard deviation. knees_in: both knees moved inward beyond the threshold and the uncertainty;
    knee_inward_pct: their mean distance inside the hip-ankle line at the bottom and on the way up
    (% of leg length, < 0 outside) with knee_inward_sd_pct. min_knee_angle: interior knee angle
    (180 = straight), 2D, side views; *_3d: from the one-camera 3D reconstruction (any view), with
    standard deviations (*_sd); knee_angle_diff: left - right 3D knee angle at the bottom;
    hip_height_diff_pct: how much lower the left hip is than the right at the bottom, % of leg
    length (front view); notes: {field name: why it is None}; flags: machine-readable findings.
    Trunk (trunk.py; needs shoulders): trunk_lean_bottom and hip_angle_bottom (interior shoulder-hip-knee
    angle, 180 = straight) at the bottom, side views, with sd; over the first part of the way up the
    hips' and the shoulders' rise (early_hip_rise, early_shoulder_rise, leg lengths) and
    shoulder_rise_ratio = shoulders / hips (1 = the trunk keeps its angle, < 1 = the hips lead), with sd."""

    number: int
    complete: bool
    start_frame: int
    bottom_frame: int
    end_frame: int | None
    start_time: float
    bottom_time: float
    end_time: float | None
    started_in_clip: bool
    descent_s: float | None
    ascent_s: float | None
    depth: float
    confidence: float
    missing_frames: int
    depth_verdict: str | None = None
    thigh_angle: float | None = None
    thigh_angle_sd: float | None = None
    knees_in: bool | None = None
    knee_inward_pct: float | None = None
    knee_inward_sd_pct: float | None = None
    min_knee_angle: float | None = None
    min_knee_angle_3d: float | None = None
    min_knee_angle_3d_sd: float | None = None
    bottom_frame_3d: int | None = None
    knee_angle_diff: float | None = None
    knee_angle_diff_sd: float | None = None
    hip_height_diff_pct: float | None = None
    max_trunk_lean: float | None = None
    trunk_lean_bottom: float | None = None
    trunk_lean_bottom_sd: float | None = None
    hip_angle_bottom: float | None = None
    hip_angle_bottom_sd: float | None = None
    early_hip_rise: float | None = None
    early_shoulder_rise: float | None = None
    shoulder_rise_ratio: float | None = None
    shoulder_rise_ratio_sd: float | None = None
    notes: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


def bottom_frames(depth: np.ndarray, frames: np.ndarray, peak_depth: float, band: float) -> np.ndarray:
    """The repetition's `frames` whose depth is within `band` of its deepest point."""
    return frames[np.nan_to_num(depth[frames], nan=-1.0) >= peak_depth - band]


def _nanreduce(fn, x: np.ndarray) -> float | None:  # type: ignore[no-untyped-def]
    x = x[np.isfinite(x)]
    return float(fn(x)) if x.size else None


def _confident(m: Measure, frames: np.ndarray, min_conf: float) -> np.ndarray:
    """(F,) combined values of `m` at `frames`, NaN where its confidence is below min_conf."""
    return np.where(m.conf[frames] >= min_conf, m.value[frames], np.nan)


def _view_numbers(ctx: RepContext, frames: np.ndarray, notes: dict[str, str]) -> dict[str, object]:
    """The 2D knee angle and trunk lean, which only a side view shows."""
    if not ctx.side_view:
        notes["min_knee_angle"] = NOT_IN_FRONT_VIEW
        notes["max_trunk_lean"] = "trunk lean needs a side view"
        return {}
    m = ctx.measures
    knee = _nanreduce(np.min, _confident(m.knee_angle, frames, ctx.min_conf))
    if knee is None:
        notes["min_knee_angle"] = "hip, knee or ankle not detected confidently during this repetition"
    return {"min_knee_angle": knee,
            "max_trunk_lean": _nanreduce(np.max, _confident(m.trunk_lean, frames, ctx.min_conf))}


def _hip_heights(ctx: RepContext, bottom: np.ndarray, notes: dict[str, str]) -> dict[str, object]:
    """How much lower the left hip is than the right at the bottom, where both hips are confident
    and apart in the image (any view)."""
    apart = ctx.hip_width[bottom] >= ctx.feedback.min_hip_width
    both = (ctx.hip_conf[bottom] >= ctx.min_conf).all(axis=1) & apart
    lower = (ctx.hip_y[bottom, 0] - ctx.hip_y[bottom, 1]) / row_mean(ctx.leg_length[bottom])
    hip_diff = _nanreduce(np.median, np.where(both, lower, np.nan))  # > 0: left hip lower
    if hip_diff is None:
        notes["hip_height_diff_pct"] = (NOT_IN_SIDE_VIEW if not apart.any() or apart.mean() < 0.5 else
                                        "both hips not detected confidently at the bottom")
        return {}
    return {"hip_height_diff_pct": 100 * hip_diff}


def _lowest_3d(m: Measure, sd: np.ndarray, frames: np.ndarray, min_conf: float
               ) -> tuple[float, float, int] | None:
    """(lowest combined value, its sd, frame) of a trusted 3D measure over `frames`, or None."""
    values = _confident(m, frames, min_conf)
    if not np.isfinite(values).any():
        return None
    i = int(np.nanargmin(values))
    side_sd = sd[frames[i]][np.isfinite(m.lr[frames[i]])]
    return float(values[i]), float(np.sqrt(np.mean(side_sd ** 2))), int(frames[i])


def _numbers_3d(ctx: RepContext, frames: np.ndarray, bottom: np.ndarray, notes: dict[str, str]
                ) -> dict[str, object]:
    """3D knee numbers of the repetition; only when a trusted value exists near its deepest point
    (`bottom` frames), else the lowest value found would not be the bottom's."""
    legs = ctx.legs3d
    if legs is None:
        return {}
    why = "; ".join(legs.notes.values()) if len(legs.notes) == 2 else (
        "no trustworthy 3D leg near the bottom of this repetition (joints missing or too uncertain "
        "there, or a thigh or shin pointing almost straight at the camera)")
    out: dict[str, object] = {}
    knee = _lowest_3d(legs.knee_angle, legs.knee_sd, frames, ctx.min_conf)
    if knee is None or _lowest_3d(legs.knee_angle, legs.knee_sd, bottom, ctx.min_conf) is None:
        notes["min_knee_angle_3d"] = why
    else:
        out.update(min_knee_angle_3d=knee[0], min_knee_angle_3d_sd=knee[1], bottom_frame_3d=knee[2])
    diff = knee_difference(legs.knee_angle, legs.knee_sd, bottom, ctx.min_conf, ctx.feedback.knee_asymmetry_deg)
    if diff is None:
        notes["knee_angle_diff"] = "both knees' 3D angles not trusted at the bottom"
    else:
        out.update(knee_angle_diff=diff.diff_deg, knee_angle_diff_sd=diff.sd_deg)
    return out


def _verdicts(ctx: RepContext, span: RepSpan, frames: np.ndarray, bottom: np.ndarray,
              notes: dict[str, str]) -> dict[str, object]:
    depth = depth_verdict(ctx.thigh, frames, bottom, ctx.fps, ctx.feedback)
    if depth.note:
        notes["depth_verdict"] = depth.note
    if depth.thigh_angle is None:
        notes["thigh_angle"] = depth.note or ""
    knees = knees_verdict(ctx.measures.knee_inward, ctx.hip_width, frames, bottom, ctx.depth.depth,
                          span.peak_depth, ctx.joint_sd, ctx.feedback)
    if knees.note:
        notes["knees_in"] = notes["knee_inward_pct"] = knees.note
    return {"depth_verdict": depth.verdict, "thigh_angle": depth.thigh_angle, "thigh_angle_sd": depth.sd,
            "knees_in": knees.caving, "knee_inward_pct": knees.inward_pct, "knee_inward_sd_pct": knees.sd_pct}


def measure_repetition(span: RepSpan, number: int, ctx: RepContext, n_frames: int) -> Repetition:
    """Numbers for one repetition found by the counter."""
    end = span.end_frame if span.end_frame is not None else n_frames - 1
    frames = np.arange(span.start_frame, end + 1)
    bottom = bottom_frames(ctx.depth.depth, frames, span.peak_depth, ctx.bottom_band)
    notes: dict[str, str] = {}
    if not span.started_in_clip:
        notes["descent_s"] = "the repetition began before the tracked part of the video"
    if span.end_frame is None:
        notes["ascent_s"] = "the repetition is unfinished when the video ends"
    t = 1.0 / ctx.fps
    return Repetition(
        number=number, complete=span.end_frame is not None,
        start_frame=span.start_frame, bottom_frame=span.bottom_frame, end_frame=span.end_frame,
        start_time=span.start_frame * t, bottom_time=span.bottom_frame * t,
        end_time=None if span.end_frame is None else span.end_frame * t,
        started_in_clip=span.started_in_clip,
        descent_s=(span.bottom_frame - span.start_frame) * t if span.started_in_clip else None,
        ascent_s=None if span.end_frame is None else (span.end_frame - span.bottom_frame) * t,
        depth=span.peak_depth, confidence=float(np.mean(ctx.depth.conf[frames])),
        missing_frames=span.missing_frames, notes=notes,
        **_view_numbers(ctx, frames, notes), **_hip_heights(ctx, bottom, notes),  # type: ignore[arg-type]
        **_verdicts(ctx, span, frames, bottom, notes),  # type: ignore[arg-type]
        **_numbers_3d(ctx, frames, bottom, notes),  # type: ignore[arg-type]
    )
