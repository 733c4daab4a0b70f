"""The analysis' verdicts against a judge's labels of every repetition of the shared squat clips.

    python benchmarks/form_eval.py [--labels ../shared/data/form_truth/form_truth.json]
                                   [--cache derived/form_eval] [--refresh] [--doc docs/analysis.md --block NAME]

`../shared/data/form_truth/` labels each completed repetition of the 26 shared clips by eye from its
bottom frame: depth class and thigh angle (side and oblique views), knees caving or not (front/back
views). The first run finds the joints of every clip with `analyze` (built-in model, default backend)
and keeps them in --cache/<clip>.json (git-ignored), so later runs re-run only the analysis (seconds).

A labelled repetition is *found* when a counted repetition spans its bottom frame (± 0.25 s; the one
whose bottom is nearest). Rows:
  * depth verdict on clear reps: labelled thigh ≥ 15° from horizontal; right = the verdict's side of
    parallel; "about parallel" there is a hedge, not right;
  * verdict coverage: found reps with a depth label that get a depth verdict at all;
  * labelled about parallel (|thigh| < 15°): how the verdict reads there;
  * "knees inward" on reps labelled knees-tracking-fine (knees_in false);
  * thigh angle error: |said − labelled| over found reps with a thigh label (median, 90th percentile);
  * reps found near a labelled bottom; clips counted right against ../shared/data/*/reps.json.

--split: the leave-clips-out check of the two thresholds chosen on these labels. The clips are split
in two halves (alternately, by name); on one half the joint-centre uncertainty of the thigh angle
(feedback.thigh_model_sd_deg) is chosen as what the residuals leave beyond the measurement's own sd
(joint_centre_sd), and the knees-inward threshold (feedback.knee_inward_pct) as 2 % (inside the
hip-to-foot line, the labels' rule, with a margin) or 1 % above the largest lower bound (value - sd)
of any repetition there, whichever is larger; both are then checked on the other half.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.pipeline import analyze_tracks
from squatpose.analysis.result import SquatAnalysis
from squatpose.analysis.tracks import load_keypoints_json, save_keypoints_json

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CLIP_FOLDERS = (SHARED / "squat_videos", SHARED / "squat_videos_more")
KNEES_FLOOR_PCT = 2.0  # the labels' rule: a knee inside the hip-to-foot line caves in; 2 % leaves a margin
CLEAR_DEG = 15.0     # the labels' class boundary: |thigh| >= 15 deg is clearly above or below
MATCH_SLACK_S = 0.25


@dataclass
class RepVerdict:
    """What the analysis says about one repetition: depth class ('below' / 'parallel' / 'above', None =
    no verdict), thigh angle (deg, > 0 hip above knee) with its sd, and whether it warns of knees moving
    inward (None: not judged)."""

    depth: str | None
    thigh_deg: float | None
    thigh_sd: float | None
    knees_in: bool | None


@dataclass
class Tally:
    clear_right: int = 0
    clear_hedged: int = 0
    clear_wrong: int = 0
    clear_none: int = 0
    clear_total: int = 0
    covered: int = 0
    depth_labelled: int = 0
    near_parallel: dict[str, int] = field(default_factory=dict)
    knees_false_alarm: int = 0
    knees_judged: int = 0
    knees_fine: int = 0
    within_sd: int = 0
    within_2sd: int = 0
    false_alarm_reps: list[str] = field(default_factory=list)
    thigh_errors: list[float] = field(default_factory=list)
    found: int = 0
    labelled: int = 0
    counts_right: int = 0
    clips: int = 0
    count_lines: list[str] = field(default_factory=list)


def verdict_of(rep) -> RepVerdict:  # noqa: ANN001 - a Repetition
    """The verdicts as summary.json states them."""
    return RepVerdict(rep.depth_verdict, rep.thigh_angle, rep.thigh_angle_sd, rep.knees_in)


def label_class(thigh_deg: float) -> str:
    return "above" if thigh_deg >= CLEAR_DEG else "below" if thigh_deg <= -CLEAR_DEG else "parallel"


def clip_video(name: str) -> Path | None:
    return next((f / f"{name}.mp4" for f in CLIP_FOLDERS if (f / f"{name}.mp4").is_file()), None)


def accepted_counts(name: str) -> set[int]:
    for folder in CLIP_FOLDERS:
        truth = json.loads((folder / "reps.json").read_text()) if (folder / "reps.json").is_file() else {}
        if name in truth:
            t = truth[name]
            return {t["completed_reps"]} | ({t["full_reps"]} if t["ambiguous"] else set())
    return set()


def cached_tracks(name: str, cache: Path, refresh: bool):  # noqa: ANN201 - JointTracks
    """The clip's joint tracks from the cache, or found now with `analyze` and cached."""
    path = cache / f"{name}.json"
    if refresh or not path.is_file():
        from squatpose.api import analyze  # torch only when joints must be found

        video = clip_video(name)
        if video is None:
            raise FileNotFoundError(f"{name}.mp4 is in none of {[str(f) for f in CLIP_FOLDERS]}")
        print(f"  finding the joints of {name} ...", flush=True)
        save_keypoints_json(analyze(video, progress=False).raw, path)
    return load_keypoints_json(path)


