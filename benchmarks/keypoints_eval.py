"""The analysis on keypoints files of the shared squat clips (e.g. the teacher's, from teacher_tracks.py):
repetition counts against the counts verified by eye, the detected view, and the trunk per repetition.

    python benchmarks/keypoints_eval.py [--tracks derived/teacher_tracks] [--data DIR ...] [--reps]

One line per clip: counted / truth (right when it equals `completed_reps`, or `full_reps` for clips marked
ambiguous), the labelled and the detected view, and the medians over its completed repetitions of the trunk
lean and hip angle at the bottom and of the shoulder-to-hip rise ratio early in the way up (± the median
sd), with the repetitions flagged "hips rose first". `--reps` adds one line per repetition. Clips without a
keypoints file are listed as missing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from squatpose.analysis import analyze_tracks
from squatpose.analysis.rep_measures import Repetition
from squatpose.analysis.tracks import load_keypoints_json
from squatpose.analysis.trunk import HIPS_FIRST

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATA = (SHARED / "squat_videos", SHARED / "squat_videos_more")


def _with_sd(reps: list[Repetition], key: str, digits: int) -> str:
    values = [(getattr(r, key), getattr(r, f"{key}_sd")) for r in reps if getattr(r, key) is not None]
    if not values:
        return "-"
    value, sd = np.median(values, axis=0)
    return f"{value:.{digits}f}±{sd:.{digits}f}"


def _rep_line(rep: Repetition) -> str:
    def show(key: str, digits: int) -> str:
        value = getattr(rep, key)
        return "-" if value is None else f"{value:.{digits}f}±{getattr(rep, f'{key}_sd'):.{digits}f}"

    rise = ("-" if rep.early_hip_rise is None else
            f"hips {rep.early_hip_rise:.2f} shoulders {rep.early_shoulder_rise:.2f}")
    return (f"    rep {rep.number}: bottom f{rep.bottom_frame} lean {show('trunk_lean_bottom', 0)} "
            f"hip angle {show('hip_angle_bottom', 0)} ratio {show('shoulder_rise_ratio', 2)} ({rise}) "
            f"{'HIPS FIRST' if HIPS_FIRST in rep.flags else ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=Path, default=REPO / "derived" / "teacher_tracks",
                        help="folder with <clip>.json keypoints files")
    parser.add_argument("--data", type=Path, nargs="+", default=list(DATA), help="folders with reps.json")
    parser.add_argument("--reps", action="store_true", help="one line per repetition too")
    args = parser.parse_args(argv)
    right = total = 0
    print(f"{'clip':<26}{'count':>6}{'truth':>6}  {'labelled view':<22}{'detected':<11}"
          f"{'lean':>9}{'hip angle':>11}{'ratio':>12}  hips first")
    for folder in args.data:
        truth = {k: v for k,
                 v in json.loads((folder / "reps.json").read_text()).items() if not k.startswith("_")}
        for name, expected in sorted(truth.items()):
            path = args.tracks / f"{name}.json"
            if not path.is_file():
                print(f"{name:<26} missing: {path}")
                continue
            a = analyze_tracks(load_keypoints_json(path))
            accepted = {expected["completed_reps"]} | ({expected["full_reps"]} if expected["ambiguous"]
                                                       else set())
            total += 1
            right += a.reps in accepted
            flagged = [r.number for r in a.repetitions if HIPS_FIRST in r.flags]
            mark = "" if a.reps in accepted else " x"
            print(f"{name:<26}{a.reps:>6}{expected['completed_reps']:>6}{mark:<2}"
                  f"{expected['view'][:21]:<22}{a.view.label:<11}"
                  f"{_with_sd(a.repetitions, 'trunk_lean_bottom', 0):>9}"
                  f"{_with_sd(a.repetitions, 'hip_angle_bottom', 0):>11}"
                  f"{_with_sd(a.repetitions, 'shoulder_rise_ratio', 2):>12} "
                  f" {flagged or ''}")
            if args.reps:
                print("\n".join(_rep_line(r) for r in a.repetitions))
    print(f"\ncounted right: {right} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
