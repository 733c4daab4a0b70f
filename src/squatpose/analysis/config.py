"""Analysis configuration: frozen dataclasses per section with range checks, read by squatpose.config.

Depths are fractions of the person's leg length (see depth.py: 0 = standing, about 0.5 = thighs
parallel in a typical squat). Angles are degrees, times seconds. Where a value is a project choice
rather than a published norm, docs/analysis.md says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from squatpose.config import check, from_dict, load

# The default of AnalysisConfig.min_joint_score: the first built-in model's raw 0.3, calibrated.
MIN_JOINT_SCORE = 0.53
ONE_FLOOR = "min_joint_score (the one joint-score floor of smoothing, measures, 3D legs, drawing, tracker)"


@dataclass(frozen=True)
class SmoothingParams:
    """One Euro and gating parameters (analysis/smoothing.py).

    min_cutoff: Hz, cutoff at rest. beta: Hz per (leg length / s). d_cutoff: Hz, for the speed.
    Joints under `min_joint_score` are not fed. max_hold_frames: frames an estimate is held.
    swap_ratio: swap left/right legs when the swapped assignment costs < swap_ratio x kept (0 = off).
    swap_min_dist: ... and the kept assignment is off by more than this (leg lengths per joint).
    """

    min_cutoff: float = 1.0
    beta: float = 5.0
    d_cutoff: float = 1.0
    max_hold_frames: int = 5
    swap_ratio: float = 0.5
    swap_min_dist: float = 0.05
    REPLACED: ClassVar[dict[str, str]] = {"min_score": ONE_FLOOR}

    def __post_init__(self) -> None:
        check("smoothing", min_cutoff=self.min_cutoff > 0, d_cutoff=self.d_cutoff > 0, beta=self.beta >= 0,
              max_hold_frames=self.max_hold_frames >= 0,
              swap_ratio=0 <= self.swap_ratio < 1, swap_min_dist=self.swap_min_dist >= 0)


@dataclass(frozen=True)
class ViewConfig:
    """Side vs front: horizontal hip-knee offset at depth (leg lengths), or stance width;
    front_min_width: a standing stance this wide means front/back whatever the thigh offset (on
    Penn Action 90 % of side views stand narrower than 0.42, 75 % of front/back views wider)."""

    deep_depth: float = 0.25
    min_deep_frames: int = 5
    side_min_thigh_offset: float = 0.2
    side_max_width: float = 0.25
    front_min_width: float = 0.45

    def __post_init__(self) -> None:
        check("view", deep_depth=0 < self.deep_depth < 1, min_deep_frames=self.min_deep_frames >= 1,
               side_min_thigh_offset=self.side_min_thigh_offset > 0,
               side_max_width=self.side_max_width > 0,
               front_min_width=self.front_min_width >= self.side_max_width)


@dataclass(frozen=True)
class DepthConfig:
    """leg_percentile: percentile of thigh + shin length taken as the standing leg length, over
    frames within leg_window_s (either side) of each frame.
    knee_weight_side: weight of the knee-angle depth estimate in side views (0 = leg distance only).
    walk_window_s / walk_displacement: feet that move more than this many leg lengths between the
    two halves of a window mark walking (no reps counted there), if they also changed their places
    relative to each other by more than walk_stance_change leg lengths (steps; a camera that moves,
    pans or turns moves both feet alike).
    jump_lift / hop_lift: both ankles rising this many leg lengths within a quarter of a second are off
    the ground (a jump's flight; a heel raise lifts the ankles less than 0.09 on the shared clips) / hop
    (a jump at least this small follows a landing's dip in a set of jump squats).
    bend_knee_angle / bend_thigh_ratio: a repetition needs a visibly bent knee at the bottom: 2D
    knee angle <= bend_knee_angle (side-like views) or 2D thigh/shin length ratio <= this fraction
    of its standing value (front-like views, where the thigh points at the camera); the other leg
    need only pass the looser bend_other_knee_angle / bend_other_thigh_ratio (a pose model often
    straightens a leg hidden behind the other).
    raised_foot: an ankle this many leg lengths above the other is a foot off the floor (a knee raise,
    a step-up): the depth and the bent-knee test then read the standing leg only, so a knee lifted
    high is no squat while a squat on one leg still is. Squats keep their ankles within 0.28 leg
    lengths of level at the bottom (Penn Action, 114 clips; motion capture seen from any side: 0.14).
    use_3d: the depth signal reads the 3D legs (lift3d.py) where they are well posed. Off by default:
    on the 26 shared real clips it counted 21 right against 22 with the 2D signal (docs/analysis.md);
    the 3D legs still give the per-repetition 3D knee angle and below-parallel."""

    leg_percentile: float = 85.0
    leg_window_s: float = 4.0
    knee_weight_side: float = 0.5
    walk_window_s: float = 1.0
    walk_displacement: float = 0.25
    walk_stance_change: float = 0.1
    jump_lift: float = 0.12
    hop_lift: float = 0.04
    bend_knee_angle: float = 140.0
    bend_thigh_ratio: float = 0.75
    bend_other_knee_angle: float = 155.0
    bend_other_thigh_ratio: float = 0.85
    raised_foot: float = 0.5
    use_3d: bool = False

    def __post_init__(self) -> None:
        check("depth", leg_percentile=50 <= self.leg_percentile <= 100,
               leg_window_s=self.leg_window_s > 0,
               knee_weight_side=0 <= self.knee_weight_side <= 1,
               walk_window_s=self.walk_window_s > 0, walk_displacement=self.walk_displacement > 0,
               walk_stance_change=self.walk_stance_change >= 0, jump_lift=self.jump_lift > 0,
               hop_lift=0 < self.hop_lift <= self.jump_lift,
               bend_knee_angle=0 < self.bend_knee_angle <= 180,
               bend_thigh_ratio=0 < self.bend_thigh_ratio <= 1,
               bend_other_knee_angle=self.bend_knee_angle <= self.bend_other_knee_angle <= 180,
               bend_other_thigh_ratio=self.bend_thigh_ratio <= self.bend_other_thigh_ratio <= 1,
               raised_foot=self.raised_foot > 0)


@dataclass(frozen=True)
class RepConfig:
    """Hysteresis thresholds on the normalised depth signal (leg lengths) and duration limits;
    onset_band: a repetition starts/ends where depth is within this of the standing level;
    min_confidence: a repetition whose depth signal is less sure than this on average (the signal's
    confidence is the least likely of the joints it uses, a calibrated score) is listed as uncertain and not
    counted (a count must not rest on joints the model barely found);
    min_phase_s: two repetitions with less standing than this between them, where the first rises or
    the second sinks in less than this, are one repetition split by a glitch of the depth signal (no
    one goes from the bottom to standing, or back, that fast) and are merged;
    max_flight_s: both feet off the ground for at most this long is a jump (longer: the camera moved);
    landing_window_s: a dip that starts within this after a jump's landing is the landing, and counts
    only if it ends in a jump within this again (a set of jump squats);
    shallow_set: repetitions between start_depth and min_depth deep (quarter squats) count once this
    many of them were seen (a set of them), the earlier ones too; fewer are dips that are no squat (a
    bar picked up, a fidget) and are listed as not counted."""

    standing_depth: float = 0.08
    start_depth: float = 0.12
    min_depth: float = 0.18
    bottom_band: float = 0.03
    onset_band: float = 0.02
    min_duration_s: float = 0.5
    max_duration_s: float = 20.0
    min_confidence: float = 0.2
    min_phase_s: float = 0.2
    max_flight_s: float = 1.0
    landing_window_s: float = 0.5
    shallow_set: int = 3

    def __post_init__(self) -> None:
        check("reps", standing_depth=0 < self.standing_depth < self.start_depth,
               min_phase_s=0 <= self.min_phase_s < self.min_duration_s,
               min_confidence=0 <= self.min_confidence < 1, max_flight_s=self.max_flight_s > 0,
               landing_window_s=self.landing_window_s >= 0, shallow_set=self.shallow_set >= 1,
               min_depth=self.start_depth <= self.min_depth < 1, bottom_band=self.bottom_band > 0,
               onset_band=0 <= self.onset_band < self.standing_depth,
               min_duration_s=self.min_duration_s >= 0,
               max_duration_s=self.max_duration_s > self.min_duration_s)


@dataclass(frozen=True)
class FeedbackConfig:
    """Verdicts and feedback (docs/analysis.md gives each threshold's source, or marks it a project
    choice). parallel_tolerance_deg: the thigh angle that counts as parallel; thigh_model_sd_deg: the
    uncertainty of a pose model's hip and knee joint centres against the thigh a judge sees, added
    to every thigh angle's; max_thigh_sd_deg: a depth verdict needs a thigh angle at least this
    certain; fast_descent_s: a way down shorter than this is a drop, not a controlled descent;
    knee_inward_pct: knees this far inside the hip-ankle line (% of leg length, both knees' mean)
    beyond the measure's uncertainty are caving in; min_hip_width: knees are judged only where the
    hips are this far apart in the image (leg lengths; a side view overlaps them);
    knee_asymmetry_deg / hip_asymmetry_pct: left/right differences at the bottom beyond their
    uncertainty; ascent_slowdown: the last way up this much slower than the first (fatigue);
    min_confidence: a repetition whose depth joints are on average less likely than this to be within
    0.1 of the body size (calibrated score) gets a caution, and its measures skip frames below it."""

    parallel_tolerance_deg: float = 0.0
    thigh_model_sd_deg: float = 4.0
    max_thigh_sd_deg: float = 12.0
    fast_descent_s: float = 0.5
    knee_inward_pct: float = 2.0
    min_hip_width: float = 0.1
    knee_asymmetry_deg: float = 10.0
    hip_asymmetry_pct: float = 5.0
    min_confidence: float = 0.77
    ascent_slowdown: float = 0.5

    def __post_init__(self) -> None:
        check("feedback", fast_descent_s=self.fast_descent_s > 0,
               thigh_model_sd_deg=self.thigh_model_sd_deg >= 0, max_thigh_sd_deg=self.max_thigh_sd_deg > 0,
               knee_inward_pct=self.knee_inward_pct > 0, min_hip_width=self.min_hip_width >= 0,
               knee_asymmetry_deg=self.knee_asymmetry_deg > 0,
               hip_asymmetry_pct=self.hip_asymmetry_pct > 0,
               min_confidence=0 <= self.min_confidence <= 1,
               ascent_slowdown=self.ascent_slowdown > 0)


@dataclass(frozen=True)
class TrunkConfig:
    """The "hips rise before the chest" check (trunk.py; docs/analysis.md gives the reasoning).
    rise_fraction: the first part of the way up is where the hips have covered this fraction of their
    rise from the bottom; min_shoulder_rise_ratio: a repetition is flagged when, over that part, the
    shoulders rose less than this fraction of the hips' rise by more than the ratio's standard deviation."""

    rise_fraction: float = 0.5
    min_shoulder_rise_ratio: float = 0.6

    def __post_init__(self) -> None:
        check("trunk", rise_fraction=0 < self.rise_fraction <= 1,
               min_shoulder_rise_ratio=0 < self.min_shoulder_rise_ratio <= 1)


@dataclass(frozen=True)
class Lift3DConfig:
    """3D leg pose from one camera (lift3d.py). length_percentile: percentile of a segment's 2D
    length taken as its true length (the frames where it is longest lie in the image plane);
    noise_floor: 2D length noise (sd) tolerated before a segment counts as leaving the image plane;
    straight_knee_deg: a leg that is at least this straight with thigh and shin leaving the image
    plane the same way is read as straight (a camera looking down or up), not bent, if it leaves
    the plane by at most the standing legs' tilt + tilt_margin_deg;
    min_frames: frames a segment must be seen in for that; straight_fraction / min_straight_frames:
    the person must stand straight (2D hip-ankle distance >= this fraction of thigh + shin) in at
    least this many frames; min/max_thigh_shin: plausible thigh/shin length ratio (outside: a
    segment was never seen at full length); joint_sd: 2D joint noise assumed at score 1, leg
    lengths (grows as 1/score, floored at min_joint_score); pitch_sd_deg: assumed camera pitch uncertainty (a
    level camera is assumed); a value is trusted when its sd <= max_sd_deg, no segment points within
    ambiguous_fraction (image length / true length) of straight at the camera and no 2D segment
    is longer than max_overshoot times its length; samples: Monte Carlo draws for the sd."""

    length_percentile: float = 90.0
    noise_floor: float = 2.5
    straight_knee_deg: float = 165.0
    tilt_margin_deg: float = 10.0
    min_frames: int = 10
    straight_fraction: float = 0.95
    min_straight_frames: int = 3
    min_thigh_shin: float = 0.6
    max_thigh_shin: float = 1.8
    joint_sd: float = 0.01
    pitch_sd_deg: float = 10.0
    max_sd_deg: float = 12.0
    ambiguous_fraction: float = 0.05
    max_overshoot: float = 1.15
    samples: int = 48

    def __post_init__(self) -> None:
        check("lift3d", length_percentile=50 <= self.length_percentile <= 100,
               noise_floor=self.noise_floor >= 0, straight_knee_deg=90 <= self.straight_knee_deg <= 180,
               tilt_margin_deg=0 <= self.tilt_margin_deg <= 90,
               min_frames=self.min_frames >= 1, straight_fraction=0 < self.straight_fraction <= 1,
               min_straight_frames=self.min_straight_frames >= 1,
               min_thigh_shin=0 < self.min_thigh_shin < self.max_thigh_shin,
               joint_sd=self.joint_sd >= 0, pitch_sd_deg=self.pitch_sd_deg >= 0,
               max_sd_deg=self.max_sd_deg > 0, ambiguous_fraction=0 <= self.ambiguous_fraction < 1,
               max_overshoot=self.max_overshoot >= 1, samples=self.samples >= 2)


@dataclass(frozen=True)
class AnalysisConfig:
    """min_joint_score: a joint less likely than this to be within 0.1 of the body size of the truth (a
    calibrated score, docs/analysis.md "Joint scores") carries no position: it is not smoothed, measured,
    lifted to 3D or drawn, and a video tracker's box does not follow it. The one floor for all of them."""

    min_joint_score: float = MIN_JOINT_SCORE
    smoothing: SmoothingParams = field(default_factory=SmoothingParams)
    view: ViewConfig = field(default_factory=ViewConfig)
    depth: DepthConfig = field(default_factory=DepthConfig)
    reps: RepConfig = field(default_factory=RepConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    lift3d: Lift3DConfig = field(default_factory=Lift3DConfig)
    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    REPLACED: ClassVar[dict[str, str]] = {"measures": ONE_FLOOR}

    def __post_init__(self) -> None:
        check("analysis", min_joint_score=0 <= self.min_joint_score <= 1)


def config_from_dict(data: dict[str, Any] | None, source: str = "config") -> AnalysisConfig:
    """AnalysisConfig from a nested mapping {section: {key: value}}; missing keys keep defaults."""
    return from_dict(AnalysisConfig, data, source)


def load_analysis_config(path: str | Path | None = None,
                         overrides: list[str] | None = None) -> AnalysisConfig:
    """Read an analysis YAML (min_joint_score; sections smoothing, view, depth, reps, feedback, lift3d,
    trunk) and apply `--set` overrides such as `reps.min_depth=0.3`."""
    return load(AnalysisConfig, path, overrides)
