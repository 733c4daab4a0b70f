"""The trunk in each repetition (needs shoulders): lean and hip angle at the bottom, and whether the hips
rose before the chest.

Per frame, angles.py measures the trunk lean (hip -> shoulder tilt from the image vertical) and the hip
angle (interior shoulder-hip-knee angle, 180 = straight), per side, each with a standard deviation from
the joints' position noise. Both are angles in the body's side (sagittal) plane: a side view shows them;
from the front or back a forward lean points the trunk at the camera and the image keeps only its
sideways tilt, so neither is reported there.

"Hips rise before the chest": over the first part of the way up (until the hips have covered
`rise_fraction` of their rise from the bottom), how far the shoulders rose against how far the hips rose.
A trunk that keeps its angle moves as one piece and the shoulders rise as far as the hips (ratio 1); a
trunk coming upright lifts them farther (> 1); hips shooting up while the chest stays down leave it small.
Only image heights enter, so the ratio is scale-free and, with a level camera, the same from any
direction (turning the camera about the vertical foreshortens widths, not heights). It is still reported
in side (and oblique) views only: from the front or back the thighs hide the hips at the bottom, and a
pose model's guess there (on a front-view barbell clip, MoveNet Thunder put the hips below the knees)
makes the hips seem to rise far more than they did.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from squatpose.analysis.angles import Measure
from squatpose.analysis.body import Body, joint_sd, row_mean
from squatpose.analysis.config import TrunkConfig
from squatpose.analysis.feedback import FIX, Feedback
from squatpose.analysis.rep_measures import RepContext, Repetition, bottom_frames
from squatpose.analysis.tracks import JointTracks

HIPS_FIRST = "hips_rise_first"
NO_SHOULDERS = "the joint tracks have no shoulders (a six-joint pose model); trunk measures need them"
NEEDS_SIDE_VIEW = ("needs a side view (from the front or back a forward lean points the trunk at the "
                   "camera)")
RISE_NEEDS_SIDE_VIEW = ("needs a side view: from the front or back the thighs hide the hips at the bottom, "
                        "and pose models place them there unreliably")
MIN_HIP_TRAVEL = 0.05  # leg lengths: a way up shorter than this has no "first part" to speak of
HIP_BOTTOM_BAND = 0.02  # leg lengths: the hips' bottom = frames this close to their lowest (a few noise sds)
BOTTOM_FIELDS = ("trunk_lean_bottom", "hip_angle_bottom")
RISE_FIELDS = ("early_hip_rise", "early_shoulder_rise", "shoulder_rise_ratio")


def has_shoulders(tracks: JointTracks) -> bool:
    """Whether the tracks carry a shoulder at all (six-joint models do not)."""
    return bool({"left_shoulder", "right_shoulder"} & set(tracks.joint_names))


@dataclass(frozen=True)
class TrunkContext:
    """What the trunk numbers need beyond RepContext: the body, whether the tracks have shoulders, the
    joints' position noise (`joint_sd_leg` leg lengths at score 1, as 1 / score floored at `score_floor`)
    and the check's settings."""

    body: Body
    shoulders: bool
    joint_sd_leg: float
    score_floor: float
    cfg: TrunkConfig


@dataclass(frozen=True)
class EarlyAscent:
    """Over the first part of the way up: hip and shoulder rise in leg lengths, shoulder rise / hip rise
    and its standard deviation."""

    hip_rise: float
    shoulder_rise: float
    ratio: float
    ratio_sd: float


