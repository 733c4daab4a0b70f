"""Penn Action: does the one-camera 3D knee angle agree across views?

Runs analyze_tracks on the 114 ground-truth squat clips (one repetition each) and compares, per
labelled view, the bottom knee angle of the repetition: 2D (the smallest interior hip-knee-ankle
angle in the image) and 3D (`min_knee_angle_3d`, the reconstruction in squatpose.analysis.lift3d).
The squats are of the same kind in every view, so a view-independent measure should give similar
medians; the 2D angle differs by about 36° between side and front views (projection).
Prints median, interquartile range and the number of clips with a value, per view, and the
difference of front/back medians to the side median.

usage: python benchmarks/lift3d_penn.py [--data ../shared/data/penn_action/squat_train.json]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from squatpose.analysis import analyze_tracks
from squatpose.analysis.angles import compute_measures
from squatpose.analysis.body import Body

# The data sources this benchmark shares with the tests live in tests/helpers/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.penn_action import load_penn_action

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "../shared/data/penn_action/squat_train.json"
VIEWS = {"side": ("left", "right"), "front": ("front",), "back": ("back",)}


def bottom_angles(clip, occluded: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(2D, 3D) bottom knee angle of the clip's first repetition (NaN where there is none)."""
    a = analyze_tracks(clip.tracks(occluded))
    if not a.repetitions:
        return float("nan"), float("nan")
    rep = a.repetitions[0]
    body = Body.from_tracks(a.smoothed, a.config.min_joint_score)
    knee2d = compute_measures(body, np.ones((a.n_frames, 2))).knee_angle.value
    span = knee2d[rep.start_frame:(rep.end_frame or a.n_frames - 1) + 1]
    two = float(np.nanmin(span)) if np.isfinite(span).any() else float("nan")
    three = rep.min_knee_angle_3d
    return two, float("nan") if three is None else three


def _row(name: str, values: np.ndarray) -> str:
    v = values[np.isfinite(values)]
    if not v.size:
        return f"{name:<6} {'-':>7} {'-':>13} {0:>4}/{len(values)}"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{name:<6} {med:>6.1f}° {q1:>5.1f}-{q3:<5.1f}° {v.size:>4}/{len(values)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--occluded-score", type=float, default=0.2)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data}: not found (Penn Action squat tracks)", file=sys.stderr)
        return 2
    clips = load_penn_action(args.data)
    results = {g: [] for g in VIEWS}
    for clip in clips:
        group = next(g for g, views in VIEWS.items() if clip.view in views)
        results[group].append(bottom_angles(clip, args.occluded_score))
    medians = {}
    for kind, col in (("2D", 0), ("3D", 1)):
        print(f"bottom knee angle, {kind}:  median, interquartile range, clips with a value")
        for group, rows in results.items():
            values = np.array([r[col] for r in rows])
            medians[kind, group] = np.nanmedian(values) if np.isfinite(values).any() else np.nan
            print("  " + _row(group, values))
        pooled = np.array([r[col] for g in ("front", "back") for r in results[g]])
        medians[kind, "front+back"] = np.nanmedian(pooled) if np.isfinite(pooled).any() else np.nan
        print("  " + _row("f+b", pooled))
        print(f"  front/back median - side median: {medians[kind, 'front+back'] - medians[kind, 'side']:+.1f}°")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
