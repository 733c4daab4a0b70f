"""Per-repetition numbers: timing, depth, asymmetry, knee valgus indicator, trunk lean.

Only what the view allows is reported; everything else is None with the reason in `notes`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from squatpose.analysis.angles import Measure, Measures
from squatpose.analysis.body import row_mean
from squatpose.analysis.depth import DepthSignal
from squatpose.analysis.lift3d import Legs3D
from squatpose.analysis.rep_counter import RepSpan

NOT_IN_FRONT_VIEW = "not measurable in a front/back view (the thigh and knee bend towards the camera)"
NOT_IN_SIDE_VIEW = "not measurable in a side view (the hips overlap)"


@dataclass(frozen=True)
class RepContext:
    """What a repetition is measured from. leg_length, thigh_ratio (2D thigh length / standing
    thigh length), hip_y (image y, down) and hip_conf are (T, 2) per side."""

    fps: float
    side_view: bool
    measures: Measures
    depth: DepthSignal
    leg_length: np.ndarray
    thigh_ratio: np.ndarray
    hip_y: np.ndarray
    hip_conf: np.ndarray
    min_conf: float
    bottom_band: float
    legs3d: Legs3D | None = None


@dataclass(frozen=True)
class Repetition:
    """One repetition. Times in seconds from the first frame; depth in leg lengths (0 standing,
    ~0.5 thighs parallel); angles in degrees: min_knee_angle is the interior angle (180 = straight),
    thigh_angle_bottom is the thigh below horizontal at its lowest (0 = parallel, < 0 below);
    knee_angle_diff = left - right at the bottom; hip_height_diff_pct = how much lower the left hip
    is than the right at the bottom, % of leg length; fppa_max: peak signed frontal plane
    projection angle per side (> 0 knee inward); notes: {field name: why it is None}.
    *_3d: the same from the one-camera 3D reconstruction (any view), with standard deviations
    (*_3d_sd, degrees); below_parallel_3d assumes a level camera.
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
    min_knee_angle: float | None
    thigh_angle_bottom: float | None
    below_parallel: bool | None
    knee_angle_diff: float | None
    hip_height_diff_pct: float | None
    fppa_max: dict[str, float | None] | None
    max_trunk_lean: float | None
    confidence: float
    missing_frames: int
    notes: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    min_knee_angle_3d: float | None = None
    min_knee_angle_3d_sd: float | None = None
    thigh_angle_bottom_3d: float | None = None
    thigh_angle_bottom_3d_sd: float | None = None
    below_parallel_3d: bool | None = None
    bottom_frame_3d: int | None = None
    trunk_lean_bottom: float | None = None
    trunk_lean_bottom_sd: float | None = None
    hip_angle_bottom: float | None = None
    hip_angle_bottom_sd: float | None = None
    early_hip_rise: float | None = None
    early_shoulder_rise: float | None = None
    shoulder_rise_ratio: float | None = None
    shoulder_rise_ratio_sd: float | None = None

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


def _both_sides(m: Measure, frames: np.ndarray, min_conf: float) -> np.ndarray:
    """(F,) left - right at `frames` where both sides are confident, else NaN."""
    ok = (m.lr_conf[frames] >= min_conf).all(axis=1)
    return np.where(ok, m.lr[frames, 0] - m.lr[frames, 1], np.nan)


def _side_view_numbers(ctx: RepContext, frames: np.ndarray, bottom: np.ndarray,
                       notes: dict[str, str]) -> dict[str, object]:
    m = ctx.measures
    knee = _nanreduce(np.min, _confident(m.knee_angle, frames, ctx.min_conf))
    thigh = _nanreduce(np.min, _confident(m.thigh_angle, frames, ctx.min_conf))
    missing = "hip, knee or ankle not detected confidently during this repetition"
    if knee is None:
        notes["min_knee_angle"] = missing
    if thigh is None:
        notes["thigh_angle_bottom"] = notes["below_parallel"] = missing
    diff = _nanreduce(np.median, _both_sides(m.knee_angle, bottom, ctx.min_conf))
    if diff is None:
        notes["knee_angle_diff"] = "both knees not detected confidently at the bottom"
    notes["hip_height_diff_pct"] = NOT_IN_SIDE_VIEW
    notes["fppa_max"] = "knee valgus needs a front/back view"
    return {"min_knee_angle": knee, "thigh_angle_bottom": thigh, "knee_angle_diff": diff,
            "hip_height_diff_pct": None, "fppa_max": None,
            "max_trunk_lean": _nanreduce(np.max, _confident(m.trunk_lean, frames, ctx.min_conf))}


