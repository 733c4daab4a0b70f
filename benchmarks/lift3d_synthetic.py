"""Synthetic check of the one-camera 3D legs: knee-angle error and repetition counts by camera yaw.

Squats from the 3D kinematics generator (tests/helpers/synthetic_squats.py: thighs to parallel, knees
out over toes turned out 20°) seen by an orthographic camera at yaw 0 (front) to 90° (side) and
pitch -20..+20°, with Gaussian joint noise (--noise, fraction of leg length; the default model's
joints scatter by about that much on clean frames), then the full analyze_tracks pipeline
(smoothing, 3D legs). Prints, per yaw:
  knee error: |3D knee angle - true 3D knee angle| over every frame with a trusted value, median
              and 90th percentile, and the share of frames with one (coverage); the same at the
              bottom (phase >= 0.9) only;
  reps:       completed repetitions out of 5 for each pitch and squat depth (parallel, half);
  peak depth: the depth signal's peak per squat depth, with the 3D compression (depth.use_3d) and
              from 2D alone (the default), min-max over pitch: a yaw-independent signal keeps it level.

usage: python benchmarks/lift3d_synthetic.py [--noise 0.01] [--seeds 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from squatpose.analysis import AnalysisConfig, analyze_tracks

# The data sources this benchmark shares with the tests live in tests/helpers/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.synthetic_squats import render_camera, squat_motion, squat_phase, true_knee_angle

YAWS = range(0, 91, 15)
PITCHES = (-20, -10, 0, 10, 20)
LEG_PX, FPS = 300.0, 30.0
DEPTHS = {"parallel": 0.38, "half": 0.55}  # hip height at the bottom, leg lengths


def knee_errors(yaw: int, noise: float, seeds: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(all-frame errors, bottom errors, coverage) over pitches and seeds."""
    phase = squat_phase(3, FPS)
    motion = squat_motion(phase, toe_out_deg=20)
    truth = true_knee_angle(motion)
    errs, bottom, covered = [], [], []
    for pitch in PITCHES:
        for seed in range(seeds):
            a = analyze_tracks(render_camera(motion, yaw, pitch, FPS, LEG_PX, noise_px=noise * LEG_PX,
                                             seed=seed))
            e = np.abs(a.legs3d.knee_angle.lr - truth)
            errs.append(e[np.isfinite(e)])
            bottom.append(e[phase >= 0.9][np.isfinite(e[phase >= 0.9])])
            covered.append(np.isfinite(e).mean())
    return np.concatenate(errs), np.concatenate(bottom), float(np.mean(covered))


def counts(yaw: int, bottom_height: float) -> tuple[list[int], list[float], list[float]]:
    """Reps per pitch (default config: the 2D depth signal), peak depth with the 3D legs
    (depth.use_3d) and from 2D only."""
    motion = squat_motion(squat_phase(5, FPS), bottom_hip_height=bottom_height, toe_out_deg=20)
    with_3d = dataclasses.replace(AnalysisConfig(),
                                  depth=dataclasses.replace(AnalysisConfig().depth, use_3d=True))
    reps, peak3, peak2 = [], [], []
    for pitch in (-20, 0, 20):
        tracks = render_camera(motion, yaw, pitch, FPS, 150.0, noise_px=2.0, seed=pitch + 50)
        a = analyze_tracks(tracks)
        reps.append(a.reps)
        peak2.append(float(np.nanmax(a.depth.depth)))
        peak3.append(float(np.nanmax(analyze_tracks(tracks, with_3d).depth.depth)))
    return reps, peak3, peak2


def _span(peaks: dict[str, list[float]]) -> str:
    return " ".join(f"{min(v):.2f}-{max(v):.2f}" for v in peaks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, default=0.01, help="joint noise sd, leg lengths")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.time()
    print(f"joint noise {args.noise:g} leg ({args.noise * LEG_PX:.1f} px at {LEG_PX:.0f} px), "
          f"pitch {PITCHES}, {args.seeds} seed(s); config {AnalysisConfig().lift3d}")
    head = (f"{'yaw':>4} {'median':>7} {'p90':>6} {'cover':>6} {'bottom med':>10} {'p90':>6}   "
            f"{'reps parallel':>13} {'reps half':>10}   {'peak depth 3D':>20} {'2D only':>20}")
    print(head)
    print("-" * len(head))
    for yaw in YAWS:
        e, b, cover = knee_errors(yaw, args.noise, args.seeds)
        reps, peaks3, peaks2 = {}, {}, {}
        for name, height in DEPTHS.items():
            reps[name], peaks3[name], peaks2[name] = counts(yaw, height)
        print(f"{yaw:>4} {np.median(e):>6.1f}° {np.percentile(e, 90):>5.1f}° {cover:>6.2f} "
              f"{np.median(b):>9.1f}° {np.percentile(b, 90):>5.1f}°   "
              f"{'/'.join(map(str, reps['parallel'])):>13} {'/'.join(map(str, reps['half'])):>10}   "
              f"{_span(peaks3):>20} {_span(peaks2):>20}")
    print(f"({time.time() - start:.0f} s; reps are out of 5 at pitch -20/0/+20; peak depth: "
          f"parallel, half squat)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