def match(labelled: list[dict], analysis: SquatAnalysis) -> dict[int, object]:
    """{index into `labelled`: the counted repetition spanning its bottom frame (nearest bottom)}."""
    slack = round(MATCH_SLACK_S * analysis.fps)
    out, used = {}, set()
    for i, lab in enumerate(labelled):
        spans = [r for r in analysis.repetitions if r.number not in used
                 and r.start_frame - slack <= lab["frame"] <= (r.end_frame or analysis.n_frames) + slack]
        if spans:
            rep = min(spans, key=lambda r: abs(r.bottom_frame - lab["frame"]))
            out[i] = rep
            used.add(rep.number)
    return out


def score_clip(name: str, labels: dict, analysis: SquatAnalysis, t: Tally) -> None:
    reps = labels["reps"]
    found = match(reps, analysis)
    t.labelled += len(reps)
    t.found += len(found)
    t.clips += 1
    ok = analysis.reps in accepted_counts(name)
    t.counts_right += ok
    t.count_lines.append(f"{name}: {analysis.reps} ({'right' if ok else 'wrong'})")
    for i, lab in enumerate(reps):
        said = verdict_of(found[i]) if i in found else None
        if lab["knees_in"] is False:
            t.knees_fine += 1
            t.knees_judged += said is not None and said.knees_in is not None
            if said is not None and said.knees_in:
                t.knees_false_alarm += 1
                t.false_alarm_reps.append(f"{name} rep {lab['rep']}")
        if lab["thigh_deg"] is None:
            continue
        truth = label_class(lab["thigh_deg"])
        if said is not None:
            t.depth_labelled += 1
            t.covered += said.depth is not None
            if said.thigh_deg is not None:
                error = abs(said.thigh_deg - lab["thigh_deg"])
                t.thigh_errors.append(error)
                t.within_sd += error <= said.thigh_sd
                t.within_2sd += error <= 2 * said.thigh_sd
        if truth == "parallel":
            key = "missed" if said is None else (said.depth or "none")
            t.near_parallel[key] = t.near_parallel.get(key, 0) + 1
            continue
        t.clear_total += 1
        if said is None or said.depth is None:
            t.clear_none += 1
        elif said.depth == truth:
            t.clear_right += 1
        elif said.depth == "parallel":
            t.clear_hedged += 1
        else:
            t.clear_wrong += 1


def table(t: Tally) -> str:
    err = np.asarray(t.thigh_errors)
    near = ", ".join(f"{k} {v}" for k, v in sorted(t.near_parallel.items()))
    rows = [
        ("depth verdict on clear reps (thigh ≥ 15° from horizontal)",
         f"right {t.clear_right} of {t.clear_total}; 'about parallel' {t.clear_hedged}, wrong {t.clear_wrong}, "
         f"none {t.clear_none}"),
        ("verdict coverage (found reps with a depth label)", f"{t.covered} of {t.depth_labelled}"),
        ("reps labelled about parallel (thigh within 15° of horizontal): verdict", near or "–"),
        ("\"knees inward\" on reps whose knees track over the feet",
         f"{t.knees_false_alarm} of {t.knees_fine} (judged on {t.knees_judged})"
         + (f" ({', '.join(t.false_alarm_reps)})" if t.false_alarm_reps else "")),
        ("thigh angle error against the label, median / 90th percentile",
         f"{np.median(err):.0f}° / {np.percentile(err, 90):.0f}° ({err.size} reps)" if err.size else "–"),
        ("labelled thigh angle within the stated ± (one sd) / ± two sd",
         f"{t.within_sd} / {t.within_2sd} of {err.size}"),
        ("repetitions found near a labelled bottom", f"{t.found} of {t.labelled}"),
        ("clips counted right (reps.json)", f"{t.counts_right} of {t.clips}"),
    ]
    return "| verdict | squatpose |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + "\n"


@dataclass
class SplitRep:
    """One found repetition for the split check: its clip, the thigh angle with its measurement-only
    sd (no joint-centre term) and label, and the knees' inward distance with its sd."""

    clip: str
    thigh: float | None = None
    thigh_sd: float | None = None
    label: float | None = None
    knees: float | None = None
    knees_sd: float | None = None


def split_reps(labels: dict, tracks: dict) -> list[SplitRep]:
    """Every found repetition with a thigh label or a knees verdict, analysed without the
    joint-centre term of the thigh angle's uncertainty."""
    cfg = AnalysisConfig()
    cfg = dataclasses.replace(cfg, feedback=dataclasses.replace(cfg.feedback, thigh_model_sd_deg=0.0))
    out = []
    for name in sorted(labels):
        analysis = analyze_tracks(tracks[name], cfg)
        for i, rep in match(labels[name]["reps"], analysis).items():
            out.append(SplitRep(name, rep.thigh_angle, rep.thigh_angle_sd, labels[name]["reps"][i]["thigh_deg"],
                                rep.knee_inward_pct, rep.knee_inward_sd_pct))
    return out


