"""Training frames from videos, labelled by the teacher, written as COCO JSON + JPEGs.

Per clip, every `every_s` seconds: the teacher finds the person on the whole frame (or follows the previous
sampled frame's box), refines the box on its confident keypoints, then labels the frame through
`frame_labels.label_frame` (consensus over jittered, mirrored crops; checked against the frames just before
and after). A frame is kept when enough lower-body joints survive every check and its pose is not a near
duplicate of a frame already kept from the clip. With a student model, frames where it disagrees with the
labels by more than `hard_disagreement` of the box are marked hard and also written to `hard.json`, so a
recipe can show them more often. Output goes outside the repository (the clips carry no redistribution
licence): `<out>/images/<clip>_<frame>.jpg`, `<out>/pseudo_labels.json`, `<out>/hard.json`.
"""
from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.media.video_reader import VideoError, iter_frames_rgb, open_video
from squatpose.pose.data.frame_labels import (
    FrameLabel,
    FrameLabelRules,
    disagreement,
    is_near_duplicate,
    label_frame,
    pose_signature,
)
from squatpose.pose.data.teacher import TEACHER_FIELD, MoveNetTeacher, TeacherPose
from squatpose.pose.data.video_dev import TRAIN_VIDEOS_DEV

log = logging.getLogger(__name__)

LOWER = list(range(11, 17))
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


@dataclass(frozen=True)
class PseudoLabelRules:
    every_s: float = 0.2           # seconds between sampled frames
    min_lower_joints: int = 5      # a frame is kept with at least this many labelled lower-body joints
    min_mean_score: float = 0.55   # ... and this mean teacher score over the six lower-body joints
    box_margin: float = 0.15       # whole-body box = confident keypoints' extent + this margin per side
    min_pose_change: float = 0.03  # a kept frame's pose differs from every other kept one by this (box side)
    hard_disagreement: float = 0.1  # student vs labels beyond this fraction of the box side: a hard frame
    frame: FrameLabelRules = field(default_factory=FrameLabelRules)
    exclude: tuple[str, ...] = TRAIN_VIDEOS_DEV  # file names never labelled (held-out dev clips)


class Student(Protocol):
    """A model whose disagreement with the labels marks hard frames: image + box → its joints."""

    joint_names: tuple[str, ...]

    def __call__(self, image_rgb: np.ndarray, box_xywh: np.ndarray) -> np.ndarray:
        """Joint positions `(K,2)` in image px, in `joint_names` order."""


class PredictorStudent:
    """A squatpose Predictor as the Student of hard-frame mining (one pass, no flip)."""

    def __init__(self, predictor) -> None:  # squatpose.pose.predictor.Predictor
        self.predictor = predictor
        self.joint_names = predictor.joint_set.names

    def __call__(self, image_rgb: np.ndarray, box_xywh: np.ndarray) -> np.ndarray:
        return self.predictor.predict(image_rgb, np.asarray(box_xywh)[None]).xy[0]


def find_videos(sources: Iterable[str | Path], exclude: Iterable[str] = ()) -> list[Path]:
    """Video files given directly or found (not recursively) in the given folders, sorted, minus `exclude`."""
    videos: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            videos += sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        elif source.is_file():
            videos.append(source)
        else:
            raise FileNotFoundError(f"{source}: no such video file or folder")
    held_out = set(exclude)
    skipped = [v.name for v in videos if v.name in held_out]
    if skipped:
        log.info("held out of training (dev clips): %s", ", ".join(skipped))
    videos = [v for v in videos if v.name not in held_out]
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


def find_person(teacher: MoveNetTeacher, frame: np.ndarray, previous_box: np.ndarray | None,
                rules: PseudoLabelRules) -> np.ndarray | None:
    """Whole-body box of the main person (followed from `previous_box`), or None when not found."""
    h, w = frame.shape[:2]
    box = previous_box if previous_box is not None else np.array([0.0, 0.0, w, h])
    for _ in range(2):  # find (or follow), then refine on the whole-body box
        pose = teacher.predict(frame, box, flip=True)
        refined = body_box(pose, rules.frame.joint_score, rules.box_margin, (w, h))
        if refined is None:
            if previous_box is None:
                return None
            return find_person(teacher, frame, None, rules)  # lost: search the whole frame again
        box = refined
    return box


def _annotation(label: FrameLabel, box: np.ndarray, ann_id: int, image_id: int, hardness: float | None,
                rules: PseudoLabelRules) -> dict:
    labelled = label.labelled
    kps = np.zeros((17, 3))
    kps[labelled, :2] = label.points[labelled]
    kps[labelled, 2] = 2
    ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
           "bbox": [round(float(v), 2) for v in box], "area": float(box[2] * box[3]),
           "num_keypoints": int(labelled.sum()), "keypoints": [round(float(v), 2) for v in kps.reshape(-1)],
           "teacher_scores": [round(float(s), 3) for s in label.scores],
           TEACHER_FIELD: TeacherPose(label.points, label.scores).coco_field()}
    if hardness is not None:
        ann["student_disagreement"] = round(hardness, 4)
        ann["hard"] = hardness > rules.hard_disagreement
    return ann


@dataclass
class _Output:
    """What the clips add up to: COCO images and annotations, counts per step."""

    image_dir: Path
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)


