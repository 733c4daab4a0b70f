"""Speed against MoveNet Lightning, both timed in the same run, with `squatpose info` recorded beside:

1. Per-crop latency of the built-in model against Lightning, batch 1, with 1 and 2 threads, in
   interleaved rounds: exactly the file the default backend runs on this CPU (`squatpose info` names
   it) and the float32 ONNX export beside it.
2. `squatpose.analyze` frames per second (no output files) beside the plainest Lightning video loop
   (decode, whole frame letterboxed to 192×192, one model call per frame) on a 720p clip and on the
   same clip upscaled to 1080p at run time. Rounds alternate between the two so that load changes hit
   both alike. analyze's wall time per frame is split into stages (decode: the time the pipeline waited
   for the decoding thread), and its CPU time per frame by stage is measured in a run whose stages go one
   after another (decode, detection, pose crop, pose model, heatmap decoding, tracking, analysis, and
   writing the output files: report, plots, annotated video), which holds whatever the machine's load.

    python benchmarks/speed.py [--checkpoint C] [--video CLIP.mp4] [--threads 2] [--rounds 3] [--json F]
                               [--spinning]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from squatpose import api
from squatpose.api import analyze
from squatpose.info import collect_info, format_info
from squatpose.media.video_reader import (
    iter_frames_bgr,
    iter_frames_rgb,
    iter_frames_timed,
    open_video,
    opened_video,
)
from squatpose.pose import predictor as predictor_module
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner, Predictor, default_checkpoint, make_runner
from squatpose.video.detector import BlazePoseDetector
from squatpose.video.tracker import PersonTracker

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
    frames, start = 0, time.perf_counter()
    with opened_video(video) as (cap, _):
        for frame in iter_frames_rgb(cap):
            session.run(None, {name: letterbox(frame)[None].astype(np.int32)})
            frames += 1
    return frames / (time.perf_counter() - start)


class Stopwatch:
    """Seconds spent in wrapped callables, by stage name, on `clock` (wall time by default)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self.clock = clock

    def wrap(self, stage: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = self.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + self.clock() - start
        return timed


def cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the video encoder runs as one)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def stage_cpu(predictor: Predictor, video: Path) -> dict[str, float]:
    """CPU ms per frame of each stage of analyze, whatever the machine's load: the pose stages run one after
    another on one thread (no decoding ahead), so the process's CPU time between two points belongs to one
    stage (the model's includes its worker threads); analysis and writing run after the pose stages, and
    writing counts the video encoder's process too."""
    watch = Stopwatch(cpu_with_children)
    cap, info = open_video(video)
    tracker = PersonTracker(predictor, BlazePoseDetector(), fps=info.fps)
    runner, crop, predict = predictor.runner, predictor_module.crop_normalized, predictor.predict
    predictor.runner, tracker.detector = watch.wrap("model", runner), watch.wrap("detection", tracker.detector)
    predictor_module.crop_normalized, predictor.predict = watch.wrap("crop", crop), watch.wrap("pose", predict)
    frames = iter_frames_timed(cap)
    next_frame, step = watch.wrap("decode", lambda: next(frames, None)), watch.wrap("step", tracker.step)
    try:
        n = 0
        while (item := next_frame()) is not None:
            step(item[0], n)
            n += 1
    finally:
        predictor.runner, predictor_module.crop_normalized, predictor.predict = runner, crop, predict
        cap.release()
    sec = watch.seconds
    stages = {"decode": sec["decode"], "detection": sec.get("detection", 0.0), "crop": sec["crop"],
              "model": sec["model"], "heatmaps": sec["pose"] - sec["model"] - sec["crop"],
              "tracking": sec["step"] - sec["pose"] - sec.get("detection", 0.0)}
    after = Stopwatch(cpu_with_children)
    saved = api.analyze_tracks, api.write_outputs
    api.analyze_tracks, api.write_outputs = after.wrap("analysis", saved[0]), after.wrap("writing", saved[1])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            frames_seen = analyze(video, Path(tmp), predictor=predictor, progress=False).n_frames
    finally:
        api.analyze_tracks, api.write_outputs = saved
    stages.update(after.seconds)
    return {stage: 1000 * seconds / frames_seen for stage, seconds in stages.items()}


