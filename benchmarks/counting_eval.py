"""Repetition counts wherever the truth is known, for one analysis config or two side by side: the
evidence a counting rule needs on data it was not tuned on.

    python benchmarks/counting_eval.py [--set KEY=VALUE ...] [--against KEY=VALUE ...]
        [--tracks DIR ...] [--no-penn] [--no-mocap] [--no-synthetic]

Sources, each skipped with a reason when its data is absent:
- synthetic: `counting_scenarios` of tests/helpers/synthetic_squats.py (hand-held camera, jump squats,
  quarter squats, a long set, walking after the set, oblique cameras, knee raises, squats on one leg),
  30 clips with known counts;
- Penn Action: the 114 ground-truth squat clips (one repetition each), clean and with 2 % jitter plus
  10 % dropped frames and joints (seed 0);
- mocap: real motion capture of 5 squats (../shared/data/mocap), projected from yaw 0/30/60/90° and
  pitch ±10° by the data's own `mocap_tracks.py` (written once under out/mocap_tracks/);
- shared clips: keypoints files `<clip>.json` in each `--tracks` folder (the teacher's from
  teacher_tracks.py, a model's from `squat_videos_eval.py --tracks`), against reps.json (a clip marked
  ambiguous is right at either count).

`--set` configures the analysis (as `squatpose analyze --set`); `--against` runs a second config beside
it, usually the rule switched off, and lists every clip whose count differs. One line per source and
config: right / clips, then the clips counted wrong.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from squatpose.analysis import AnalysisConfig, analyze_tracks
from squatpose.analysis.config import load_analysis_config
from squatpose.analysis.tracks import JointTracks, load_keypoints_json

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from helpers.penn_action import load_penn_action  # noqa: E402
from helpers.synthetic_squats import counting_scenarios  # noqa: E402
from penn_action_eval import Condition, perturb  # noqa: E402

PENN = SHARED / "penn_action" / "squat_train.json"
MOCAP = SHARED / "mocap"
REPS = (SHARED / "squat_videos" / "reps.json", SHARED / "squat_videos_more" / "reps.json")
MOCAP_REPS = 5
Clip = tuple[str, JointTracks, set[int]]


def synthetic() -> Iterator[Clip]:
    for name, tracks, count in counting_scenarios():
        yield name, tracks, {count}


def penn_action(noisy: bool) -> Iterator[Clip]:
    import numpy as np

    rng = np.random.default_rng(0)
    condition = Condition("jitter 2% + drop", jitter=0.02, drop_frames=0.1, drop_joints=0.1)
    for clip in load_penn_action(PENN):
        tracks = clip.tracks(occluded_score=0.2)
        yield f"penn {clip.clip} ({clip.view})", perturb(tracks, condition, rng) if noisy else tracks, {1}


def mocap() -> Iterator[Clip]:
    out = REPO / "out" / "mocap_tracks"
    if not (out / "truth.json").is_file():
        subprocess.run([sys.executable, str(MOCAP / "mocap_tracks.py"), str(MOCAP / "opencap_squats1.mot"),
                        str(out)], check=True, capture_output=True)
    for path in sorted(out.glob("y*.json")):
        yield f"mocap {path.stem}", load_keypoints_json(path), {MOCAP_REPS}


def shared_clips(folder: Path) -> Iterator[Clip]:
    for reps in REPS:
        truth = {k: v for k, v in json.loads(reps.read_text()).items() if not k.startswith("_")}
        for name, expected in sorted(truth.items()):
            path = folder / f"{name}.json"
            if not path.is_file():
                print(f"  {folder.name}: no keypoints file for {name}")
                continue
            accepted = {expected["completed_reps"]} | ({expected["full_reps"]} if expected["ambiguous"] else
                                                       set())
            yield name, load_keypoints_json(path), accepted


def sources(args: argparse.Namespace) -> Iterator[tuple[str, Iterator[Clip]]]:
    if not args.no_synthetic:
        yield "synthetic", synthetic()
    for noisy in (False, True):
        if args.no_penn:
            break
        if not PENN.is_file():
            print(f"Penn Action skipped: {PENN} not found")
            break
        yield f"Penn Action{', 2 % jitter + drops' if noisy else ''}", penn_action(noisy)
    if not args.no_mocap:
        if (MOCAP / "mocap_tracks.py").is_file():
            yield "mocap views", mocap()
        else:
            print(f"mocap skipped: {MOCAP} not found")
    for folder in args.tracks:
        yield f"shared clips, {folder.name} tracks", shared_clips(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="analysis setting for the config under test (repeatable)")
    parser.add_argument("--against", action="append", default=None, metavar="KEY=VALUE",
                        help="a second config to compare with (repeatable; '--against none' = defaults)")
    parser.add_argument("--tracks", type=Path, action="append", default=[],
                        help="folder of <clip>.json keypoints files of the shared clips (repeatable)")
    parser.add_argument("--no-penn", action="store_true")
    parser.add_argument("--no-mocap", action="store_true")
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args(argv)
    configs = {"test": load_analysis_config(None, args.overrides)}
    if args.against is not None:
        configs["against"] = load_analysis_config(None, [a for a in args.against if a != "none"])
    print("config under test:", " ".join(args.overrides) or "defaults")
    if args.against is not None:
        print("against:", " ".join(args.against))
    for source, clips in sources(args):
        evaluate(source, list(clips), configs)
    return 0


def evaluate(source: str, clips: list[Clip], configs: dict[str, AnalysisConfig]) -> None:
    counts = {key: [analyze_tracks(tracks, cfg).reps for _, tracks, _ in clips]
              for key, cfg in configs.items()}
    for key, got in counts.items():
        wrong = [f"{name} {n} (truth {'/'.join(map(str, sorted(ok)))})"
                 for (name, _, ok), n in zip(clips, got) if n not in ok]
        right = len(clips) - len(wrong)
        print(f"{source:<40}{key:<8}{right:>4} of {len(clips):<4}" + ("  wrong: " + "; ".join(wrong) if wrong
                                                                       else ""))
    if len(counts) == 2:
        changed = [f"{name} {a}→{b}" for (name, _, _), a, b in zip(clips, counts["against"], counts["test"])
                   if a != b]
        print(f"{'':<40}changed ({len(changed)}): " + ("; ".join(changed) or "none"))


if __name__ == "__main__":
    sys.exit(main())