def pseudo_label_videos(videos: list[Path], teacher: MoveNetTeacher, out_dir: str | Path,
                        rules: PseudoLabelRules = PseudoLabelRules(), student: Student | None = None,
                        progress: bool = True) -> dict:
    """Write `<out_dir>/pseudo_labels.json`, `hard.json` and the images; returns counts per clip and step.

    The output folder must be new or a previous output of this command (it is replaced as a whole only
    after every clip is done, so an interrupted run leaves the previous result intact). A clip that cannot
    be read is reported and skipped; the others go on.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / "pseudo_labels.json").is_file() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: exists and is not an output of `squatpose data pseudo-label`")
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)  # our own leftover from an interrupted run
    (staging / "images").mkdir(parents=True)
    out = _Output(staging / "images")
    per_clip: dict[str, dict] = {}
    for video in tqdm(videos, desc="pseudo-label", unit="clip", disable=not progress):
        try:
            per_clip[video.name] = _label_clip(video, teacher, rules, student, out)
        except (VideoError, cv2.error) as exc:
            log.error("%s: skipped (%s)", video, exc)
            per_clip[video.name] = {"error": str(exc)}
    if not out.annotations:
        shutil.rmtree(staging)
        raise VideoError(f"no frame of {[v.name for v in videos]} had a confidently found person")
    _write_coco(staging, out, teacher, rules, per_clip)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # checked above: empty or a previous output of this command
    staging.rename(out_dir)
    return {"steps": dict(out.totals), "clips": per_clip}


def _write_coco(staging: Path, out: _Output, teacher: MoveNetTeacher, rules: PseudoLabelRules,
                per_clip: dict) -> None:
    info = {"description": "squatpose pseudo-labels (teacher keypoints on video frames)",
            "teacher": teacher.path.name, "rules": asdict(rules), "steps": dict(out.totals), "clips": per_clip}
    categories = [{"id": 1, "name": "person", "supercategory": "person"}]
    data = {"info": info, "images": out.images, "annotations": out.annotations, "categories": categories}
    atomic.write_text(staging / "pseudo_labels.json", json.dumps(data))
    hard = [a for a in out.annotations if a.get("hard")]
    hard_ids = {a["image_id"] for a in hard}
    data_hard = {**data, "images": [i for i in out.images if i["id"] in hard_ids], "annotations": hard}
    atomic.write_text(staging / "hard.json", json.dumps(data_hard))


def _label_clip(video: Path, teacher: MoveNetTeacher, rules: PseudoLabelRules, student: Student | None,
                out: _Output) -> dict:
    cap, info = open_video(video)
    step = max(1, int(rules.every_s * info.fps + 0.5))  # nearest frame count, halves up
    counts: Counter = Counter()
    state = {"box": None, "kept": []}
    previous = None  # the frame before the current one
    pending = None   # (index, frame, its predecessor): a sampled frame waiting for its successor
    try:
        for index, frame in enumerate(iter_frames_rgb(cap)):
            counts["frames"] += 1
            if pending is not None:
                _label_sampled(video, pending, frame, teacher, rules, student, out, counts, state)
                pending = None
            if index % step == 0:
                pending = (index, frame, previous)
            previous = frame
    finally:
        cap.release()
    if counts["frames"] == 0:
        raise VideoError(f"{video}: the video has no readable frames")
    if pending is not None:  # the clip's last frame was sampled: only its predecessor checks it
        _label_sampled(video, pending, None, teacher, rules, student, out, counts, state)
    out.totals.update(counts)
    return dict(counts)


def _label_sampled(video: Path, pending: tuple[int, np.ndarray, np.ndarray | None], successor: np.ndarray | None,
                   teacher: MoveNetTeacher, rules: PseudoLabelRules, student: Student | None, out: _Output,
                   counts: Counter, state: dict) -> None:
    index, frame, predecessor = pending
    neighbours = [n for n in (predecessor, successor) if n is not None]
    counts["sampled"] += 1
    box = find_person(teacher, frame, state["box"], rules)
    state["box"] = box
    if box is None:
        return
    counts["person_found"] += 1
    label = label_frame(teacher, frame, box, neighbours, rules.frame)
    _count_joints(label, counts)
    lower = label.labelled[LOWER]
    if lower.sum() < rules.min_lower_joints or label.scores[LOWER].mean() < rules.min_mean_score:
        return
    counts["frames_confident"] += 1
    signature = pose_signature(label.points, label.labelled, box)
    if is_near_duplicate(signature, state["kept"], rules.min_pose_change):
        counts["near_duplicates"] += 1
        return
    state["kept"].append(signature)
    hardness = None
    if student is not None:
        hardness = disagreement(student(frame, box), student.joint_names, label.points, label.labelled, box)
        counts["hard"] += hardness > rules.hard_disagreement
    image_id = len(out.images) + 1
    name = f"{video.stem}_{index:05d}.jpg"
    cv2.imwrite(str(out.image_dir / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    out.images.append({"id": image_id, "file_name": name, "width": frame.shape[1], "height": frame.shape[0],
                       "video": video.name, "frame": index})
    out.annotations.append(_annotation(label, box, len(out.annotations) + 1, image_id, hardness, rules))
    counts["kept"] += 1


def _count_joints(label: FrameLabel, counts: Counter) -> None:
    """Joints surviving each check in turn: confident, then crops agree, then neighbours agree."""
    counts["joints_seen"] += label.confident.size
    counts["joints_confident"] += int(label.confident.sum())
    counts["joints_stable"] += int((label.confident & label.stable).sum())
    counts["joints_labelled"] += int(label.labelled.sum())
