"""The words of the repetition table, shared by report.html and (through summary.json's `rep_table`)
the web page, so both say the same thing: plain words with units, no raw flags or unitless numbers."""
from __future__ import annotations

from squatpose.analysis.rep_measures import Repetition

DASH = "–"
TONE_ICONS = {"good": ("✓", "good"), "fix": ("!", "to work on"), "info": ("i", "note")}
COLUMNS = ("rep", "time", "down", "up", "depth", "knees", "deepest knee angle", "left / right")

HOW_TO_READ_HTML = """
<ul>
<li><b>Repetitions</b> count only when the way down, the bottom and the way back up are all in the video;
one cut off by the end of the video is listed as unfinished.</li>
<li><b>Depth</b> is the thigh's angle to the floor at the lowest point: "below parallel" means the hip went
lower than the knee. It is measured from the side, the front or the back (a level camera is assumed);
the &plusmn; is its uncertainty, and the verdict is "about parallel" whenever that range includes
parallel.</li>
<li><b>Knees</b> (when the hips are apart in the picture, as from the front or back): whether both knees
stayed over the feet at the bottom and on the way up, or drifted inside the line from hip to ankle.</li>
<li><b>Deepest knee angle</b>: the inside angle at the knee, 180&deg; for a straight leg, smaller for more
bend.</li>
<li><b>Down / up</b>: seconds from standing to the lowest point and back.</li>
<li>Open "why" under a line for the numbers behind it. Everything comes from joint positions found in the
video: camera angle and loose clothing affect the numbers. Treat them as a guide, not a measurement.</li>
</ul>
"""


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} s"


def time_span(start: float, end: float | None) -> str:
    return f"from {start:.1f} s" if end is None else f"{start:.1f}–{end:.1f} s"


def depth_cell(rep: Repetition) -> str:
    angle, sd = rep.thigh_angle, rep.thigh_angle_sd
    if rep.depth_verdict is None:
        return "not measurable from this view" if angle is not None else "not measured"
    if rep.depth_verdict == "parallel":
        return f"about parallel ({angle:+.0f}° ± {sd:.0f}°)"
    return f"{abs(angle):.0f}° {rep.depth_verdict} parallel (± {sd:.0f}°)"


def knees_cell(rep: Repetition) -> str:
    if rep.knees_in is None:
        return DASH
    return "drifted inward" if rep.knees_in else "did not cave in"


def knee_bend_cell(rep: Repetition) -> str:
    if rep.min_knee_angle_3d is not None:
        return f"{rep.min_knee_angle_3d:.0f}° (± {rep.min_knee_angle_3d_sd:.0f}°)"
    return DASH if rep.min_knee_angle is None else f"{rep.min_knee_angle:.0f}°"


def sides_cell(rep: Repetition) -> str:
    """The left/right difference at the bottom: 3D knee bend, else hip height."""
    parts = []
    diff = rep.knee_angle_diff
    if diff is not None:
        parts.append("knees bent alike" if abs(diff) < 1 else
                     f"{'left' if diff < 0 else 'right'} knee bent {abs(diff):.0f}° more")
    hips = rep.hip_height_diff_pct
    if hips is not None:
        parts.append("hips level" if abs(hips) < 1 else
                     f"{'left' if hips > 0 else 'right'} hip {abs(hips):.0f}% of leg length lower")
    return "; ".join(parts) or DASH


def rep_table(reps: list[Repetition]) -> dict[str, list]:
    """{'columns': [...], 'rows': [[cell, ...] per repetition]}: the table as report.html shows it."""
    return {"columns": list(COLUMNS),
            "rows": [[str(r.number), time_span(r.start_time, r.end_time), seconds(r.descent_s),
                      seconds(r.ascent_s), depth_cell(r), knees_cell(r), knee_bend_cell(r), sides_cell(r)]
                     for r in reps]}