def _front_view_numbers(ctx: RepContext, frames: np.ndarray, bottom: np.ndarray,
                        notes: dict[str, str]) -> dict[str, object]:
    m = ctx.measures
    for key in ("min_knee_angle", "thigh_angle_bottom", "below_parallel", "knee_angle_diff"):
        notes[key] = NOT_IN_FRONT_VIEW
    notes["max_trunk_lean"] = "trunk lean needs a side view"
    both = (ctx.hip_conf[bottom] >= ctx.min_conf).all(axis=1)
    lower = (ctx.hip_y[bottom, 0] - ctx.hip_y[bottom, 1]) / row_mean(ctx.leg_length[bottom])
    hip_diff = _nanreduce(np.median, np.where(both, lower, np.nan))  # > 0: left hip lower
    if hip_diff is None:
        notes["hip_height_diff_pct"] = "both hips not detected confidently at the bottom"
    loaded = frames[(np.nan_to_num(ctx.depth.depth[frames]) > 0)
                    & (ctx.thigh_ratio[frames] >= 0.5).all(axis=1)]
    fppa = np.where(m.fppa.lr_conf[loaded] >= ctx.min_conf, m.fppa.lr[loaded], np.nan)
    peaks = {side: _nanreduce(np.max, fppa[:, i]) for i, side in enumerate(("left", "right"))}
    return {"min_knee_angle": None, "thigh_angle_bottom": None, "knee_angle_diff": None,
            "hip_height_diff_pct": None if hip_diff is None else 100 * hip_diff,
            "fppa_max": peaks, "max_trunk_lean": None}


def _lowest_3d(m: Measure, sd: np.ndarray, frames: np.ndarray, min_conf: float
               ) -> tuple[float, float, int] | None:
    """(lowest combined value, its sd, frame) of a trusted 3D measure over `frames`, or None."""
    values = _confident(m, frames, min_conf)
    if not np.isfinite(values).any():
        return None
    i = int(np.nanargmin(values))
    side_sd = sd[frames[i]][np.isfinite(m.lr[frames[i]])]
    return float(values[i]), float(np.sqrt(np.mean(side_sd ** 2))), int(frames[i])


def _numbers_3d(ctx: RepContext, frames: np.ndarray, bottom: np.ndarray, parallel_tolerance: float,
                notes: dict[str, str]) -> dict[str, object]:
    """3D numbers of the repetition; only when a trusted value exists near its deepest point
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
    thigh = _lowest_3d(legs.thigh_angle, legs.thigh_sd, frames, ctx.min_conf)
    if thigh is None or _lowest_3d(legs.thigh_angle, legs.thigh_sd, bottom, ctx.min_conf) is None:
        notes["thigh_angle_bottom_3d"] = notes["below_parallel_3d"] = why
    else:
        out.update(thigh_angle_bottom_3d=thigh[0], thigh_angle_bottom_3d_sd=thigh[1],
                   below_parallel_3d=bool(thigh[0] <= parallel_tolerance))
    return out


def measure_repetition(span: RepSpan, number: int, ctx: RepContext, parallel_tolerance: float,
                       n_frames: int) -> Repetition:
    """Numbers for one repetition found by the counter."""
    end = span.end_frame if span.end_frame is not None else n_frames - 1
    frames = np.arange(span.start_frame, end + 1)
    bottom = bottom_frames(ctx.depth.depth, frames, span.peak_depth, ctx.bottom_band)
    notes: dict[str, str] = {}
    view_numbers = (_side_view_numbers if ctx.side_view else _front_view_numbers)(
        ctx, frames, bottom, notes)
    thigh = view_numbers["thigh_angle_bottom"]
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
        depth=span.peak_depth,
        below_parallel=None if thigh is None else bool(thigh <= parallel_tolerance),
        confidence=float(np.mean(ctx.depth.conf[frames])),
        missing_frames=span.missing_frames, notes=notes, **view_numbers,  # type: ignore[arg-type]
        **_numbers_3d(ctx, frames, bottom, parallel_tolerance, notes),  # type: ignore[arg-type]
    )
