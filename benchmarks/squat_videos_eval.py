"""Repetition counts on the shared real squat clips against the counts verified by eye (reps.json), and
how much of each clip the person was followed.

    python benchmarks/squat_videos_eval.py [--checkpoint C] [--data DIR ...] [--out DIR] [--backend
    auto|onnx|torch]
                                           [--onnx FILE]

A count is right when it equals `completed_reps`, or `full_reps` for clips that start mid-repetition
(reps.json marks those `ambiguous`: either count is acceptable there). "followed" is the share of frames
whose pose was confident (mean joint score ≥ the tracker's min_score); "bottom" is the median mean joint
score within ±0.25 s of each counted repetition's bottom, the median over the clip's repetitions. Both
read the model's scores as they are: calibrated probabilities for a calibrated model file, raw heatmap
peaks (which the default min_score is not meant for) otherwise. Without --out nothing is
written (pipeline speed); with --out every clip's outputs (report.html, annotated.mp4, ...) are kept in
DIR/<clip>/ for looking at. `--tracks DIR` keeps each clip's joint tracks as DIR/<clip>.json, a keypoints
file that `benchmarks/keypoints_eval.py --tracks DIR` analyses again without the model (beside the teacher's
tracks from teacher_tracks.py).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from squatpose.analysis.tracks import save_keypoints_json
from squatpose.api import analyze
from squatpose.pose.predictor import Predictor
from squatpose.video.tracker import TrackerConfig

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = (SHARED / "squat_videos", SHARED / "squat_videos_more")


def clip_order(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("_")
    return stem, int(number) if number.isdigit() else 0


def bottom_score(frame_score: np.ndarray, bottom: int, fps: float, half_window_s: float = 0.25) -> float:
    """Median mean-joint score within ±half_window_s of a repetition's bottom (where models fail most)."""
    half = max(1, round(half_window_s * fps))
    return float(np.median(frame_score[max(0, bottom - half):bottom + half + 1]))


def evaluate_folder(folder: Path, predictor: Predictor, out: Path | None,
                    tracks: Path | None = None) -> tuple[int, int, list[float]]:
    truth = {k: v for k, v in json.loads((folder / "reps.json").read_text()).items() if not k.startswith("_")}
    print(f"\n{folder.name}")
    print(f"{'clip':<28}{'counted':>8}{'truth':>8}{'ok':>4}{'followed':>10}{'bottom':>8}{'people':>7}"
          f"{'fps':>7}  view")
    right, followed = 0, []
    for name, expected in sorted(truth.items(), key=lambda kv: clip_order(kv[0])):
        start = time.perf_counter()
        result = analyze(folder / f"{name}.mp4", None if out is None else out / name, predictor=predictor,
                         progress=False)
        seconds = time.perf_counter() - start
        if tracks is not None:
            save_keypoints_json(result.raw, tracks / f"{name}.json")
        accepted = {expected["completed_reps"]} | ({expected["full_reps"]} if expected["ambiguous"] else
                                                   set())
        ok = result.reps in accepted
        right += ok
        frame_score = result.raw.score.mean(axis=1)
        share = float(np.mean(frame_score >= TrackerConfig().min_score))
        followed.append(share)
        bottoms = [bottom_score(frame_score, rep.bottom_frame, result.fps) for rep in result.repetitions]
        people = next((w.split()[0] for w in result.warnings if "people were seen" in w), "1")
        label = "/".join(str(v) for v in sorted(accepted))
        bottom = f"{np.median(bottoms):.2f}" if bottoms else "-"
        print(f"{name:<28}{result.reps:>8}{label:>8}{'✓' if ok else '✗':>4}{100 * share:>9.1f}%{bottom:>8}"
              f"{people:>7}{result.n_frames / seconds:>7.1f}  {expected['view'][:40]}", flush=True)
    return right, len(truth), followed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--data", type=Path, nargs="+", default=[d for d in DATA if d.is_dir()])
    parser.add_argument("--out", type=Path, default=None, help="keep each clip's outputs here")
    parser.add_argument("--tracks", type=Path, default=None,
                        help="keep each clip's joint tracks here as <clip>.json (keypoints files)")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                        help="auto (default): what `analyze` runs, the shipped int8 file it picks for this "
                             "CPU; onnx: the float export (or --onnx FILE)")
    parser.add_argument("--onnx", type=Path, default=None,
                        help="run this ONNX file of the model, e.g. "
                             "src/squatpose/weights/default.int8-7bit.onnx (what x86 CPUs without VNNI run; "
                             "exact on every x86 CPU)")
    args = parser.parse_args()
    if args.tracks is not None:
        args.tracks.mkdir(parents=True, exist_ok=True)
    backend = "onnx" if args.onnx else args.backend
    predictor = Predictor.from_checkpoint(args.checkpoint, backend=backend, onnx_path=args.onnx)
    file = getattr(predictor.runner, "path", None)
    print(f"pose model on {predictor.backend} ({predictor.precision}{', ' + file.name if file else ''})")
    for folder in args.data:
        right, total, followed = evaluate_folder(folder, predictor, args.out, args.tracks)
        print(f"{folder.name}: {right}/{total} clips counted right; followed ≥ 95 % of frames in "
              f"{sum(f >= 0.95 for f in followed)}/{total} clips (mean {100 * np.mean(followed):.1f} %)")


if __name__ == "__main__":
    main()
