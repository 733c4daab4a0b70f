"""Teacher keypoints stored with the data: a COCO keypoints JSON → a copy whose persons carry the teacher's
17 keypoints and scores (`teacher_keypoints`), the soft targets of distillation (`train.distill_weight`).

Computed once, before training: the teacher takes ~20 ms per crop, too slow for the training loop. The
teacher runs on each person's GT box (as `refine` does), averaged with its mirror image by default.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.media.images import read_image_rgb
from squatpose.outputs import refuse_overwriting_inputs
from squatpose.pose.data.dataset import AnnotationError, read_coco_json
from squatpose.pose.data.teacher import TEACHER_FIELD, MoveNetTeacher, TeacherPose


def teacher_poses(annotations: Path, data: dict, images: Path, teacher: MoveNetTeacher, *, flip: bool,
                  counts: Counter, desc: str, progress: bool, needs_keypoints: bool = False
                  ) -> Iterator[tuple[dict, np.ndarray, TeacherPose]]:
    """Each person of `data` (annotations of the file `annotations`) with a usable box and image, its box
    `[x, y, w, h]` and the teacher's pose on it; persons without an image or a box are counted as skipped.
    An unreadable image is an error naming both files."""
    files = {img["id"]: images / img["file_name"] for img in data["images"]}
    cached: tuple[Path | None, np.ndarray | None] = (None, None)  # persons of one image are usually adjacent
    for ann in tqdm(data["annotations"], desc=f"{desc} {annotations.name}", disable=not progress):
        if (ann.get("category_id", 1) != 1 or ann.get("iscrowd", 0)
                or (needs_keypoints and "keypoints" not in ann)):
            continue
        path = files.get(ann.get("image_id"))
        box = np.asarray(ann.get("bbox", []), np.float64)
        if path is None or box.size != 4 or not np.isfinite(box).all() or not (box[2] > 1 and box[3] > 1):
            counts["persons skipped (no image or box)"] += 1
            continue
        if cached[0] != path:
            try:
                cached = (path, read_image_rgb(str(path)))
            except OSError as exc:
                raise AnnotationError(f"{annotations}: {exc}") from None
        yield ann, box, teacher.predict(cached[1], box, flip=flip)


def read_for_copy(annotations: Path, out: Path) -> dict:
    """The COCO data of `annotations`, to be changed and written to `out`, which must not be the input."""
    refuse_overwriting_inputs({"--out": out}, {"--annotations": annotations})
    return read_coco_json(annotations)


def add_teacher_keypoints(annotations: str | Path, images: str | Path, teacher: MoveNetTeacher,
                          out: str | Path,
                          flip: bool = True, progress: bool = True) -> Counter:
    """Write a copy of `annotations` to `out` (atomically) with `teacher_keypoints` on every usable person;
    returns the counts. An unreadable image is an error naming both files, and nothing is written."""
    annotations, images, out = Path(annotations), Path(images), Path(out)
    labelled = read_for_copy(annotations, out)
    counts: Counter = Counter()
    for ann, _, pose in teacher_poses(annotations, labelled, images, teacher, flip=flip, counts=counts,
                                      desc="teacher keypoints", progress=progress):
        ann[TEACHER_FIELD] = pose.coco_field()
        counts["persons"] += 1
    labelled["info"] = {**labelled.get("info", {}), "squatpose_teacher_keypoints": {
        "source": str(annotations), "teacher": teacher.path.name, "flip": flip, "counts": dict(counts)}}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(labelled))
    return counts
