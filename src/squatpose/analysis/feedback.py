"""One plain line per repetition and one for the set, with the details behind each ("why").

Each check looks at one thing a coach looks at and returns a Finding: a tone (good, fix, or info),
a short phrase with its units and the why (what was measured, its uncertainty, the rule). A
repetition's findings are joined into one line, worst tone first. A new check (trunk lean or hip
angle where the pose model gives shoulders) is one more function in REP_CHECKS. Thresholds come from
FeedbackConfig; docs/analysis.md gives their sources or marks them as project choices.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from squatpose.analysis.config import FeedbackConfig
from squatpose.analysis.rep_measures import Repetition

GOOD, FIX, INFO = "good", "fix", "info"
TONE_ORDER = (FIX, GOOD, INFO)  # a line's tone is its worst finding's
DEPTH_METHOD = ("Depth is the thigh's angle to the horizontal at the lowest point, from how much lower the "
                "knee is than the hip over the thigh's length: it works from any side if the camera is "
                "level. ± is one standard deviation (joint positions, camera tilt, where a pose model puts "
                "hip and knee); 'below' or 'above' parallel only when the whole ± range is on that side.")
KNEES_METHOD = ("Knees are judged at the bottom and on the way up: both knees' mean distance from the "
                "hip-to-ankle line, in % of leg length (the mean cancels what an oblique camera adds).")


@dataclass(frozen=True)
class Finding:
    """tone: GOOD, FIX or INFO; text: a short phrase; why: the numbers behind it; flag: the
    machine-readable name of a finding worth flagging (None for a good one)."""

    tone: str
    text: str
    why: str
    flag: str | None = None


@dataclass(frozen=True)
class Feedback:
    """One line; rep is the repetition number, or None for the set. tone: GOOD, FIX or INFO; why:
    the details behind the line."""

    text: str
    kind: str
    rep: int | None = None
    tone: str = INFO
    why: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "kind": self.kind, "rep": self.rep, "tone": self.tone,
                "why": list(self.why)}


def depth_words(verdict: str, angle: float) -> tuple[str, str]:
    """(tone, phrase) of a depth verdict with its thigh angle (degrees above horizontal): the words of
    the report, the web page and the live page alike."""
    if verdict == "below":
        return GOOD, f"went about {abs(angle):.0f}° below parallel"
    if verdict == "above":
        advice = "sit a little lower" if angle <= 15 else "sit lower"
        return FIX, f"stopped about {angle:.0f}° above parallel — {advice}"
    return GOOD, "reached about parallel"


def _depth(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    angle, sd = rep.thigh_angle, rep.thigh_angle_sd
    if rep.depth_verdict is None:
        note = rep.notes.get("depth_verdict", "")
        said = "depth not measurable from this camera angle" if angle is not None else "depth not measured"
        return Finding(INFO, said, f"Depth: {note}.")
    measured = (f"Thigh at the lowest point: {abs(angle):.0f}° ± {sd:.0f}° "
                f"{'below' if angle < 0 else 'above'} horizontal.")
    tone, said = depth_words(rep.depth_verdict, angle)
    if rep.depth_verdict == "parallel":
        measured += " The range includes horizontal: about parallel."
    return Finding(tone, said, measured, "above_parallel" if rep.depth_verdict == "above" else None)


def _knees(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    if rep.knees_in is None:
        return None
    inward, sd = rep.knee_inward_pct, rep.knee_inward_sd_pct
    where = f"{abs(inward):.0f}% of leg length {'inside' if inward > 0 else 'outside'} the hip-to-ankle line"
    why = f"Knees: {where} (± {sd:.0f}%) at the bottom and on the way up."
    if rep.knees_in:
        return Finding(FIX, "knees drifted inward — push them out over your toes",
                       why + f" Inward counts beyond {cfg.knee_inward_pct:g}% and the ± range.", "knees_in")
    if inward + sd < cfg.knee_inward_pct:
        return Finding(GOOD, "knees tracked well", why)
    return Finding(INFO, "", why + " Not clearly inward or outward.")


def _tempo(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    down = "began before the video, so only its way up was timed" if rep.descent_s is None else (
        f"{rep.descent_s:.1f} s down")
    up = "" if rep.ascent_s is None else f", {rep.ascent_s:.1f} s up"
    why = f"Tempo: {down}{up}."
    if rep.descent_s is not None and rep.descent_s < cfg.fast_descent_s:
        return Finding(INFO, f"quick drop ({rep.descent_s:.1f} s down)",
                       why + f" Under {cfg.fast_descent_s:g} s is a drop, not a lowering: fine for jump or "
                       "dynamic squats; with weight, lower under control.", "fast_descent")
    return Finding(INFO, "", why)


def _sides(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    diff, sd = rep.knee_angle_diff, rep.knee_angle_diff_sd
    if diff is not None and abs(diff) - (sd or 0.0) > cfg.knee_asymmetry_deg:
        more, less = ("left", "right") if diff < 0 else ("right", "left")
        return Finding(INFO, f"{more} knee bent about {abs(diff):.0f}° more than the {less}",
                       f"Left minus right knee angle at the bottom: {diff:+.0f}° ± {sd:.0f}° (3D estimate).",
                       "asymmetry")
    hips = rep.hip_height_diff_pct
    if hips is not None and abs(hips) > cfg.hip_asymmetry_pct:
        lower, other = ("left", "right") if hips > 0 else ("right", "left")
        return Finding(INFO, f"{lower} hip about {abs(hips):.0f}% of leg length lower than the {other}",
                       "Hip heights at the bottom: a shift or tilt to one side.", "asymmetry")
    return None


def _confidence(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    if rep.confidence >= cfg.min_confidence:
        return None
    return Finding(INFO, "joints hard to see — treat these numbers with caution",
                   f"Joint confidence {rep.confidence:.2f} on average (under {cfg.min_confidence:g}).",
                   "low_confidence")


def _knee_bend(rep: Repetition, cfg: FeedbackConfig) -> Finding | None:
    if rep.min_knee_angle_3d is not None:
        return Finding(INFO, "", f"Deepest knee angle about {rep.min_knee_angle_3d:.0f}° "
                                 f"± {rep.min_knee_angle_3d_sd:.0f}° (180° = straight; 3D estimate).")
    if rep.min_knee_angle is not None:
        return Finding(INFO, "", f"Deepest knee angle about {rep.min_knee_angle:.0f}° (180° = straight).")
    return None


REP_CHECKS: tuple[Callable[[Repetition, FeedbackConfig], Finding | None], ...] = (
    _depth, _knees, _tempo, _sides, _confidence, _knee_bend)


def _line(findings: list[Finding]) -> tuple[str, str]:
    """(text, tone) of findings joined into one sentence."""
    phrases = [f.text for f in findings if f.text]
    text = "; ".join(phrases)
    tone = next((t for t in TONE_ORDER if any(f.tone == t and f.text for f in findings)), INFO)
    return text[:1].upper() + text[1:] + ".", tone


def rep_feedback(rep: Repetition, cfg: FeedbackConfig) -> tuple[tuple[str, ...], list[Feedback]]:
    """Flags and the one line of one repetition."""
    findings = [f for check in REP_CHECKS if (f := check(rep, cfg)) is not None]
    flags = tuple(f.flag for f in findings if f.flag)
    if not rep.started_in_clip:
        flags = ("started_before_clip", *flags)
    text, tone = _line(findings)
    return flags, [Feedback(text, "rep", rep.number, tone, tuple(f.why for f in findings))]


def _set_line(reps: list[Repetition], cfg: FeedbackConfig) -> Feedback:
    n = len(reps)
    names = {"below": "below parallel", "parallel": "about parallel", "above": "above parallel"}
    said = [names[r.depth_verdict] for r in reps if r.depth_verdict]
    counted = [t if n == 1 else f"{said.count(t)} {t}" for t in dict.fromkeys(said)]  # one rep: no count
    parts = [", ".join(counted)] if said else []
    unmeasured = n - len(said)
    if unmeasured:
        parts.append("depth not measured" + (f" on {unmeasured}" if said else ""))
    judged = [r for r in reps if r.knees_in is not None]
    caving = [r for r in judged if r.knees_in]
    if caving:
        parts.append(f"knees drifted inward on {len(caving)}")
    elif judged:
        parts.append("knees did not cave in")
    descents = [r.descent_s for r in reps if r.descent_s is not None]
    ascents = [r.ascent_s for r in reps if r.ascent_s is not None]
    if descents and ascents:
        parts.append(f"about {np.mean(descents):.1f} s down, {np.mean(ascents):.1f} s up")
    tone = (FIX if any(r.depth_verdict == "above" or r.knees_in for r in reps) else
            GOOD if said or judged else INFO)
    why = [DEPTH_METHOD] + ([KNEES_METHOD] if judged else [])
    return Feedback(f"{n} rep{'s' if n != 1 else ''}: " + "; ".join(parts) + ".", "set", None,
                    tone, tuple(why))


def _slowdown(reps: list[Repetition], cfg: FeedbackConfig) -> list[Feedback]:
    timed = [r for r in reps if r.ascent_s]
    if len(timed) >= 3 and timed[-1].ascent_s > (1 + cfg.ascent_slowdown) * timed[0].ascent_s:
        return [Feedback(f"The way up slowed from {timed[0].ascent_s:.1f} s (rep {timed[0].number}) to "
                         f"{timed[-1].ascent_s:.1f} s (rep {timed[-1].number}), a common sign of fatigue.",
                         "tempo", None, INFO,
                         (f"A last way up more than {100 * cfg.ascent_slowdown:.0f}% slower than the "
                          "first.",))]
    return []


def set_feedback(reps: list[Repetition], partial: list[Repetition], cfg: FeedbackConfig) -> list[Feedback]:
    """Lines about the whole set (completed repetitions and unfinished ones): the set's line first."""
    out = [_set_line(reps, cfg) if reps else Feedback("No completed repetition found.", "set")]
    uncertain = [r for r in partial if "uncertain" in r.flags]
    unfinished = [r for r in partial if "uncertain" not in r.flags]
    if unfinished:
        out.append(Feedback(f"{len(unfinished)} unfinished repetition at the end of the video was not "
                            "counted.", "count"))
    for rep in uncertain:
        out.append(Feedback(f"A possible repetition at {rep.start_time:.1f}–{rep.end_time:.1f} s was not "
                            "counted: the joints were found too unreliably.", "count", None, INFO,
                            (f"Joint confidence {rep.confidence:.2f} on average.",)))
    return out + _slowdown(reps, cfg)
