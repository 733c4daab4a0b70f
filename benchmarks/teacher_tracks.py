"""MoveNet Thunder's joint tracks of the shared squat clips, one keypoints file per clip, optionally with
its scores calibrated like the built-in model's.

    python benchmarks/teacher_tracks.py [--teacher ../shared/teachers/movenet-thunder.onnx]
        [--data DIR ...] [--out derived/teacher_tracks] [--clips NAME ...] [--no-flip]
        [--calibrate-on derived/lsp/lsp_train_dev.json --images ../shared/data/lsp/images]

The teacher follows the person the way MoveNet's own tutorial does (tensorflow.org/hub/tutorials/movenet,
"cropping algorithm"): the first frame, and any frame after one where neither hip or neither shoulder was
found (score <= 0.2), is seen whole (padded to a square); otherwise the next frame's square crop is centred
on the mid-hip of this frame's keypoints, with half-side max(1.9 x the torso's reach, 1.2 x the body's reach)
from that centre (capped so the crop stays within reach of the image). Each crop is averaged with its mirror
image (`--no-flip` turns that off). Frame times come from the container; variable-frame-rate clips are
resampled to even times, as `squatpose analyze` does.

Output: `OUT/raw/<clip>.json`, keypoints files (docs/keypoints-format.md) with the lower six joints and both
shoulders and MoveNet's own scores; a clip whose raw file exists is not run again. With `--calibrate-on`
(the built-in model's calibration set, `make training-data` writes it), the teacher's scores are mapped to
calibrated probabilities exactly as the built-in model's are (`squatpose release --calibrate-on`: GT-box,
shifted and empty crops, isotonic map, docs/analysis.md "Joint scores"), the map is written to
`OUT/calibration.json` (reused while fitted the same way) and `OUT/<clip>.json` get the calibrated scores, so
the analysis's thresholds mean the same for the teacher's tracks as for the built-in model's (MoveNet's raw
scores run lower: most of its joints at the bottom of a squat score 0.6-0.8, under the per-repetition
measures' 0.77). `squatpose analyze --keypoints OUT/<clip>.json` reads them. The files are measurement inputs,
not project files: the default folder is git-ignored. A clip that cannot be read is reported on one line and
the others go on.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.analysis.tracks import JointTracks, load_keypoints_json, save_keypoints_json
from squatpose.joints import COCO_NAMES, get_joint_set
from squatpose.media.images import read_image_rgb
from squatpose.media.video_reader import VideoError, iter_frames_timed, open_video
from squatpose.pose.calibration import ScoreCalibration, fit_calibration
from squatpose.pose.calibration_crops import CropMix, calibration_crops, crop_correct
from squatpose.pose.data.dataset import load_records
from squatpose.pose.data.teacher import BOX_PADDING, MoveNetTeacher, TeacherError
from squatpose.video.timing import is_variable, resample_uniform

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = (SHARED / "data" / "squat_videos", SHARED / "data" / "squat_videos_more")
JOINTS = get_joint_set("lower8")
MIN_CROP_KEYPOINT_SCORE = 0.2  # the tutorial's
TORSO = [COCO_NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
HIPS, SHOULDERS = TORSO[2:], TORSO[:2]


def whole_frame(width: int, height: int) -> tuple[np.ndarray, float]:
    """(centre, side) of the square crop that holds the whole frame (padded)."""
    return np.array([(width - 1) / 2, (height - 1) / 2]), float(max(width, height))


def next_crop(points: np.ndarray, scores: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """(centre, side) of the next frame's square crop from this frame's 17 keypoints (image px)."""
    seen = scores > MIN_CROP_KEYPOINT_SCORE
    if not (seen[HIPS].any() and seen[SHOULDERS].any()):
        return whole_frame(width, height)
    centre = points[HIPS].mean(axis=0)
    torso = np.abs(points[TORSO] - centre).max()
    body = np.abs(points[seen] - centre).max()
    half = max(1.9 * torso, 1.2 * body)
    half = min(half, max(centre[0], width - centre[0], centre[1], height - centre[1]))
    if half > max(width, height) / 2:
        return whole_frame(width, height)
    return centre, 2 * half


def crop_box(centre: np.ndarray, side: float) -> np.ndarray:
    """The person box whose padded square crop (the teacher's BOX_PADDING) is this crop."""
    inner = side / BOX_PADDING
    return np.array([centre[0] - inner / 2, centre[1] - inner / 2, inner, inner])


def lower8(points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower-8 joints `(8, 2)`, `(8,)` of the teacher's 17 COCO keypoints."""
    return JOINTS.from_coco(points), JOINTS.from_coco(scores[:, None])[:, 0]


def clip_tracks(video: Path, teacher: MoveNetTeacher, flip: bool, progress: bool) -> JointTracks:
    """The teacher's lower-8 joint tracks of one clip, raw scores."""
    cap, info = open_video(video)
    centre, side = whole_frame(info.width, info.height)
    xy, score, times = [], [], []
    try:
        for frame, t in tqdm(iter_frames_timed(cap), total=info.n_frames or None, desc=video.stem,
                             unit="frame", disable=not progress, leave=False):
            pose = teacher.predict(frame, crop_box(centre, side), flip=flip)
            points, scores = lower8(pose.points, pose.scores)
            xy.append(points)
            score.append(scores)
            times.append(t)
            centre, side = next_crop(pose.points, pose.scores, info.width, info.height)
    finally:
        cap.release()
    if not xy:
        raise VideoError(f"{video}: the video has no readable frames")
    xy_arr, score_arr, fps = np.array(xy), np.array(score), info.fps
    if is_variable(np.array(times)):
        fps, xy_arr, score_arr = resample_uniform(np.array(times), xy_arr, score_arr)
    return JointTracks(fps, JOINTS.names, xy_arr, score_arr, (info.width, info.height))


def fit_teacher_calibration(teacher: MoveNetTeacher, annotations: Path, images: Path, flip: bool
                            ) -> tuple[ScoreCalibration, int]:
    """The teacher's score calibration on the crops the built-in model's is fitted on; (map, crops)."""
    records = load_records(annotations, images, JOINTS)
    crops = calibration_crops(records, records, CropMix(), 1.0, BOX_PADDING)
    xy, scores, cached = [], [], ("", np.zeros(0))
    for record in tqdm(crops.records, desc="calibration crops", unit="crop"):
        if cached[0] != record.image_path:
            cached = (record.image_path, read_image_rgb(record.image_path))
        pose = teacher.predict(cached[1], record.bbox, flip=flip)
        points, joint_scores = lower8(pose.points, pose.scores)
        xy.append(points)
        scores.append(joint_scores)
    return fit_calibration(np.array(scores), crop_correct(np.array(xy), crops)), len(crops.records)


def teacher_calibration(args: argparse.Namespace, teacher: MoveNetTeacher) -> ScoreCalibration:
    """The calibration of OUT/calibration.json when it was fitted the same way, else a new fit (written)."""
    path = args.out / "calibration.json"
    how = {"fitted_on": str(args.calibrate_on.resolve()), "teacher": args.teacher.name,
           "flip": not args.no_flip}
    kept = json.loads(path.read_text()) if path.is_file() else {}
    if all(kept.get(key) == value for key, value in how.items()):
        return ScoreCalibration.from_dict(kept)
    calibration, n_crops = fit_teacher_calibration(teacher, args.calibrate_on, args.images, not args.no_flip)
    atomic.write_text(path, json.dumps({**calibration.to_dict(), **how, "crops": n_crops}, indent=1))
    knots = {raw_score: calibration(np.array(raw_score)).item() for raw_score in (0.3, 0.5, 0.7, 0.9)}
    print(f"calibration on {n_crops} crops of {args.calibrate_on.name}: "
          + ", ".join(f"{r:.1f} -> {c:.2f}" for r, c in knots.items()))
    return calibration


def clip_names(folder: Path) -> list[str]:
    """The clips of reps.json, or every .mp4 of a folder without one (e.g. train_videos)."""
    if not (folder / "reps.json").is_file():
        return sorted(path.stem for path in folder.glob("*.mp4"))
    truth = json.loads((folder / "reps.json").read_text())
    return sorted(k for k in truth if not k.startswith("_"))


def raw_tracks(args: argparse.Namespace, teacher: MoveNetTeacher) -> tuple[list[Path], int]:
    """Run the teacher on every clip without a raw file yet; (raw files, clips that failed)."""
    written, failed = [], 0
    for folder in args.data:
        for name in clip_names(folder):
            if args.clips and name not in args.clips:
                continue
            path = args.out / "raw" / f"{name}.json"
            if not path.is_file():
                start = time.perf_counter()
                try:
                    tracks = clip_tracks(folder / f"{name}.mp4", teacher, not args.no_flip, progress=True)
                except VideoError as exc:
                    print(f"{name}: skipped: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                save_keypoints_json(tracks, path)
                seconds = time.perf_counter() - start
                print(f"{name}: {tracks.n_frames} frames at {tracks.fps:.2f} fps, {seconds:.0f} s "
                      f"({1000 * seconds / tracks.n_frames:.0f} ms/frame) -> {path}")
            written.append(path)
    return written, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, default=SHARED / "teachers" / "movenet-thunder.onnx")
    parser.add_argument("--data", type=Path, nargs="+", default=list(DATA),
                        help="folders with <clip>.mp4, and reps.json naming the clips to run (else all "
                             "of them; default: the shared squat clips)")
    parser.add_argument("--out", type=Path, default=REPO / "derived" / "teacher_tracks")
    parser.add_argument("--clips", nargs="+", help="only these clips (names without .mp4)")
    parser.add_argument("--no-flip", action="store_true",
                        help="one crop per frame, not averaged with its mirror")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2)")
    parser.add_argument("--calibrate-on", type=Path,
                        help="COCO keypoints JSON to fit the score calibration on")
    parser.add_argument("--images", type=Path, help="the images folder of --calibrate-on")
    args = parser.parse_args(argv)
    if (args.calibrate_on is None) != (args.images is None):
        parser.error("--calibrate-on and --images go together")
    try:
        teacher = MoveNetTeacher(args.teacher, threads=args.threads)
    except TeacherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (args.out / "raw").mkdir(parents=True, exist_ok=True)
    raw, failed = raw_tracks(args, teacher)
    if args.calibrate_on is not None:
        calibration = teacher_calibration(args, teacher)
        for path in raw:
            tracks = load_keypoints_json(path)
            tracks.score = np.where(tracks.score > 0, calibration(tracks.score), 0.0).astype(np.float64)
            save_keypoints_json(tracks, args.out / path.name)
        print(f"{len(raw)} calibrated keypoints files in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
