"""Speed benchmark: per-crop latency (PyTorch vs ONNX Runtime, batch 1 and 8) and end-to-end
`analyze` frames per second on a 720p clip, with the time split between decode, pose and analysis.

    python benchmarks/speed.py [--checkpoint C] [--video CLIP.mp4] [--threads 2] [--repeats 50]

Both backends run side by side in one process, so the ratios hold even on a noisy machine.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from squatpose.api import analyze
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import (
    OnnxRunner,
    Predictor,
    TorchRunner,
    default_checkpoint,
)

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squat_videos" / "squat_13.mp4"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def crop_latency(checkpoint: Path, threads: int, repeats: int) -> list[tuple[str, int, float]]:
    loaded = load_model(checkpoint)
    torch.set_num_threads(threads)
    w, h = loaded.codec.input_wh
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(loaded, Path(tmp) / "model.onnx")
        runners = {"pytorch": TorchRunner(loaded.model), "onnxruntime": OnnxRunner(onnx_path, threads)}
        for batch in (1, 8):
            data = np.random.default_rng(0).normal(size=(batch, 3, h, w)).astype(np.float32)
            for name, runner in runners.items():
                rows.append((name, batch, median_ms(lambda: runner(data), repeats) / batch))
    return rows


def end_to_end(checkpoint: Path, video: Path, backend: str, threads: int) -> dict:
    predictor = Predictor.from_checkpoint(checkpoint, backend=backend, threads=threads)
    start = time.perf_counter()
    result = analyze(video, None, predictor=predictor, progress=False)  # no output files: pipeline speed
    total = time.perf_counter() - start
    frames = result.n_frames
    t = result.timings
    return {"backend": backend, "frames": frames, "fps": frames / total, "decode_ms": 1000 * t["decode"] / frames,
            "pose_ms": 1000 * t["pose"] / frames, "analysis_ms": 1000 * t["analysis"] / frames, "reps": result.reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="a 720p squat clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    checkpoint = args.checkpoint or default_checkpoint()
    loaded = load_model(checkpoint)
    print(f"model {loaded.model_name}, input {loaded.codec.input_wh[0]}x{loaded.codec.input_wh[1]} (w×h), "
          f"{args.threads} threads")
    print(f"\n{'engine':<12}{'batch':>6}{'ms/crop':>10}")
    rows = crop_latency(checkpoint, args.threads, args.repeats)
    for name, batch, ms in rows:
        print(f"{name:<12}{batch:>6}{ms:>10.2f}")
    by = {(n, b): ms for n, b, ms in rows}
    print(f"ONNX Runtime speed-up: batch 1 ×{by[('pytorch', 1)] / by[('onnxruntime', 1)]:.2f}, "
          f"batch 8 ×{by[('pytorch', 8)] / by[('onnxruntime', 8)]:.2f}")
    if not args.video.is_file():
        print(f"\n(no end-to-end run: {args.video} not found; pass --video)")
        return
    print(f"\nend to end on {args.video.name}:")
    print(f"{'backend':<10}{'frames':>7}{'fps':>8}{'decode ms':>11}{'pose ms':>9}{'analysis ms':>13}{'reps':>6}")
    for backend in ("torch", "onnx"):
        r = end_to_end(checkpoint, args.video, backend, args.threads)
        print(f"{r['backend']:<10}{r['frames']:>7}{r['fps']:>8.1f}{r['decode_ms']:>11.2f}{r['pose_ms']:>9.2f}"
              f"{r['analysis_ms']:>13.2f}{r['reps']:>6}")


if __name__ == "__main__":
    main()
