"""Repetition counts on the shared real squat clips against the counts verified by eye (reps.json).

    python benchmarks/squat_videos_eval.py [--checkpoint C] [--out DIR] [--backend onnx]

A count is right when it equals `completed_reps`, or `full_reps` for clips that start mid-repetition
(reps.json marks those `ambiguous`: either count is acceptable there). With --out, every clip's full
outputs (report.html, annotated.mp4, ...) are kept in DIR/<clip>/ for looking at.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from squatpose.api import analyze
from squatpose.pose.predictor import Predictor

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squat_videos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None, help="keep each clip's outputs here")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    args = parser.parse_args()
    truth = {k: v for k, v in json.loads((args.data / "reps.json").read_text()).items() if not k.startswith("_")}
    predictor = Predictor.from_checkpoint(args.checkpoint, backend=args.backend)
    print(f"{'clip':<10}{'view':<34}{'counted':>8}{'truth':>8}{'ok':>4}{'partial':>8}{'fps':>7}  detected view")
    right = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, expected in sorted(truth.items(), key=lambda kv: int(kv[0].split("_")[1])):
            out = (args.out or Path(tmp)) / name
            start = time.perf_counter()
            result = analyze(args.data / f"{name}.mp4", out, predictor=predictor, progress=False)
            seconds = time.perf_counter() - start
            accepted = {expected["completed_reps"]} | ({expected["full_reps"]} if expected["ambiguous"] else set())
            ok = result.reps in accepted
            right += ok
            label = "/".join(str(v) for v in sorted(accepted))
            print(f"{name:<10}{expected['view'][:33]:<34}{result.reps:>8}{label:>8}{'✓' if ok else '✗':>4}"
                  f"{len(result.partial):>8}{result.n_frames / seconds:>7.1f}  {result.view.label}")
    print(f"\n{right}/{len(truth)} clips counted right")


if __name__ == "__main__":
    main()
