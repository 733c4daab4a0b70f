"""Squat training data from videos: frames pseudo-labelled by the teacher, written as COCO JSON + JPEGs.

Per clip, every `every_s` seconds: the teacher runs on a square crop of the whole frame, then again on
the whole-body box around its confident keypoints (MoveNet's own crop-refinement idea), following that
box to the next sampled frame. A frame is kept when its lower-body joints are confident enough; only
confident joints are labelled. Output goes outside the repository (the clips carry no redistribution
licence): `<out>/images/<clip>_<frame>.jpg` and `<out>/pseudo_labels.json`.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.media.video_reader import VideoError, iter_frames_rgb, open_video
from squatpose.pose.data.teacher import TEACHER_FIELD, MoveNetTeacher, TeacherPose

LOWER = list(range(11, 17))
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


@dataclass(frozen=True)
class PseudoLabelRules:
    every_s: float = 0.25        # seconds between sampled frames
    joint_score: float = 0.5     # a joint is labelled when the teacher scores it at least this
    min_lower_joints: int = 5    # ... and a frame is kept with at least this many labelled lower-body joints
    min_mean_score: float = 0.55  # ... and this mean teacher score over the six lower-body joints
    box_margin: float = 0.15     # whole-body box = confident keypoints' extent + this margin per side


def find_videos(sources: Iterable[str | Path]) -> list[Path]:
    """Video files given directly or found (not recursively) in the given folders, sorted."""
    videos: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            videos += sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        elif source.is_file():
            videos.append(source)
        else:
            raise FileNotFoundError(f"{source}: no such video file or folder")
    if not videos:
        raise VideoError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {[str(s) for s in sources]}")
    return videos


def body_box(pose: TeacherPose, score: float, margin: float, image_wh: tuple[int, int]) -> np.ndarray | None:
    """`[x, y, w, h]` around the confident keypoints plus a margin, clipped to the image; None if < 4."""
    points = pose.points[pose.scores >= score]
    if len(points) < 4:
        return None
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = (hi - lo) * margin
    lo = np.maximum(lo - pad, 0)
    hi = np.minimum(hi + pad, np.asarray(image_wh, np.float64) - 1)
    if (hi - lo).min() <= 2:
        return None
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


def label_frame(teacher: MoveNetTeacher, frame: np.ndarray, previous_box: np.ndarray | None,
                rules: PseudoLabelRules) -> tuple[TeacherPose, np.ndarray] | None:
    """Teacher pose of the main person and its whole-body box, or None when the person is not found."""
    h, w = frame.shape[:2]
    box = previous_box if previous_box is not None else np.array([0.0, 0.0, w, h])
    for _ in range(2):  # find (or follow), then refine on the whole-body box
        pose = teacher.predict(frame, box, flip=True)
        refined = body_box(pose, rules.joint_score, rules.box_margin, (w, h))
        if refined is None:
            if previous_box is None:
                return None
            return label_frame(teacher, frame, None, rules)  # lost: search the whole frame again
        box = refined
    pose = teacher.predict(frame, box, flip=True)
    return pose, box


def _annotation(pose: TeacherPose, box: np.ndarray, rules: PseudoLabelRules, ann_id: int, image_id: int
                ) -> dict | None:
    scores = pose.scores
    labelled = scores >= rules.joint_score
    if labelled[LOWER].sum() < rules.min_lower_joints or scores[LOWER].mean() < rules.min_mean_score:
        return None
    kps = np.zeros((17, 3))
    kps[labelled, :2] = pose.points[labelled]
    kps[labelled, 2] = 2
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "bbox": [round(float(v), 2) for v in box], "area": float(box[2] * box[3]),
            "num_keypoints": int(labelled.sum()), "keypoints": [round(float(v), 2) for v in kps.reshape(-1)],
            "teacher_scores": [round(float(s), 3) for s in scores], TEACHER_FIELD: pose.coco_field()}


def pseudo_label_videos(videos: list[Path], teacher: MoveNetTeacher, out_dir: str | Path,
                        rules: PseudoLabelRules = PseudoLabelRules(), progress: bool = True) -> dict:
    """Write `<out_dir>/pseudo_labels.json` and its images; returns counts per clip.

    The output folder must be new or a previous output of this command (it is replaced as a whole
    only after every clip is done, so an interrupted run leaves the previous result intact).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / "pseudo_labels.json").is_file() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: exists and is not an output of `squatpose data pseudo-label`")
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)  # our own leftover from an interrupted run
    (staging / "images").mkdir(parents=True)
    images, annotations, per_clip = [], [], {}
    for video in tqdm(videos, desc="pseudo-label", unit="clip", disable=not progress):
        kept, sampled = _label_clip(video, teacher, staging / "images", rules, images, annotations)
        per_clip[video.name] = {"sampled": sampled, "kept": kept}
    if not annotations:
        shutil.rmtree(staging)
        raise VideoError(f"no frame of {[v.name for v in videos]} had a confidently found person")
    data = {"info": {"description": "squatpose pseudo-labels (teacher keypoints on squat video frames)",
                     "teacher": teacher.path.name, "rules": rules.__dict__, "clips": per_clip},
            "images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}
    atomic.write_text(staging / "pseudo_labels.json", json.dumps(data))
    if out_dir.exists():
        shutil.rmtree(out_dir)  # checked above: empty or a previous output of this command
    staging.rename(out_dir)
    return per_clip


def _label_clip(video: Path, teacher: MoveNetTeacher, image_dir: Path, rules: PseudoLabelRules,
                images: list[dict], annotations: list[dict]) -> tuple[int, int]:
    cap, info = open_video(video)
    step = max(1, int(rules.every_s * info.fps + 0.5))  # nearest frame count, halves up
    box, kept, sampled, n_frames = None, 0, 0, 0
    try:
        for index, frame in enumerate(iter_frames_rgb(cap)):
            n_frames += 1
            if index % step:
                continue
            sampled += 1
            found = label_frame(teacher, frame, box, rules)
            box = None if found is None else found[1]
            ann = None if found is None else _annotation(*found, rules, len(annotations) + 1, len(images) + 1)
            if ann is None:
                continue
            name = f"{video.stem}_{index:05d}.jpg"
            cv2.imwrite(str(image_dir / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            images.append({"id": len(images) + 1, "file_name": name, "width": frame.shape[1],
                           "height": frame.shape[0], "video": video.name, "frame": index})
            annotations.append(ann)
            kept += 1
    finally:
        cap.release()
    if n_frames == 0:
        raise VideoError(f"{video}: the video has no readable frames")
    return kept, sampled
