"""Teacher keypoints stored with the data: a COCO keypoints JSON → a copy whose persons carry the teacher's
17 keypoints and scores (`teacher_keypoints`), the soft targets of distillation (`train.distill_weight`).

Computed once, before training: the teacher takes ~20 ms per crop, too slow for the training loop. The
teacher runs on each person's GT box (as `refine` does), averaged with its mirror image by default.
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.pose.data.dataset import AnnotationError, read_coco_json, read_image_rgb
from squatpose.pose.data.teacher import TEACHER_FIELD, MoveNetTeacher


def _usable_box(ann: dict) -> np.ndarray | None:
    """The person's `[x, y, w, h]` box, or None for a non-person, a crowd or a box too small to crop."""
    if ann.get("category_id", 1) != 1 or ann.get("iscrowd", 0):
        return None
    box = np.asarray(ann.get("bbox", []), np.float64)
    if box.size != 4 or not np.isfinite(box).all() or not (box[2] > 1 and box[3] > 1):
        return None
    return box


def add_teacher_keypoints(annotations: str | Path, images: str | Path, teacher: MoveNetTeacher, out: str | Path,
                          flip: bool = True, progress: bool = True) -> Counter:
    """Write a copy of `annotations` to `out` (atomically) with `teacher_keypoints` on every usable person;
    returns the counts. An unreadable image is an error naming both files, and nothing is written."""
    annotations, images, out = Path(annotations), Path(images), Path(out)
    if out.resolve() == annotations.resolve():
        raise ValueError(f"{out}: refusing to overwrite the input annotations")
    data = read_coco_json(annotations)
    files = {img["id"]: images / img["file_name"] for img in data["images"]}
    labelled = copy.deepcopy(data)
    counts: Counter = Counter()
    cached: tuple[Path | None, np.ndarray | None] = (None, None)  # persons of one image are usually adjacent
    for ann in tqdm(labelled["annotations"], desc=f"teacher keypoints {annotations.name}", disable=not progress):
        box, path = _usable_box(ann), files.get(ann.get("image_id"))
        if box is None or path is None:
            counts["persons skipped (crowd, no image or no box)"] += 1
            continue
        if cached[0] != path:
            try:
                cached = (path, read_image_rgb(str(path)))
            except OSError as exc:
                raise AnnotationError(f"{annotations}: {exc}") from None
        ann[TEACHER_FIELD] = teacher.predict(cached[1], box, flip=flip).coco_field()
        counts["persons"] += 1
    labelled["info"] = {**labelled.get("info", {}), "squatpose_teacher_keypoints": {
        "source": str(annotations), "teacher": teacher.path.name, "flip": flip, "counts": dict(counts)}}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(labelled))
    return counts