def _depth_class(angle: float, sd: float) -> str:
    return "below" if angle + sd < 0 else "above" if angle - sd > 0 else "parallel"


def joint_centre_sd(reps: list[SplitRep]) -> float:
    """The thigh angle's joint-centre sd that the labels leave: sqrt(rms residual² - mean measurement
    variance), to 0.5°."""
    rows = [r for r in reps if r.label is not None and r.thigh is not None]
    residual = np.array([r.thigh - r.label for r in rows])
    measured = np.array([r.thigh_sd for r in rows])
    return round(2 * float(np.sqrt(max(0.0, np.mean(residual ** 2) - np.mean(measured ** 2))))) / 2


def _thigh_check(train: list[SplitRep], test: list[SplitRep]) -> str:
    model_sd = joint_centre_sd(train)
    held = [r for r in test if r.label is not None and r.thigh is not None]
    cover = np.mean([abs(r.thigh - r.label) <= np.hypot(r.thigh_sd, model_sd) for r in held])
    said = [(_depth_class(r.thigh, np.hypot(r.thigh_sd, model_sd)), label_class(r.label)) for r in held]
    clear = [(s, t) for s, t in said if t != "parallel"]
    near = [s for s, t in said if t == "parallel"]
    return (f"joint-centre sd {model_sd:g}°; held out: label within ± on {100 * cover:.0f} % of {len(held)}, "
            f"clear reps right {sum(s == t for s, t in clear)} of {len(clear)}, near-parallel said about "
            f"parallel {near.count('parallel')} of {len(near)}")


def _knees_check(train: list[SplitRep], test: list[SplitRep]) -> str:
    low = [r.knees - r.knees_sd for r in train if r.knees is not None]
    threshold = max(KNEES_FLOOR_PCT, float(np.ceil(max(low))) + 1.0)
    held = [r.knees - r.knees_sd for r in test if r.knees is not None]
    alarms = sum(v > threshold for v in held)
    return (f"threshold {threshold:g} % (largest lower bound {max(low):.1f} % over {len(low)} reps); "
            f"held out: {alarms} of {len(held)} reps over it (largest {max(held):.1f} %)")


def split_table(reps: list[SplitRep]) -> str:
    clips = sorted({r.clip for r in reps})
    halves = ({c for c in clips[::2]}, {c for c in clips[1::2]})
    labelled = sum(r.label is not None and r.thigh is not None for r in reps)
    lines = [f"All {labelled} labelled reps: joint-centre sd {joint_centre_sd(reps):g}°.", "",
             "| chosen on → checked on | thigh angle uncertainty | knees inward |", "|---|---|---|"]
    for name, (a, b) in (("A → B", halves), ("B → A", halves[::-1])):
        train, test = [r for r in reps if r.clip in a], [r for r in reps if r.clip in b]
        lines.append(f"| {name} | {_thigh_check(train, test)} | {_knees_check(train, test)} |")
    return "\n".join(lines) + f"\n\nA: {', '.join(sorted(halves[0]))}.\nB: {', '.join(sorted(halves[1]))}.\n"


def write_block(doc: Path, block: str, text: str) -> None:
    """Replace the text between `<!-- form_eval:BLOCK -->` and `<!-- /form_eval:BLOCK -->` in `doc`."""
    begin, end = f"<!-- form_eval:{block} -->", f"<!-- /form_eval:{block} -->"
    content = doc.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{doc}: no '{begin}' ... '{end}' block to write into")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{text}{end}", content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=SHARED / "form_truth" / "form_truth.json")
    parser.add_argument("--cache", type=Path, default=REPO / "derived" / "form_eval",
                        help="joint tracks per clip (default: derived/form_eval, git-ignored)")
    parser.add_argument("--refresh", action="store_true", help="find every clip's joints again")
    parser.add_argument("--doc", type=Path, default=None, help="write the table into this Markdown file ...")
    parser.add_argument("--block", default="now", help="... between <!-- form_eval:BLOCK --> markers")
    parser.add_argument("--counts", action="store_true", help="print each clip's repetition count")
    parser.add_argument("--split", action="store_true",
                        help="the leave-clips-out check of the thresholds chosen on the labels (block 'split')")
    args = parser.parse_args()
    if not args.labels.is_file():
        raise SystemExit(f"{args.labels}: no form labels here (the shared data is not on this machine)")
    labels = {k: v for k, v in json.loads(args.labels.read_text()).items() if not k.startswith("_")}
    args.cache.mkdir(parents=True, exist_ok=True)
    tracks = {name: cached_tracks(name, args.cache, args.refresh) for name in sorted(labels)}
    if args.split:
        text = split_table(split_reps(labels, tracks))
        print(text)
        if args.doc is not None:
            write_block(args.doc, "split", text)
        return
    tally = Tally()
    for name in sorted(labels):
        score_clip(name, labels[name], analyze_tracks(tracks[name]), tally)
    if args.counts:
        print("\n".join(tally.count_lines))
    text = table(tally)
    print(text)
    if args.doc is not None:
        write_block(args.doc, args.block, text)
        print(f"written into {args.doc} ({args.block})")


if __name__ == "__main__":
    main()
