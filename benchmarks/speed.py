"""Speed against MoveNet Lightning, both timed in the same run, with `squatpose info` recorded beside:

1. Per-crop latency of the built-in model against Lightning, batch 1, with 1 and 2 threads, in
   interleaved rounds: exactly the file the default backend runs on this CPU (`squatpose info` names
   it) and the float32 ONNX export beside it.
2. `squatpose.analyze` frames per second (no output files) beside the plainest Lightning video loop
   (decode, whole frame letterboxed to 192×192, one model call per frame) on a 720p clip and on the
   same clip upscaled to 1080p at run time. Rounds alternate between the two so that load changes hit
   both alike. analyze's time per frame is split into stages: decoding (on its own thread: the time
   the pipeline waited for a frame, and beside it what decoding costs alone), detection, the pose
   crop (warp + normalise), the pose model, heatmap decoding, tracking and analysis; writing the
   output files (report, plots, annotated video) is timed once per clip.

    python benchmarks/speed.py [--checkpoint C] [--video CLIP.mp4] [--threads 2] [--rounds 3] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from squatpose.api import analyze
from squatpose.info import collect_info, format_info
from squatpose.pose import predictor as predictor_module
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner, Predictor, default_checkpoint, make_runner

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_VIDEO = SHARED / "data" / "squat_videos" / "squat_13.mp4"
LIGHTNING = SHARED / "teachers" / "movenet-lightning.onnx"
SPLIT = ("decode", "detection", "crop", "model", "heatmaps", "tracking", "analysis")


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


class Stopwatch:
    """Seconds spent in wrapped callables, by stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, stage: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        return timed


def analyze_run(predictor: Predictor, video: Path, out_dir: Path | None = None) -> dict:
    """analyze's frames per second and its time per frame by stage (ms): the pose stage split into the
    crop, the model and heatmap decoding by wrapping them."""
    watch = Stopwatch()
    runner, crop = predictor.runner, predictor_module.crop_normalized
    predictor.runner = watch.wrap("model", runner)
    predictor_module.crop_normalized = watch.wrap("crop", crop)
    try:
        start = time.perf_counter()
        result = analyze(video, out_dir, predictor=predictor, progress=False)
        total = time.perf_counter() - start
    finally:
        predictor.runner, predictor_module.crop_normalized = runner, crop
    n = result.n_frames
    row = {"fps": n / total, "frames": n, "reps": result.reps, "ms_per_frame": 1000 * total / n}
    stages = dict(result.timings)
    stages["heatmaps"] = stages.pop("pose", 0.0) - sum(watch.seconds.values())
    stages.update(watch.seconds)
    row.update({k: 1000 * v / n for k, v in stages.items()})
    return row


def decode_only(video: Path) -> float:
    """ms per frame to decode and convert to RGB on one thread, nothing else (what analyze's decoding
    thread costs in CPU)."""
    cap = cv2.VideoCapture(str(video))
    frames, start = 0, time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        frames += 1
    cap.release()
    return 1000 * (time.perf_counter() - start) / max(frames, 1)


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


def end_to_end(checkpoint: Path, clips: dict[str, Path], threads: int | None, rounds: int) -> dict:
    predictor = Predictor.from_checkpoint(checkpoint, threads=threads)  # the default backend, as users get it
    session = lightning_session(predictor.runner.session.get_session_options().intra_op_num_threads
                                if isinstance(predictor.runner, OnnxRunner) else (threads or 2))
    name = getattr(predictor.runner, "path", None)
    print(f"\nend to end, pose on {predictor.backend} ({predictor.precision}, {name.name if name else 'PyTorch'}), "
          f"best of {rounds} alternating rounds (frames/s), time per frame by stage (ms):")
    print(f"{'clip':<8}{'frames':>7}{'analyze':>9}{'Lightning':>11}{'ratio':>7}{'reps':>6}  "
          + "  ".join(SPLIT) + "  | decode alone  writing")
    out = {}
    for label, video in clips.items():
        runs, plain = [], []
        for _ in range(rounds):
            plain.append(lightning_loop(session, video))
            runs.append(analyze_run(predictor, video))
        best = max(runs, key=lambda r: r["fps"])
        with tempfile.TemporaryDirectory() as tmp:
            writing = analyze_run(predictor, video, Path(tmp))["outputs"]
        best.update({"lightning_fps": max(plain), "decode_alone": decode_only(video), "writing": writing})
        split = "  ".join(f"{best.get(k, 0.0):>{len(k)}.2f}" for k in SPLIT)
        print(f"{label:<8}{best['frames']:>7}{best['fps']:>9.1f}{max(plain):>11.1f}"
              f"{best['fps'] / max(plain):>7.2f}{best['reps']:>6}  {split}  | {best['decode_alone']:>12.2f}"
              f"  {writing:>7.2f}")
        out[label] = best
    return out


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


def crop_latency(checkpoint: Path, rounds: int, calls: int) -> dict:
    """Exactly the runner the default backend picks for this checkpoint on this CPU, and the float ONNX
    export, against Lightning."""
    loaded = load_model(checkpoint)
    w, h = loaded.codec.input_wh
    ours = np.random.default_rng(0).normal(size=(1, 3, h, w)).astype(np.float32)
    theirs = np.random.default_rng(0).integers(0, 255, (1, 192, 192, 3)).astype(np.int32)
    print(f"\nper-crop latency, batch 1, median of {rounds} interleaved rounds × {calls} calls (ms):")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(loaded, Path(tmp) / "model.onnx")
        for threads in (1, 2):
            runner, backend, precision = make_runner(loaded, "auto", None, threads)
            file = runner.path.name if isinstance(runner, OnnxRunner) else "PyTorch"
            session = lightning_session(threads)
            feed = {session.get_inputs()[0].name: theirs}
            fns = [partial(runner, ours), partial(OnnxRunner(path, threads), ours), partial(session.run, None, feed)]
            default, fp32, light = interleaved_ms(fns, rounds, calls)
            print(f"{threads} thread(s): built-in {w}x{h} default backend ({backend}, {precision}, {file}) "
                  f"{default:.2f}, float32 ONNX {fp32:.2f}, Lightning 192 {light:.2f}; default / Lightning "
                  f"{default / light:.2f}, float32 / Lightning {fp32 / light:.2f}")
            out[f"{threads}_threads"] = {"default_file": file, "precision": precision, "default_ms": default,
                                         "float32_ms": fp32, "lightning_ms": light}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="a 720p squat clip")
    parser.add_argument("--threads", type=int, default=None,
                        help="end to end: pose model threads (default: what the default backend picks)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30, help="crop latency: calls per round")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures and `squatpose info` here")
    args = parser.parse_args()
    if not LIGHTNING.is_file() or not args.video.is_file():
        raise SystemExit(f"needs {LIGHTNING} and {args.video}")
    checkpoint = args.checkpoint or default_checkpoint()
    loaded = load_model(checkpoint)
    info = collect_info()
    print(format_info(info))
    print(f"model {loaded.model_name}, input {loaded.codec.input_wh[0]}x{loaded.codec.input_wh[1]} (w×h); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    figures = {"info": info, "load_average_start": os.getloadavg()[0]}
    figures["crop_latency"] = crop_latency(checkpoint, args.rounds * 3, args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        clips = {"720p": args.video, "1080p": upscale(args.video, Path(tmp) / "clip_1080p.mp4")}
        figures["end_to_end"] = end_to_end(checkpoint, clips, args.threads, args.rounds)
    figures["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
