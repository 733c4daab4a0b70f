"""The "hips rise before the chest" check on synthetic squats with a known trunk course.

    python benchmarks/trunk_synthetic.py [--seeds 8]

Squats to parallel (tests/helpers/synthetic_squats.py: trunk 0.55 leg lengths, leaning 45° at the bottom)
whose trunk lean changes by 0 to +30° while the hips cover the first half of their way up (> 0: the hips
rise first), seen from the side with Gaussian joint noise of 1 % and 2 % of the leg length, and obliquely
(45°, 60°) and from the side (90°) without noise. Per condition: the mean shoulder-to-hip rise ratio, its
spread over repetitions and seeds against the median sd the analysis reports, and how many repetitions were
flagged.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from squatpose.analysis import analyze_tracks
from squatpose.analysis.trunk import HIPS_FIRST

# The data sources this benchmark shares with the tests live in tests/helpers/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.synthetic_squats import render, render_camera, squat_motion, squat_phase, trunk_lean_deg

CHANGES = (0.0, 10.0, 20.0, 30.0)
LEG_PX = 300.0


def row(label: str, reps: list) -> str:
    ratios = np.array([r.shoulder_rise_ratio for r in reps], dtype=float)
    sds = np.array([r.shoulder_rise_ratio_sd for r in reps], dtype=float)
    flagged = sum(HIPS_FIRST in r.flags for r in reps)
    return (f"{label:<28}{np.mean(ratios):>7.2f}{np.std(ratios):>8.3f}{np.median(sds):>9.3f}"
            f"{flagged:>5}/{len(reps)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    phase = squat_phase(3, 30.0)
    print(f"{'condition':<28}{'ratio':>7}{'spread':>8}{'sd said':>9}{'flagged':>8}")
    for noise in (0.01, 0.02):
        for change in CHANGES:
            motion = squat_motion(phase, lean_deg=trunk_lean_deg(phase, change))
            reps = [rep for seed in range(args.seeds) for rep in analyze_tracks(
                render(motion, "side", noise_px=noise * LEG_PX, seed=seed)).repetitions]
            print(row(f"side, noise {100 * noise:.0f} %, {change:+.0f}°", reps))
    for yaw in (45, 60, 90):  # detected as side views; from the front (yaw 0) the ratio is not given
        for change in CHANGES:
            motion = squat_motion(phase, lean_deg=trunk_lean_deg(phase, change))
            print(row(f"yaw {yaw}°, no noise, {change:+.0f}°",
                      analyze_tracks(render_camera(motion, yaw)).repetitions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
