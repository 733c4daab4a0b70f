"""Penn Action squat benchmark for the track analysis (smoothing, depth, repetition counting).

Runs analyze_tracks on the 114 ground-truth squat clips (one repetition each) clean, with Gaussian
jitter, with dropped frames/joints, and both; prints a table:
  one-rep:   clips with exactly one completed repetition (all, side, front, back views);
  knee err:  mean |min knee angle - clean min knee angle| in degrees, side-view clips, for the
             noisy tracks before smoothing (raw) and after (smooth); the clean reference is the
             unsmoothed ground truth;
  depth err: mean |peak normalised depth - clean peak depth| (leg lengths), clips with a rep;
  jitter:    mean |second difference| of the lower-body joint positions, px/frame^2, raw -> smooth.
Then a second table, clean tracks cut mid-repetition: clips that still count a completed repetition
when cut where the clean clip's depth is back to a fraction of its peak on the way up (70 % or 50 %
still down: should be none; 30 %: a near-finished ascent, may count) and when they also begin part
of the way down.

Scores: visible 1.0; labelled-but-invisible --occluded-score (default 0.2, below the smoothing gate of 0.53:
Penn's occluded labels are annotator guesses, often far off, e.g. a far hip 1-2 leg lengths from
the near one, so they are treated like a low-confidence detection); unlabelled 0.

usage: python benchmarks/penn_action_eval.py [--data ../shared/data/penn_action/squat_train.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from squatpose.analysis import AnalysisConfig, analyze_tracks
from squatpose.analysis.angles import compute_measures
from squatpose.analysis.body import Body
from squatpose.analysis.smoothing import leg_scale, second_difference_jitter
from squatpose.analysis.tracks import LOWER_BODY, JointTracks

# The data sources this benchmark shares with the tests live in tests/helpers/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.penn_action import PennClip, load_penn_action

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "../shared/data/penn_action/squat_train.json"
VIEW_GROUPS = {"side": ("left", "right"), "front": ("front",), "back": ("back",)}


@dataclasses.dataclass(frozen=True)
class Condition:
    name: str
    jitter: float = 0.0      # Gaussian sigma per coordinate, fraction of leg length
    drop_frames: float = 0.0  # fraction of frames with every joint missing
    drop_joints: float = 0.0  # fraction of remaining joint observations missing


CONDITIONS = (
    Condition("clean"),
    Condition("jitter 1%", jitter=0.01),
    Condition("jitter 2%", jitter=0.02),
    Condition("drop 10%+10%", drop_frames=0.1, drop_joints=0.1),
    Condition("jitter 2% + drop", jitter=0.02, drop_frames=0.1, drop_joints=0.1),
)


def perturb(tracks: JointTracks, cond: Condition, rng: np.random.Generator) -> JointTracks:
    """Noisy copy of `tracks` (T, K): jitter scaled by the clip's leg length, random dropouts."""
    scale = leg_scale(tracks, 0.3)
    xy = tracks.xy + rng.normal(0.0, cond.jitter * scale, tracks.xy.shape)
    score = tracks.score.copy()
    score[rng.random(tracks.n_frames) < cond.drop_frames] = 0.0
    score[rng.random(score.shape) < cond.drop_joints] = 0.0
    return JointTracks(tracks.fps, tracks.joint_names, xy, score, tracks.frame_wh)


def min_knee_angle(tracks: JointTracks, min_score: float) -> float:
    """Smallest combined knee angle (deg) of the clip, NaN if never measurable."""
    body = Body.from_tracks(tracks, min_score)
    angle = compute_measures(body, np.ones((tracks.n_frames, 2))).knee_angle.value
    return float(np.nanmin(angle)) if np.isfinite(angle).any() else float("nan")


def lower_jitter(tracks: JointTracks, min_score: float) -> float:
    sel = tracks.select(LOWER_BODY)
    return second_difference_jitter(np.where((sel.score >= min_score)[..., None], sel.xy, np.nan))


