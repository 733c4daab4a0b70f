"""The dev metric on video: models against the teacher on frames of clips held out of training.

    python benchmarks/video_dev.py [--checkpoint C ...] [--every 0.25] [--cache DIR]

Clips: the 7 of `squat_videos/` and the 8 of `train_videos/` listed in `squatpose.pose.data.video_dev`
(never pseudo-labelled, never trained on). Every `--every` seconds the teacher (MoveNet Thunder, averaged with
its mirror image) finds and follows the person, as `data pseudo-label` does; each model then runs once on the
teacher's whole-body box. Per joint, over the frames where the teacher scores it ≥ 0.5:

- agreement: PCK@0.1 of the box's larger side against the teacher;
- below floor: the share of those frames where the model's (calibrated) score is below the analysis floor,
  MIN_JOINT_SCORE, so the analysis would not use that joint.

The teacher's poses are cached per clip under `--cache` (git-ignored `out/`), so comparing models later
costs only the models' passes. The teacher is a reference, not ground truth: where it is wrong, a model
that is right reads as disagreeing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.joints import COCO_NAMES
from squatpose.media.video_reader import iter_frames_rgb, open_video
from squatpose.pose.data.pseudo_label import PseudoLabelRules, find_person
from squatpose.pose.data.teacher import MoveNetTeacher
from squatpose.pose.data.video_dev import TRAIN_VIDEOS_DEV
from squatpose.pose.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIDENT = 0.5


def dev_clips() -> list[Path]:
    squat = sorted((SHARED / "data" / "squat_videos").glob("*.mp4"))
    train = [SHARED / "data" / "train_videos" / name for name in TRAIN_VIDEOS_DEV]
    return squat + [p for p in train if p.is_file()]


def sampled_frames(video: Path, every_s: float):
    cap, info = open_video(video)
    step = max(1, int(every_s * info.fps + 0.5))
    try:
        for index, frame in enumerate(iter_frames_rgb(cap)):
            if index % step == 0:
                yield index, frame
    finally:
        cap.release()


def teacher_poses(video: Path, teacher: MoveNetTeacher, every_s: float, cache: Path) -> dict:
    """{frame index: (box (4,), points (17,2), scores (17,))} of the teacher, cached per clip."""
    path = cache / f"{video.stem}_{every_s:g}.npz"
    if path.is_file():
        data = np.load(path)
        return {int(i): (b, p, s) for i, b, p, s in zip(data["index"], data["box"], data["points"], data["scores"])}
    rules, box, out = PseudoLabelRules(), None, {}
    for index, frame in sampled_frames(video, every_s):
        box = find_person(teacher, frame, box, rules)
        if box is not None:
            pose = teacher.predict(frame, box, flip=True)
            out[index] = (box, pose.points, pose.scores)
    cache.mkdir(parents=True, exist_ok=True)
    if out:
        np.savez(path, index=list(out), box=[v[0] for v in out.values()], points=[v[1] for v in out.values()],
                 scores=[v[2] for v in out.values()])
    return out


def model_agreement(video: Path, poses: dict, predictor: Predictor, every_s: float) -> dict[str, list]:
    """Per joint name: [hits, frames, below_floor] over the frames where the teacher is confident."""
    tally = {name: [0, 0, 0] for name in predictor.joint_set.names}
    for index, frame in sampled_frames(video, every_s):
        if index not in poses:
            continue
        box, points, scores = poses[index]
        batch = predictor.predict(frame, box[None])
        side = float(max(box[2], box[3]))
        for k, name in enumerate(predictor.joint_set.names):
            c = COCO_NAMES.index(name)
            if scores[c] < CONFIDENT:
                continue
            row = tally[name]
            row[0] += float(np.linalg.norm(batch.xy[0, k] - points[c])) <= 0.1 * side
            row[1] += 1
            row[2] += float(batch.score[0, k]) < MIN_JOINT_SCORE
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", help="model file (repeatable; default: the built-in)")
    parser.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    parser.add_argument("--teacher", default=str(SHARED / "teachers" / "movenet-thunder.onnx"))
    parser.add_argument("--every", type=float, default=0.25, metavar="SECONDS")
    parser.add_argument("--cache", default=str(ROOT / "out" / "video_dev_cache"))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    clips = dev_clips()
    if not clips:
        raise SystemExit(f"no dev clips under {SHARED / 'data'}")
    teacher = MoveNetTeacher(args.teacher)
    poses = {clip.name: teacher_poses(clip, teacher, args.every, Path(args.cache)) for clip in clips}
    results = {}
    for checkpoint in args.checkpoint or [None]:
        predictor = Predictor.from_checkpoint(checkpoint, backend=args.backend)
        name = checkpoint or "built-in"
        per_clip = {clip.name: model_agreement(clip, poses[clip.name], predictor, args.every) for clip in clips}
        results[name] = {"backend": predictor.backend, "precision": predictor.precision, "clips": per_clip}
        print_table(name, per_clip, predictor.joint_set.names)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def print_table(model: str, per_clip: dict[str, dict[str, list]], names: tuple[str, ...]) -> None:
    print(f"\n{model}: agreement with the teacher (PCK@0.1 of the box) / below the floor, % of confident frames")
    print(f"{'clip':<24}" + "".join(f"{n.replace('left_', 'L ').replace('right_', 'R '):>14}" for n in names))
    totals = {n: np.zeros(3) for n in names}
    for clip, tally in per_clip.items():
        cells = []
        for n in names:
            hits, frames, low = tally[n]
            totals[n] += (hits, frames, low)
            cells.append(f"{100 * hits / frames:6.1f}/{100 * low / frames:5.1f}" if frames else f"{'-':>12}")
        print(f"{clip:<24}" + "".join(f"{c:>14}" for c in cells))
    cells = [f"{100 * t[0] / t[1]:6.1f}/{100 * t[2] / t[1]:5.1f}" if t[1] else f"{'-':>12}" for t in totals.values()]
    print(f"{'all':<24}" + "".join(f"{c:>14}" for c in cells))
    pooled = sum(totals.values())
    print(f"pooled over joints: agreement {100 * pooled[0] / pooled[1]:.1f} %, below floor "
          f"{100 * pooled[2] / pooled[1]:.1f} % ({int(pooled[1])} joint-frames)")


if __name__ == "__main__":
    main()
