"""Per-repetition verdicts that say what they know: depth against parallel, knees caving in and a
left/right difference, each with its uncertainty, or no verdict and the reason.

Depth: the thigh's angle to the horizontal at the lowest point (thigh.py, any view), held for at
least SETTLE_S (a running median, so one bad frame is not the bottom). "below" / "above" parallel
only where the whole ± one standard deviation range is on that side; "parallel" (about parallel)
where the range includes it.

Knees: both knees' mean signed distance from their hip-ankle lines (angles.knee_medial_offset, % of
leg length, > 0 inward), median over the bottom and the way up while still at least half way down,
where the joints are confident and the hips apart in the image. The mean of both knees cancels what
an oblique camera adds: a knee travelling forward shifts both knees the same way in the image, which
reads as one knee in, one knee out. A distance, not the knee's angle, so a nearly straight leg does
not flip it; a median over the frames, so a short spike does not raise it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from squatpose.analysis.angles import Measure
from squatpose.analysis.config import FeedbackConfig
from squatpose.analysis.thigh import ThighElevation

SETTLE_S = 0.2          # the lowest point must hold this long (running median)
ASCENT_FRACTION = 0.5   # knees are judged from the bottom until the way up is half done
MIN_KNEE_FRAMES = 3
NO_THIGH = "hip or knee not found confidently at the bottom"
HIPS_OVERLAP = ("not measurable from this view: the hips overlap (film from the front or back to see the "
                "knees)")
NO_KNEES = "both knees not found confidently at the bottom and on the way up"


@dataclass(frozen=True)
class DepthVerdict:
    """verdict: 'below', 'parallel' (about parallel) or 'above'; None where there is none (note
    says why). thigh_angle: at the lowest point, degrees, > 0 hip above knee; sd: one standard
    deviation, degrees."""

    verdict: str | None
    thigh_angle: float | None
    sd: float | None
    note: str | None = None


@dataclass(frozen=True)
class KneesVerdict:
    """inward_pct: both knees' mean distance inside their hip-ankle lines, % of leg length (< 0
    outside), with its sd_pct; caving: beyond the threshold by more than sd_pct; None (note says why)
    where the knees could not be judged."""

    inward_pct: float | None
    sd_pct: float | None
    caving: bool | None
    note: str | None = None


@dataclass(frozen=True)
class KneeDifference:
    """left minus right 3D knee angle at the bottom, degrees, with its sd; uneven: beyond the
    threshold by more than sd."""

    diff_deg: float
    sd_deg: float
    uneven: bool


def running_median(x: np.ndarray, half: int) -> np.ndarray:
    """(F,) median of x over [i - half, i + half] ignoring NaN; NaN where a window has no value."""
    windows = sliding_window_view(np.pad(x, half, constant_values=np.nan), 2 * half + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        return np.nanmedian(windows, axis=-1)


def depth_class(angle: float, sd: float, tolerance: float) -> str:
    """'below' / 'above' parallel where the whole angle ± sd range is on that side of `tolerance`, else
    'parallel' (about parallel): the one rule of files and of the live engine."""
    return "below" if angle + sd < tolerance else "above" if angle - sd > tolerance else "parallel"


def depth_verdict(thigh: ThighElevation, frames: np.ndarray, bottom: np.ndarray, fps: float,
                  cfg: FeedbackConfig) -> DepthVerdict:
    """The depth verdict of the repetition over `frames`; `bottom`: its deepest frames. Where the
    thigh is not measured there, the lowest value found may not be the bottom's: the bottom went at
    least that deep, so "below" still holds, but "about" or "above" could be wrong and is not said."""
    half = max(1, round(SETTLE_S * fps / 2))
    value = running_median(thigh.value[frames], half)
    if not np.isfinite(value).any():
        return DepthVerdict(None, None, None, NO_THIGH)
    spread = running_median(thigh.value_sd[frames], half)
    i = int(np.nanargmin(value))
    angle, sd = float(value[i]), float(spread[i])
    if sd > cfg.max_thigh_sd_deg:
        return DepthVerdict(None, angle, sd, f"too uncertain from this camera angle (± {sd:.0f}°): "
                                             "film from the side to judge depth")
    verdict = depth_class(angle, sd, cfg.parallel_tolerance_deg)
    if verdict != "below" and not np.isfinite(thigh.value[bottom]).any():
        return DepthVerdict(None, None, None, NO_THIGH)
    return DepthVerdict(verdict, angle, sd)


def knees_verdict(inward: Measure, hip_width: np.ndarray, frames: np.ndarray, bottom: np.ndarray,
                  depth: np.ndarray, peak: float, joint_sd: float, cfg: FeedbackConfig) -> KneesVerdict:
    """Knees caving in over the bottom and the way up of one repetition. inward: per-frame
    angles.Measures.knee_inward (leg lengths); hip_width: (T,) hips apart, leg lengths; depth: (T,)."""
    window = frames[(frames >= bottom.min()) & (np.nan_to_num(depth[frames]) >= ASCENT_FRACTION * peak)]
    apart = hip_width[window] >= cfg.min_hip_width
    confident = (inward.lr_conf[window] >= cfg.min_confidence).all(axis=1)
    both = 100 * inward.lr[window].mean(axis=1)
    judged = both[apart & confident & np.isfinite(both)]
    if judged.size < MIN_KNEE_FRAMES:
        return KneesVerdict(None, None, None,
                            HIPS_OVERLAP if not apart.any() or apart.mean() < 0.5 else NO_KNEES)
    middle = float(np.median(judged))
    spread = 1.4826 * float(np.median(np.abs(judged - middle)))
    score = float(np.mean(inward.lr_conf[window][apart & confident]))
    noise = 100 * joint_sd / max(score, 1e-3) / np.sqrt(2)  # one knee's position noise, mean of two
    sd = float(np.hypot(spread, noise))
    return KneesVerdict(middle, sd, bool(middle - sd > cfg.knee_inward_pct))


def knee_difference(knee_3d: Measure, knee_sd: np.ndarray, bottom: np.ndarray, min_conf: float,
                    limit_deg: float) -> KneeDifference | None:
    """Left minus right 3D knee angle over the bottom frames where both legs are trusted (median), or
    None. knee_3d: Legs3D.knee_angle (NaN where untrusted); knee_sd: (T, 2) its sd."""
    ok = np.isfinite(knee_3d.lr[bottom]).all(axis=1) & (knee_3d.lr_conf[bottom] >= min_conf).all(axis=1)
    if not ok.any():
        return None
    frames = bottom[ok]
    diff = float(np.median(knee_3d.lr[frames, 0] - knee_3d.lr[frames, 1]))
    sd = float(np.median(np.hypot(knee_sd[frames, 0], knee_sd[frames, 1])))
    return KneeDifference(diff, sd, abs(diff) - sd > limit_deg)
