"""Self-contained HTML report of a SquatAnalysis (plots embedded as base64 PNG, no external files)."""
from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape

from squatpose.analysis.rep_measures import Repetition
from squatpose.analysis.result import SquatAnalysis
from squatpose.analysis.trunk import HIPS_FIRST, has_shoulders

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}.big{font-size:2.4em;font-weight:700;margin:.2em 0}
.muted{color:#666}.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.6em 1em}
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border-bottom:1px solid #ddd;
padding:.35em .5em;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f4f4f4}img{max-width:100%;height:auto}li{margin:.2em 0}
"""

HOW_TO_READ = """
<ul>
<li><b>Repetitions</b> count only when the way down, the bottom and the way back up to standing are
all in the video. A repetition cut off by the end of the video is listed as unfinished, not
counted.</li>
<li><b>Depth</b> is how much the hip-to-ankle distance shortened, as a fraction of your leg length:
0 is standing, about 0.3 is a quarter squat, about 0.5 is thighs parallel to the floor. It works
from the side, front and back.</li>
<li><b>Thigh angle at the bottom</b> (side view only): 0&deg; means the thigh is horizontal
(parallel); a negative number means the hip went below the knee. From the front or back this
cannot be seen, so it is left empty.</li>
<li><b>Knee angle</b> is the inside angle at the knee: 180&deg; is a straight leg, smaller means
more bent. From the front or back the camera sees the knee bend end-on, so the 2D angle is not
reliable there.</li>
<li><b>3D columns</b> come from rebuilding the legs in 3D from this one camera, using your own thigh
and shin lengths (measured while you stand): they work from the front and back too. &plusmn; is
one standard deviation. "Parallel 3D" assumes the camera was level; a tilted camera shifts it by
about the tilt.</li>
<li><b>Descent / ascent</b> are the times from leaving standing to the deepest point and back.</li>
<li>Everything comes from 2D joint positions in the video: camera angle, tilt and loose clothing
affect the numbers. Treat them as a guide, not a measurement.</li>
</ul>
"""


# A long set (hundreds of repetitions) gets a report of bounded size: the table shows its first and last
# repetitions and the feedback its first items; summary.json keeps everything.
MAX_TABLE_ROWS = 60
MAX_FEEDBACK_ITEMS = 40


def _num(value: float | None, fmt: str = ".0f", suffix: str = "") -> str:
    return "&ndash;" if value is None else f"{value:{fmt}}{suffix}"


def _asymmetry(rep: Repetition) -> str:
    if rep.knee_angle_diff is not None:
        return f"knee angle L&minus;R {rep.knee_angle_diff:+.0f}&deg;"
    diff = rep.hip_height_diff_pct
    if diff is None:
        return "&ndash;"
    if abs(diff) < 1:
        return "hips level"
    return f"{'left' if diff > 0 else 'right'} hip {abs(diff):.0f}% lower"


def _with_sd(value: float | None, sd: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.0f}&deg; &plusmn; {sd or 0:.0f}&deg;"


def _rep_row(rep: Repetition) -> str:
    parallel = {True: "yes", False: "no", None: "&ndash;"}[rep.below_parallel]
    parallel_3d = {True: "yes", False: "no", None: "&ndash;"}[rep.below_parallel_3d]
    end = _num(rep.end_time, ".1f")
    cells = [f"{rep.number}", f"{rep.start_time:.1f}&ndash;{end} s", _num(rep.descent_s, ".1f", " s"),
             _num(rep.ascent_s, ".1f", " s"), f"{rep.depth:.2f}", _num(rep.min_knee_angle, ".0f", "&deg;"),
             _num(rep.thigh_angle_bottom, ".0f", "&deg;"), parallel,
             _with_sd(rep.min_knee_angle_3d, rep.min_knee_angle_3d_sd),
             _with_sd(rep.thigh_angle_bottom_3d, rep.thigh_angle_bottom_3d_sd), parallel_3d, _asymmetry(rep),
             escape(", ".join(rep.flags)) or "&ndash;"]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _rows(reps: list[Repetition], row: Callable[[Repetition], str], columns: int) -> str:
    """A table's rows, one per repetition; of a long set, its first and last MAX_TABLE_ROWS / 2 (summary.json
    has every repetition)."""
    if len(reps) <= MAX_TABLE_ROWS:
        return "".join(row(r) for r in reps)
    half = MAX_TABLE_ROWS // 2
    skipped = (f"<tr><td colspan='{columns}'>&hellip; {len(reps) - 2 * half} more repetitions, listed in "
               "summary.json &hellip;</td></tr>")
    return "".join(row(r) for r in reps[:half]) + skipped + "".join(row(r) for r in reps[-half:])


def _rep_table(reps: list[Repetition]) -> str:
    head = ["rep", "time", "descent", "ascent", "depth", "min knee angle", "thigh at bottom",
            "reached parallel", "min knee angle 3D", "thigh at bottom 3D", "parallel 3D", "left/right",
            "flags"]
    rows = _rows(reps, _rep_row, len(head))
    return (f'<table id="repetitions"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}'
            f"</tr></thead><tbody>{rows}</tbody></table>")


TRUNK_HELP = ("<b>Trunk lean</b> is the hip-to-shoulder line's tilt from vertical, the <b>hip angle</b> the "
              "angle between trunk and thigh (180&deg; = straight); all three need a side view. <b>Early rise</b>: "
              "how far the hips and the shoulders rose while the hips covered the first half of their way "
              "up, in leg lengths; <b>shoulders &divide; hips</b> near 1 or above is a chest that keeps up, "
              "clearly under {limit:.1f} means the hips rose before the chest. &plusmn; is one standard "
              "deviation from how sure the joints are.")


def _trunk_row(rep: Repetition) -> str:
    rise = ("&ndash;" if rep.early_hip_rise is None else
            f"{rep.early_hip_rise:.2f} / {rep.early_shoulder_rise:.2f}")
    ratio = ("&ndash;" if rep.shoulder_rise_ratio is None else
             f"{rep.shoulder_rise_ratio:.2f} &plusmn; {rep.shoulder_rise_ratio_sd:.2f}")
    verdict = "&ndash;" if rep.shoulder_rise_ratio is None else ("yes" if HIPS_FIRST in rep.flags else "no")
    cells = [f"{rep.number}", _with_sd(rep.trunk_lean_bottom, rep.trunk_lean_bottom_sd),
             _with_sd(rep.hip_angle_bottom, rep.hip_angle_bottom_sd), rise, ratio, verdict]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _trunk_section(a: SquatAnalysis) -> str:
    """Trunk lean, hip angle and the early rise per repetition; nothing for tracks without shoulders."""
    if not has_shoulders(a.raw) or not a.repetitions:
        return ""
    if all(r.shoulder_rise_ratio is None and r.trunk_lean_bottom is None for r in a.repetitions):
        why = next((r.notes.get("shoulder_rise_ratio") for r in a.repetitions if r.notes.get("shoulder_rise_ratio")),
                   "not measured")
        return f'<h2>Trunk</h2><p class="muted">Trunk lean, hip angle and the early rise: {escape(why)}.</p>'
    head = ["rep", "trunk lean at bottom", "hip angle at bottom", "early rise hips / shoulders",
            "shoulders &divide; hips", "hips rose first"]
    rows = _rows(a.repetitions, _trunk_row, len(head))
    return (f'<h2>Trunk</h2><p class="muted">{TRUNK_HELP.format(limit=a.config.trunk.min_shoulder_rise_ratio)}'
            f'</p><table id="trunk"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _bottom_3d(pngs: dict[str, bytes]) -> str:
    if "bottom_3d.png" not in pngs:
        return ""
    return ("<h2>3D legs at the bottom</h2><p class='muted'>Rebuilt from this one camera with your own "
            "limb lengths; seen from the camera's side, up is up.</p>"
            + _img(pngs["bottom_3d.png"], "3D stick figure of each repetition's bottom"))


def render_html(a: SquatAnalysis, pngs: dict[str, bytes], source: str | None,
                has_video: bool = False) -> str:
    """The whole report page as one HTML string."""
    title = f"Squat analysis{' - ' + source if source else ''}"
    view = a.view.label + (" (set by user)" if a.view.user_set else " (detected)")
    feedback = "".join(f"<li>{escape(f.text)}</li>" for f in a.feedback[:MAX_FEEDBACK_ITEMS])
    if len(a.feedback) > MAX_FEEDBACK_ITEMS:
        feedback += f"<li>&hellip; {len(a.feedback) - MAX_FEEDBACK_ITEMS} more in summary.json</li>"
    warnings = ("<div class='warn'><b>Check the input:</b><ul>"
                + "".join(f"<li>{escape(w)}</li>" for w in a.warnings) + "</ul></div>"
                if a.warnings else "")
    partial = ("<h3>Unfinished (not counted)</h3>" + _rep_table(a.partial)) if a.partial else ""
    video = ('<p>Annotated video: <a href="annotated.mp4">annotated.mp4</a> (same folder).</p>'
             if has_video else "")
    table = _rep_table(a.repetitions) if a.repetitions else "<p>No completed repetition.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p class="big">{a.reps} repetition{'s' if a.reps != 1 else ''}</p>
<p class="muted">view: {escape(view)} &middot; {a.n_frames / a.fps:.1f} s &middot;
{a.n_frames} frames at {a.fps:g} fps</p>
{warnings}
<h2>Feedback</h2><ul id="feedback">{feedback}</ul>
<h2>Repetitions</h2>{table}{partial}
{_trunk_section(a)}
<h2>Over time</h2>{_img(pngs["timeline.png"], "knee angle and depth over time")}
<h2>Depth per repetition</h2>{_img(pngs["depth_per_rep.png"], "depth per repetition")}
{_bottom_3d(pngs)}
{video}
<h2>How to read this</h2>{HOW_TO_READ}
</body></html>
"""