def evaluate(clips: list[PennClip], cond: Condition, cfg: AnalysisConfig, occluded: float,
             seeds: int) -> dict[str, float]:
    gate = cfg.min_joint_score
    one = {g: [] for g in VIEW_GROUPS}
    knee_raw, knee_smooth, depth_err, jit_raw, jit_smooth = [], [], [], [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for clip in clips:
            clean = clip.tracks(occluded)
            noisy = perturb(clean, cond, rng) if cond != CONDITIONS[0] else clean
            result = analyze_tracks(noisy, cfg)
            reference = analyze_tracks(clean, cfg)
            group = next(g for g, views in VIEW_GROUPS.items() if clip.view in views)
            one[group].append(result.reps == 1)
            if group == "side":
                ref = min_knee_angle(clean, gate)
                knee_raw.append(abs(min_knee_angle(noisy, gate) - ref))
                knee_smooth.append(abs(min_knee_angle(result.smoothed, gate) - ref))
            if result.repetitions and reference.repetitions:
                depth_err.append(abs(result.repetitions[0].depth - reference.repetitions[0].depth))
            jit_raw.append(lower_jitter(noisy, gate))
            jit_smooth.append(lower_jitter(result.smoothed, gate))
    all_one = [v for g in one.values() for v in g]
    row = {"one_all": np.mean(all_one) * len(clips), **{f"one_{g}": np.mean(v) * len(v) / seeds
                                                          for g, v in one.items()}}
    row.update(knee_raw=np.nanmean(knee_raw), knee_smooth=np.nanmean(knee_smooth),
               depth=np.mean(depth_err) if depth_err else float("nan"),
               jit_raw=np.nanmean(jit_raw), jit_smooth=np.nanmean(jit_smooth))
    return row


CUT_STARTS = (0.0, 0.3, 0.5)  # begin where the depth first reaches this fraction of its peak
CUT_ENDS = (0.7, 0.5, 0.3)    # end where it is back to this fraction of its peak


def cut_clip_counts(clips: list[PennClip], cfg: AnalysisConfig, occluded: float) -> dict:
    """{(start fraction, end fraction): clips cut there that count a completed repetition}."""
    counted = {(a, b): 0 for a in CUT_STARTS for b in CUT_ENDS}
    for clip in clips:
        tracks = clip.tracks(occluded)
        depth = analyze_tracks(tracks, cfg).depth.depth
        peak = int(np.nanargmax(depth))
        for (a, b) in counted:
            start = int(np.argmax(depth[:peak + 1] >= a * depth[peak])) if a else 0
            end = peak + int(np.argmax(depth[peak:] <= b * depth[peak]))
            if depth[end] > b * depth[peak]:
                end = tracks.n_frames - 1  # never back to that fraction: the whole clip
            cut = JointTracks(tracks.fps, tracks.joint_names, tracks.xy[start:end + 1],
                              tracks.score[start:end + 1], tracks.frame_wh)
            counted[a, b] += analyze_tracks(cut, cfg).reps > 0
    return counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--occluded-score", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--min-cutoff", type=float)
    parser.add_argument("--beta", type=float)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data}: not found (Penn Action squat tracks)", file=sys.stderr)
        return 2
    clips = load_penn_action(args.data)
    cfg = AnalysisConfig()
    overrides = {k: v for k, v in (("min_cutoff", args.min_cutoff), ("beta", args.beta)) if v is not None}
    cfg = dataclasses.replace(cfg, smoothing=dataclasses.replace(cfg.smoothing, **overrides))
    counts = {g: sum(c.view in v for c in clips) for g, v in VIEW_GROUPS.items()}
    print(f"{len(clips)} clips ({', '.join(f'{g} {n}' for g, n in counts.items())}), "
          f"{args.seeds} noise seed(s), occluded score {args.occluded_score}, "
          f"min_joint_score {cfg.min_joint_score}, smoothing {cfg.smoothing}")
    head = (f"{'condition':<18} {'one-rep':>8} {'side':>5} {'front':>5} {'back':>5} "
            f"{'knee err raw':>12} {'smooth':>7} {'depth err':>9} {'jitter raw':>10} {'smooth':>7}")
    print(head)
    print("-" * len(head))
    start = time.time()
    for cond in CONDITIONS:
        r = evaluate(clips, cond, cfg, args.occluded_score, 1 if cond == CONDITIONS[0] else args.seeds)
        print(f"{cond.name:<18} {r['one_all']:>8.1f} {r['one_side']:>5.1f} {r['one_front']:>5.1f} "
              f"{r['one_back']:>5.1f} {r['knee_raw']:>11.1f}° {r['knee_smooth']:>6.1f}° "
              f"{r['depth']:>9.3f} {r['jit_raw']:>10.2f} {r['jit_smooth']:>7.2f}")
    print(f"({time.time() - start:.0f} s; one-rep columns are clips per seed, averaged)")
    counted = cut_clip_counts(clips, cfg, args.occluded_score)
    print(f"\nclean clips cut mid-repetition: clips (of {len(clips)}) that count a completed repetition")
    print(f"{'begins at':<22}" + "".join(f"{f'ends {int(b * 100)}% down':>16}" for b in CUT_ENDS))
    for a in CUT_STARTS:
        label = "standing" if a == 0 else f"{int(a * 100)}% of the way down"
        print(f"{label:<22}" + "".join(f"{counted[a, b]:>16d}" for b in CUT_ENDS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