def _side_heights(body: Body, part: str, min_conf: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) image y of `part` per side, NaN where under min_conf, and (T,) the mean of the confident
    sides (NaN where none is): where to look, not what to measure (it jumps when a side comes and goes)."""
    y = np.where(body.score_of(part) >= min_conf, body.xy_of(part)[..., 1], np.nan)
    return y, row_mean(y)


def _rise(y: np.ndarray, sd: np.ndarray, low: np.ndarray, near: np.ndarray) -> tuple[float, float] | None:
    """(rise in px from the `low` to the `near` frames, its variance) of a joint pair, per side over the
    frames where that side is confident, averaged over the sides seen in both; None if none is. Each
    average counts as one measurement: a pose model's error at one pose repeats from frame to frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a side never seen: NaN
        rise = np.nanmean(y[low], axis=0) - np.nanmean(y[near], axis=0)
        var = np.nanmedian(np.where(np.isfinite(y[low]), sd[low], np.nan), axis=0) ** 2 + np.nanmedian(
            np.where(np.isfinite(y[near]), sd[near], np.nan), axis=0) ** 2
    ok = np.isfinite(rise)
    if not ok.any():
        return None
    return float(np.mean(rise[ok])), float(np.sum(var[ok]) / ok.sum() ** 2)


def early_ascent(frames: np.ndarray, ctx: RepContext, tc: TrunkContext) -> EarlyAscent | str:
    """Hip against shoulder rise over the first part of the way up of a repetition (`frames`), or why it
    cannot be measured.

    Heights are averaged over the hips' bottom (the frames within HIP_BOTTOM_BAND of their lowest: the
    single lowest frame would pick the hips' noise) and over three frames around the first frame after
    it where the hips have covered `rise_fraction` of their rise to their highest point, each side by
    itself (a midpoint would jump when the far side comes and goes), then averaged over the sides."""
    body = tc.body
    hip_y, hip = _side_heights(body, "hip", ctx.min_conf)
    shoulder_y, shoulder = _side_heights(body, "shoulder", ctx.min_conf)
    seen = frames[np.isfinite(hip[frames]) & np.isfinite(shoulder[frames])]
    if not seen.size:
        return "hips and shoulders not detected confidently together during this repetition"
    leg = float(np.nanmedian(row_mean(ctx.leg_length[seen])))
    if not np.isfinite(leg):
        return "the leg length is unknown during this repetition (legs not seen)"
    lowest = seen[np.argmax(hip[seen])]
    low = seen[(hip[seen] >= hip[lowest] - HIP_BOTTOM_BAND * leg) & (np.abs(seen - lowest) <= ctx.fps)]
    after = seen[seen > low.max()]
    hip_low = float(np.mean(hip[low]))
    travel = hip_low - np.min(hip[after], initial=hip_low)
    if not travel > MIN_HIP_TRAVEL * leg:
        return "the hips are not seen rising after the bottom with the shoulders (joints lost on the way up)"
    e = int(after[np.argmax(hip_low - hip[after] >= tc.cfg.rise_fraction * travel)])
    near = np.intersect1d(np.arange(e - 1, e + 2), seen)
    sd = {part: joint_sd(body.score_of(part), ctx.leg_length, tc.joint_sd_leg, tc.score_floor)
          for part in ("hip", "shoulder")}
    hips, shoulders = _rise(hip_y, sd["hip"], low, near), _rise(shoulder_y, sd["shoulder"], low, near)
    if hips is None or shoulders is None or not hips[0] > 0:
        return "the same hip and shoulder are not seen at the bottom and on the way up"
    ratio = shoulders[0] / hips[0]
    ratio_sd = float(np.sqrt(shoulders[1] + ratio ** 2 * hips[1]) / hips[0])
    return EarlyAscent(hips[0] / leg, shoulders[0] / leg, ratio, ratio_sd)


def _at_bottom(m: Measure, bottom: np.ndarray, min_conf: float) -> tuple[float, float] | None:
    """(median combined value, median sd) of a measure over the confident bottom frames, or None."""
    ok = (m.conf[bottom] >= min_conf) & np.isfinite(m.value[bottom])
    if not ok.any() or m.sd is None:
        return None
    return float(np.median(m.value[bottom][ok])), float(np.median(m.sd[bottom][ok]))