def analyze_run(predictor: Predictor, video: Path) -> dict:
    """analyze's frames per second and its time per frame by stage (ms): the pose stage split into the
    crop, the model and heatmap decoding by wrapping them."""
    watch = Stopwatch()
    runner, crop = predictor.runner, predictor_module.crop_normalized
    predictor.runner = watch.wrap("model", runner)
    predictor_module.crop_normalized = watch.wrap("crop", crop)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        result = analyze(video, None, predictor=predictor, progress=False)  # no output files: pipeline speed
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        predictor.runner, predictor_module.crop_normalized = runner, crop
    n = result.n_frames
    # CPU time of all the process's threads: what a busy or small machine pays, whatever the load
    row = {"fps": n / total, "frames": n, "reps": result.reps, "ms_per_frame": 1000 * total / n,
           "cpu_ms_per_frame": 1000 * cpu / n}
    stages = dict(result.timings)
    stages["heatmaps"] = stages.pop("pose", 0.0) - sum(watch.seconds.values())
    stages.update(watch.seconds)
    row.update({k: 1000 * v / n for k, v in stages.items()})
    return row


def upscale(video: Path, out: Path, size_wh: tuple[int, int] = (1920, 1080)) -> Path:
    # mp4v, not H.264: the decoding time measured on it stays the one measured so far
    with opened_video(video) as (cap, info):
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, size_wh)
        for frame in iter_frames_bgr(cap):
            writer.write(cv2.resize(frame, size_wh, interpolation=cv2.INTER_CUBIC))
    writer.release()
    return out


def spinning_twin(predictor: Predictor) -> Predictor | None:
    """The same predictor with ONNX Runtime's threads spin-waiting between calls (its default, and this
    package's before it turned that off), for comparison."""
    if not isinstance(predictor.runner, OnnxRunner):
        return None
    twin = Predictor(predictor.loaded, backend="onnx", onnx_path=predictor.runner.path)
    threads = predictor.runner.session.get_session_options().intra_op_num_threads
    twin.runner = OnnxRunner(predictor.runner.path, threads, spin=True)
    return twin


def end_to_end(checkpoint: Path, clips: dict[str, Path], threads: int | None, rounds: int,
               spinning: bool = False) -> dict:
    predictor = Predictor.from_checkpoint(checkpoint, threads=threads)  # the default backend, as users get it
    twin = spinning_twin(predictor) if spinning else None
    session = lightning_session(predictor.runner.session.get_session_options().intra_op_num_threads
                                if isinstance(predictor.runner, OnnxRunner) else (threads or 2))
    name = getattr(predictor.runner, "path", None)
    print(f"\nend to end, pose on {predictor.backend} ({predictor.precision}, {name.name if name else 'PyTorch'}), "
          f"best of {rounds} alternating rounds (frames/s), time per frame by stage (ms):")
    print(f"{'clip':<8}{'frames':>7}{'analyze':>9}{'Lightning':>11}{'ratio':>7}{'reps':>6}  "
          + "  ".join(SPLIT) + " (wall ms per frame; decode: waiting for the decoding thread)")
    out = {}
    for label, video in clips.items():
        runs, plain, spun = [], [], []
        for _ in range(rounds):
            plain.append(lightning_loop(session, video))
            runs.append(analyze_run(predictor, video))
            if twin is not None:
                spun.append(analyze_run(twin, video))
        best = max(runs, key=lambda r: r["fps"])
        if spun:
            fastest = max(spun, key=lambda r: r["fps"])
            best["spinning"] = {"fps": fastest["fps"], "cpu_ms_per_frame": min(r["cpu_ms_per_frame"] for r in spun)}
            print(f"{label}: with spin-waiting threads {fastest['fps']:.1f} frames/s, "
                  f"{best['spinning']['cpu_ms_per_frame']:.1f} ms of CPU per frame; without "
                  f"{best['fps']:.1f} frames/s, {min(r['cpu_ms_per_frame'] for r in runs):.1f} ms")
        best["lightning_fps"] = max(plain)
        best["cpu_ms_by_stage"] = cpu = stage_cpu(predictor, video)
        split = "  ".join(f"{best.get(k, 0.0):>{len(k)}.2f}" for k in SPLIT)
        print(f"{label:<8}{best['frames']:>7}{best['fps']:>9.1f}{max(plain):>11.1f}"
              f"{best['fps'] / max(plain):>7.2f}{best['reps']:>6}  {split}")
        print(f"{'':<8}CPU ms per frame, stages one after another: "
              + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
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
    parser.add_argument("--spinning", action="store_true",
                        help="end to end: also run analyze with ONNX Runtime's threads spin-waiting (its default)")
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
        figures["end_to_end"] = end_to_end(checkpoint, clips, args.threads, args.rounds, args.spinning)
    figures["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
