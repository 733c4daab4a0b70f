"""Self-contained HTML report of a SquatAnalysis: plots embedded as base64 PNG, no script, no link to
another file, so it reads the same when downloaded alone, on a phone or a desktop."""
from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from html import escape
from typing import TypeVar

from squatpose.analysis.feedback import Feedback
from squatpose.analysis.rep_measures import Repetition
from squatpose.analysis.result import SquatAnalysis
from squatpose.analysis.trunk import HIPS_FIRST, has_shoulders
from squatpose.report import wording

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:1.5em auto;
padding:0 1em;color:#1d2430;line-height:1.45}
h1{font-size:1.4em;margin-bottom:.2em;overflow-wrap:anywhere}.big{font-size:2.2em;font-weight:700;margin:.2em 0}
.muted{color:#5d6675}.warn{background:#fff6e0;border-left:4px solid #e0a800;padding:.6em 1em}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{border-bottom:1px solid #d9dee6;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f0f3f7}img{max-width:100%;height:auto}
ul.feedback{list-style:none;padding:0}ul.feedback li{padding:.45em 0;border-bottom:1px solid #eef1f5}
.icon{display:inline-block;width:1.4em;height:1.4em;line-height:1.4em;text-align:center;border-radius:50%;
font-weight:700;margin-right:.35em;color:#fff}
.good .icon{background:#17753a}.fix .icon{background:#b42318}.info .icon{background:#5d6675}
.tag{font-size:.8em;font-weight:600;color:#5d6675;margin-right:.35em}
.good .text{color:#17753a}.fix .text{color:#b42318}
details{margin:.2em 0 0 1.9em;font-size:.9em;color:#5d6675}summary{cursor:pointer}
"""


# A long set (hundreds of repetitions) gets a report of bounded size: the tables show its first and last
# repetitions and the feedback its first items; summary.json keeps everything.
MAX_TABLE_ROWS = 60
MAX_FEEDBACK_ITEMS = 40


T = TypeVar("T")


def _with_sd(value: float | None, sd: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.0f}&deg; &plusmn; {sd or 0:.0f}&deg;"


def _feedback_item(f: Feedback) -> str:
    icon, label = wording.TONE_ICONS[f.tone]
    tag = f"Rep {f.rep}" if f.rep is not None else "Set"
    why = ("<details><summary>why</summary><ul>" + "".join(f"<li>{escape(w)}</li>" for w in f.why)
           + "</ul></details>") if f.why else ""
    return (f'<li class="{escape(f.tone)}"><span class="icon" role="img" aria-label="{label}">{icon}</span>'
            f'<span class="tag">{tag}</span><span class="text">{escape(f.text)}</span>{why}</li>')


def _bounded_rows(reps: Sequence[T], row: Callable[[T], str], columns: int) -> str:
    """One row per repetition; for a long set only its start and its end (summary.json has every one)."""
    if len(reps) <= MAX_TABLE_ROWS:
        return "".join(row(r) for r in reps)
    half = MAX_TABLE_ROWS // 2
    skipped = (f"<tr><td colspan='{columns}'>&hellip; {len(reps) - 2 * half} more repetitions, "
               "listed in summary.json &hellip;</td></tr>")
    return "".join(row(r) for r in reps[:half]) + skipped + "".join(row(r) for r in reps[-half:])


def _rep_table(reps: list[Repetition]) -> str:
    table = wording.rep_table(reps)
    head = "".join(f"<th>{escape(h)}</th>" for h in table["columns"])
    rows = _bounded_rows(table["rows"], lambda row: "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>",
                         len(table["columns"]))
    return f'<div class="scroll"><table id="repetitions"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


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
    rows = _bounded_rows(a.repetitions, _trunk_row, len(head))
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
    """The whole report page as one HTML string; `source`: the name of the analysed file as the user
    knows it."""
    title = f"Squat analysis{' — ' + source if source else ''}"
    view = a.view.label + (" (as chosen)" if a.view.user_set else " (detected)")
    feedback = "".join(_feedback_item(f) for f in a.feedback[:MAX_FEEDBACK_ITEMS])
    if len(a.feedback) > MAX_FEEDBACK_ITEMS:
        feedback += f"<li>&hellip; {len(a.feedback) - MAX_FEEDBACK_ITEMS} more in summary.json</li>"
    warnings = ("<div class='warn'><b>Check the input:</b><ul>"
                + "".join(f"<li>{escape(w)}</li>" for w in a.warnings) + "</ul></div>"
                if a.warnings else "")
    partial = ("<h3>Unfinished (not counted)</h3>" + _rep_table(a.partial)) if a.partial else ""
    video = ("<p class='muted'>The annotated video was saved beside this report as annotated.mp4.</p>"
             if has_video else "")
    table = _rep_table(a.repetitions) if a.repetitions else "<p>No completed repetition.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p class="big">{a.reps} repetition{'s' if a.reps != 1 else ''}</p>
<p class="muted">camera view: {escape(view)} &middot; {a.n_frames / a.fps:.1f} s of video</p>
{warnings}
<h2>Feedback</h2><ul class="feedback" id="feedback">{feedback}</ul>
<h2>Repetitions</h2>{table}{partial}
{_trunk_section(a)}
<h2>Depth per repetition</h2>{_img(pngs["depth_per_rep.png"], "thigh angle at the bottom of each repetition")}
<h2>Over time</h2>{_img(pngs["timeline.png"], "knee angle and depth over time")}
{_bottom_3d(pngs)}
{video}
<h2>How to read this</h2>{wording.HOW_TO_READ_HTML}
</body></html>
"""
