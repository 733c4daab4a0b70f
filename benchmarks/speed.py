"""Speed against MoveNet Lightning, both timed in the same run:

1. `squatpose.analyze` frames per second (no output files) beside the plainest Lightning video loop
   (decode, whole frame letterboxed to 192×192, one model call per frame) on a 720p clip and on the
   same clip upscaled to 1080p at run time, with analyze's time split (decode, detection, pose,
   tracking, analysis). Rounds alternate between the two so that load changes hit both alike.
2. Per-crop latency of the built-in model (the runner the default backend picks: the shipped int8 file
   when there is one, and the float32 ONNX export beside it) against Lightning, batch 1, with 1 and 2
   threads, in interleaved rounds.

    python benchmarks/speed.py [--checkpoint C] [--video CLIP.mp4] [--threads 2] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from squatpose.api import analyze
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner, Predictor, default_checkpoint, make_runner

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_VIDEO = SHARED / "data" / "squat_videos" / "squat_13.mp4"
LIGHTNING = SHARED / "teachers" / "movenet-lightning.onnx"
SPLIT = ("decode", "detection", "pose", "tracking", "analysis")


def lightning_session(threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(LIGHTNING), options, providers=["CPUExecutionProvider"])


def letterbox(frame_rgb: np.ndarray, side: int = 192) -> np.ndarray:
    h, w = frame_rgb.shape[:2]
    scale = side / max(h, w)
    nw, nh = round(w * scale), round(h * scale)
    canvas = np.zeros((side, side, 3), np.uint8)
    y0, x0 = (side - nh) // 2, (side - nw) // 2
    canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(frame_rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


def lightning_loop(session: ort.InferenceSession, video: Path) -> float:
    """Frames per second of decode → letterbox → one Lightning call per frame."""
    name = session.get_inputs()[0].name
    cap = cv2.VideoCapture(str(video))
    frames, start = 0, time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        batch = letterbox(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))[None].astype(np.int32)
        session.run(None, {name: batch})
        frames += 1
    cap.release()
    return frames / (time.perf_counter() - start)


def analyze_run(predictor: Predictor, video: Path) -> dict:
    start = time.perf_counter()
    result = analyze(video, None, predictor=predictor, progress=False)  # no output files: pipeline speed
    total = time.perf_counter() - start
    row = {"fps": result.n_frames / total, "frames": result.n_frames, "reps": result.reps}
    row.update({k: 1000 * result.timings.get(k, 0.0) / result.n_frames for k in SPLIT})
    return row


def upscale(video: Path, out: Path, size_wh: tuple[int, int] = (1920, 1080)) -> Path:
    cap = cv2.VideoCapture(str(video))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS), size_wh)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size_wh, interpolation=cv2.INTER_CUBIC))
    cap.release()
    writer.release()
    return out


def end_to_end(checkpoint: Path, clips: dict[str, Path], threads: int, rounds: int) -> None:
    predictor = Predictor.from_checkpoint(checkpoint, threads=threads)  # the default backend, as users get it
    session = lightning_session(threads)
    print(f"\nend to end, {threads} threads, pose on {predictor.backend} ({predictor.precision}), best of {rounds} "
          "alternating rounds (frames/s):")
    print(f"{'clip':<8}{'frames':>7}{'analyze':>9}{'Lightning':>11}{'ratio':>7}{'reps':>6}  "
          + "  ".join(f"{k} ms" for k in SPLIT))
    for label, video in clips.items():
        runs, plain = [], []
        for _ in range(rounds):
            plain.append(lightning_loop(session, video))
            runs.append(analyze_run(predictor, video))
        best = max(runs, key=lambda r: r["fps"])
        split = "  ".join(f"{best[k]:>{len(k) + 3}.1f}" for k in SPLIT)
        print(f"{label:<8}{best['frames']:>7}{best['fps']:>9.1f}{max(plain):>11.1f}"
              f"{best['fps'] / max(plain):>7.2f}{best['reps']:>6}  {split}")


def interleaved_ms(fns: list, rounds: int, calls: int) -> list[float]:
    """Median ms per call of each function, timed in alternating rounds."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[i].append(1000 * (time.perf_counter() - start) / calls)
    return [statistics.median(t) for t in times]


def crop_latency(checkpoint: Path, rounds: int, calls: int) -> None:
    """The runner the default backend picks for this checkpoint (the shipped int8 file for the built-in
    weights) and the float ONNX export, against Lightning."""
    loaded = load_model(checkpoint)
    w, h = loaded.codec.input_wh
    ours = np.random.default_rng(0).normal(size=(1, 3, h, w)).astype(np.float32)
    theirs = np.random.default_rng(0).integers(0, 255, (1, 192, 192, 3)).astype(np.int32)
    print(f"\nper-crop latency, batch 1, median of {rounds} interleaved rounds × {calls} calls (ms):")
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(loaded, Path(tmp) / "model.onnx")
        for threads in (1, 2):
            runner, backend, precision = make_runner(loaded, "auto", None, threads)
            session = lightning_session(threads)
            feed = {session.get_inputs()[0].name: theirs}
            fns = [partial(runner, ours), partial(OnnxRunner(path, threads), ours), partial(session.run, None, feed)]
            default, fp32, light = interleaved_ms(fns, rounds, calls)
            print(f"{threads} thread(s): built-in {w}x{h} default backend ({backend}, {precision}) {default:.2f}, "
                  f"float32 ONNX {fp32:.2f}, Lightning 192 {light:.2f}; default / Lightning {default / light:.2f}, "
                  f"float32 / Lightning {fp32 / light:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="a 720p squat clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30, help="crop latency: calls per round")
    args = parser.parse_args()
    if not LIGHTNING.is_file() or not args.video.is_file():
        raise SystemExit(f"needs {LIGHTNING} and {args.video}")
    checkpoint = args.checkpoint or default_checkpoint()
    loaded = load_model(checkpoint)
    print(f"model {loaded.model_name}, input {loaded.codec.input_wh[0]}x{loaded.codec.input_wh[1]} (w×h); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    crop_latency(checkpoint, args.rounds * 3, args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        clips = {"720p": args.video, "1080p": upscale(args.video, Path(tmp) / "clip_1080p.mp4")}
        end_to_end(checkpoint, clips, args.threads, args.rounds)


if __name__ == "__main__":
    main()