def _bottom_numbers(bottom: np.ndarray, ctx: RepContext, notes: dict[str, str]) -> dict[str, float]:
    """Trunk lean and hip angle over the repetition's `bottom` frames (side views)."""
    if not ctx.side_view:
        notes.update({key: f"{key.replace('_bottom', '').replace('_', ' ')} {NEEDS_SIDE_VIEW}"
                      for key in BOTTOM_FIELDS})
        return {}
    out = {}
    for key, measure, joints in (("trunk_lean_bottom", ctx.measures.trunk_lean, "hip and shoulder"),
                                 ("hip_angle_bottom", ctx.measures.hip_angle, "shoulder, hip and knee")):
        found = _at_bottom(measure, bottom, ctx.min_conf)
        if found is None:
            notes[key] = f"{joints} not detected confidently at the bottom"
        else:
            out[key], out[f"{key}_sd"] = found
    return out


def with_trunk_numbers(rep: Repetition, ctx: RepContext, tc: TrunkContext) -> Repetition:
    """`rep` with its trunk numbers filled in, and the reason in `notes` for each one that is not."""
    notes = dict(rep.notes)
    if not tc.shoulders:
        notes.update({key: NO_SHOULDERS for key in BOTTOM_FIELDS + RISE_FIELDS + ("max_trunk_lean",)})
        return dataclasses.replace(rep, notes=notes)
    end = rep.end_frame if rep.end_frame is not None else len(ctx.depth.depth) - 1
    frames = np.arange(rep.start_frame, end + 1)
    numbers: dict[str, float] = _bottom_numbers(
        bottom_frames(ctx.depth.depth, frames, rep.depth, ctx.bottom_band), ctx, notes)
    if not ctx.side_view:
        found: EarlyAscent | str = RISE_NEEDS_SIDE_VIEW
    elif rep.end_frame is None:
        found = "the repetition is unfinished when the video ends"
    else:
        found = early_ascent(frames, ctx, tc)
    if isinstance(found, str):
        notes.update({key: found for key in RISE_FIELDS})
    else:
        numbers.update(early_hip_rise=found.hip_rise, early_shoulder_rise=found.shoulder_rise,
                       shoulder_rise_ratio=found.ratio, shoulder_rise_ratio_sd=found.ratio_sd)
    return dataclasses.replace(rep, notes=notes, **numbers)


def hips_rose_first(rep: Repetition, cfg: TrunkConfig) -> bool:
    """The shoulders rose clearly less than the hips early in the way up: the ratio lies below
    `min_shoulder_rise_ratio` by more than its standard deviation."""
    ratio, sd = rep.shoulder_rise_ratio, rep.shoulder_rise_ratio_sd
    return ratio is not None and sd is not None and ratio + sd < cfg.min_shoulder_rise_ratio


def _rep_list(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"rep {numbers[0]}"
    return "reps " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def hips_first_feedback(reps: list[Repetition]) -> list[Feedback]:
    """One sentence naming the completed repetitions flagged HIPS_FIRST (none when no repetition is)."""
    flagged = [r for r in reps if HIPS_FIRST in r.flags]
    if not flagged:
        return []
    shares = sorted(round(100 * max(0.0, r.shoulder_rise_ratio or 0.0)) for r in flagged)
    how = f"{shares[0]}%" if shares[0] == shares[-1] else f"{shares[0]}-{shares[-1]}%"
    return [Feedback(f"Your hips rose before your chest on {_rep_list([r.number for r in flagged])}: drive the "
                     "chest up with the hips.", "trunk", tone=FIX,
                     why=(f"early in the way up the shoulders rose only {how} as far as the hips",))]


def trunk_summary(reps: list[Repetition], shoulders: bool) -> dict[str, object]:
    """Set-level trunk numbers for summary.json: medians over the completed repetitions, and which were
    flagged; `note` says why a number is missing."""
    def median(key: str) -> float | None:
        values = [getattr(r, key) for r in reps if getattr(r, key) is not None]
        return float(np.median(values)) if values else None

    out: dict[str, object] = {"shoulders": shoulders,
                              "trunk_lean_bottom": median("trunk_lean_bottom"),
                              "hip_angle_bottom": median("hip_angle_bottom"),
                              "shoulder_rise_ratio": median("shoulder_rise_ratio"),
                              "hips_rise_first_reps": [r.number for r in reps if HIPS_FIRST in r.flags]}
    if not shoulders:
        out["note"] = NO_SHOULDERS
    return out
