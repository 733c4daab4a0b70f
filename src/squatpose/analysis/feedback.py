"""Plain-language feedback and flags per repetition and for the whole set.

Thresholds come from FeedbackConfig; docs/analysis.md gives their sources or marks them as project
choices. Sentences state what was measured and, where the view limits it, say so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from squatpose.analysis.config import FeedbackConfig
from squatpose.analysis.rep_measures import Repetition


@dataclass(frozen=True)
class Feedback:
    """One sentence; rep is the repetition number, or None for the whole set."""

    text: str
    kind: str
    rep: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _valgus_sides(rep: Repetition, limit: float) -> list[str]:
    return [side for side, v in (rep.fppa_max or {}).items() if v is not None and v > limit]


def rep_feedback(rep: Repetition, cfg: FeedbackConfig) -> tuple[tuple[str, ...], list[Feedback]]:
    """Flags and sentences for one repetition."""
    n, out, flags = rep.number, [], []
    if not rep.started_in_clip:
        flags.append("started_before_clip")
        out.append(Feedback(f"rep {n}: began before the tracked part of the video; "
                            "only its way up was timed", "info", n))
    if rep.below_parallel is False and rep.thigh_angle_bottom is not None:
        flags.append("above_parallel")
        out.append(Feedback(f"rep {n}: stopped about {rep.thigh_angle_bottom:.0f}° above parallel "
                            "(thigh angle at the lowest point)", "depth", n))
    if rep.below_parallel is None and rep.below_parallel_3d is False:
        flags.append("above_parallel")
        out.append(Feedback(f"rep {n}: stopped about {rep.thigh_angle_bottom_3d:.0f}° "
                            f"(± {rep.thigh_angle_bottom_3d_sd:.0f}°) above parallel (3D estimate "
                            "from one camera, assuming it was level)", "depth", n))
    if rep.descent_s is not None and rep.descent_s < cfg.fast_descent_s:
        flags.append("fast_descent")
        out.append(Feedback(f"rep {n}: fast descent ({rep.descent_s:.1f} s)", "tempo", n))
    if rep.knee_angle_diff is not None and abs(rep.knee_angle_diff) > cfg.knee_asymmetry_deg:
        more = "left" if rep.knee_angle_diff < 0 else "right"
        flags.append("asymmetry")
        out.append(Feedback(f"rep {n}: left/right asymmetry of {abs(rep.knee_angle_diff):.0f}° "
                            f"in knee angle at the bottom (the {more} knee bends more)", "asymmetry", n))
    if rep.hip_height_diff_pct is not None and abs(rep.hip_height_diff_pct) > cfg.hip_asymmetry_pct:
        lower, other = ("left", "right") if rep.hip_height_diff_pct > 0 else ("right", "left")
        flags.append("asymmetry")
        out.append(Feedback(f"rep {n}: {lower} hip about {abs(rep.hip_height_diff_pct):.0f}% of "
                            f"leg length lower than the {other} at the bottom (shift or tilt)",
                            "asymmetry", n))
    valgus = _valgus_sides(rep, cfg.valgus_fppa_deg)
    if valgus:
        which = "knees move" if len(valgus) == 2 else f"{valgus[0]} knee moves"
        flags.append("knee_valgus")
        out.append(Feedback(f"rep {n}: {which} inward (qualitative, front view)", "valgus", n))
    if rep.confidence < cfg.min_confidence:
        flags.append("low_confidence")
        out.append(Feedback(f"rep {n}: joints poorly detected (confidence {rep.confidence:.2f}); "
                            "treat its numbers with caution", "confidence", n))
    return tuple(flags), out


def _tempo_sentences(reps: list[Repetition], cfg: FeedbackConfig) -> list[Feedback]:
    descents = [r.descent_s for r in reps if r.descent_s is not None]
    ascents = [r.ascent_s for r in reps if r.ascent_s is not None]
    out = []
    if descents and ascents:
        out.append(Feedback(f"average descent {np.mean(descents):.1f} s, "
                            f"ascent {np.mean(ascents):.1f} s", "tempo"))
    timed = [r for r in reps if r.ascent_s]
    if len(timed) >= 3 and timed[-1].ascent_s > (1 + cfg.ascent_slowdown) * timed[0].ascent_s:
        out.append(Feedback(f"the way up slowed from {timed[0].ascent_s:.1f} s (rep "
                            f"{timed[0].number}) to {timed[-1].ascent_s:.1f} s (rep "
                            f"{timed[-1].number}), a common sign of fatigue", "tempo"))
    return out


def _depth_sentence_3d(reps: list[Repetition], lo: float, hi: float) -> Feedback | None:
    """Front/back views: parallel and knee bend from the 3D estimate, with their uncertainty."""
    judged = [r for r in reps if r.below_parallel_3d is not None]
    knees = [r for r in reps if r.min_knee_angle_3d is not None]
    if not judged and not knees:
        return None
    parts = [f"depth (hip-to-ankle shortening) {lo:.2f}-{hi:.2f} of leg length"]
    if judged:
        sd = float(np.median([r.thigh_angle_bottom_3d_sd for r in judged]))
        parts.append(f"{sum(r.below_parallel_3d for r in judged)} of {len(judged)} repetitions "
                     f"reached parallel by the 3D estimate from one camera (thigh angle ± {sd:.0f}°, "
                     "assuming a level camera)")
    if knees:
        deepest = min(knees, key=lambda r: r.min_knee_angle_3d)
        parts.append(f"deepest knee angle about {deepest.min_knee_angle_3d:.0f}° "
                     f"± {deepest.min_knee_angle_3d_sd:.0f}° (rep {deepest.number}, 3D estimate)")
    return Feedback("; ".join(parts) + "; filming from the side measures these directly", "depth")


def _depth_sentence(reps: list[Repetition], side_view: bool) -> Feedback:
    if not side_view:
        lo, hi = min(r.depth for r in reps), max(r.depth for r in reps)
        return _depth_sentence_3d(reps, lo, hi) or Feedback(
            f"depth (hip-to-ankle shortening) {lo:.2f}-{hi:.2f} of leg length; from the front or "
            "back 'below parallel' cannot be judged - film from the side for that", "depth")
    judged = [r for r in reps if r.below_parallel is not None]
    if not judged:
        return Feedback("depth against parallel could not be judged (joints not detected "
                        "confidently at the bottom)", "depth")
    deep = sum(r.below_parallel for r in judged)
    return Feedback(f"{deep} of {len(judged)} repetitions reached parallel "
                    "(thigh at or below horizontal)", "depth")


def set_feedback(reps: list[Repetition], partial: list[Repetition], side_view: bool,
                 cfg: FeedbackConfig) -> list[Feedback]:
    """Sentences about the whole set (completed repetitions and unfinished ones)."""
    n = len(reps)
    out = [Feedback(f"{n} completed repetition{'s' if n != 1 else ''}" if n else
                    "no completed repetition found", "count")]
    uncertain = [r for r in partial if "uncertain" in r.flags]
    unfinished = [r for r in partial if "uncertain" not in r.flags]
    if unfinished:
        out.append(Feedback(f"{len(unfinished)} unfinished repetition at the end of the video was "
                            "not counted", "count"))
    for rep in uncertain:
        out.append(Feedback(f"a possible repetition at {rep.start_time:.1f}-{rep.end_time:.1f} s was not counted: "
                            f"the joints were found too unreliably (confidence {rep.confidence:.2f})", "count"))
    if reps:
        out.append(_depth_sentence(reps, side_view))
        out.extend(_tempo_sentences(reps, cfg))
    return out
