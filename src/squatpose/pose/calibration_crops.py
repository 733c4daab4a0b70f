"""Calibration crops that cover the scores the product sees, not only the scores of ground-truth boxes.

A ground-truth box always holds its person, so its joints almost never score below 0.2 and an isotonic
map fitted on them alone is flat down there, exactly where the tracker decides "is the person still here".
Beside each person's GT-box crop this samples crops that mimic a tracker's errors and losses:

* `shifted` crops: the GT box moved by up to ±`max_shift` of its width / height and scaled by a factor in
  `scale` (log-uniform), its centre kept inside the image; a joint is right iff within 0.1 × the GT box's
  larger side of its label, as for the GT-box crop; unlabelled joints count as wrong.
* `empty` crops: a box of the GT box's size whose padded crop touches no annotated person of that image;
  every joint counts as wrong. The centre is drawn inside the image first; where the persons fill the image
  (PARSE's tight photos) it may lie up to one box size outside it, so the crop shows the image's edge and
  border fill, clearly off the person, as when a person walks out of the frame. Failing that, none is made.

All draws come from one seeded generator, so a fit is reproducible.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

from squatpose.geometry import DEFAULT_BOX_PADDING, box_to_center_size
from squatpose.pose.data.dataset import PersonRecord

log = logging.getLogger(__name__)

EMPTY_TRIES = 50  # random placements tried per empty crop before giving up on that person


@dataclass(frozen=True)
class CropMix:
    """How many crops of each kind per annotated person (the GT-box crop is always one)."""

    shifted: int = 4
    empty: int = 1
    max_shift: float = 0.5
    scale: tuple[float, float] = (0.6, 1.6)
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.shifted < 0 or self.empty < 0 or not self.max_shift >= 0
                or not 0 < self.scale[0] <= self.scale[1]):
            raise ValueError(f"invalid calibration crop mix {self}")


@dataclass(frozen=True)
class CalibrationCrops:
    """Crops as records (`bbox` = the crop's box), the GT box's larger side per crop `(N,)` for the
    PCK threshold, and the kind of each crop ('gt', 'shifted', 'empty')."""

    records: list[PersonRecord]
    norm: np.ndarray
    kind: list[str]


def shifted_box(rng: np.random.Generator, bbox: np.ndarray, image_wh: tuple[int, int], max_shift: float,
                scale: tuple[float, float]) -> np.ndarray:
    """`bbox` (x, y, w, h) moved by up to ±max_shift of its size and scaled; its centre stays in the image."""
    x, y, w, h = np.asarray(bbox, np.float64)
    factor = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    cx, cy = (x + w / 2 + rng.uniform(-max_shift, max_shift) * w,
              y + h / 2 + rng.uniform(-max_shift, max_shift) * h)
    cx, cy = np.clip(cx, 0, image_wh[0] - 1), np.clip(cy, 0, image_wh[1] - 1)
    w, h = w * factor, h * factor
    return np.array([cx - w / 2, cy - h / 2, w, h])


def crop_region(bbox: np.ndarray, aspect: float, padding: float) -> np.ndarray:
    """The image area a crop of `bbox` sees (padding and aspect applied) as (x0, y0, x1, y1)."""
    center, size = box_to_center_size(np.asarray(bbox, np.float64), aspect, padding)
    return np.concatenate([center - size / 2, center + size / 2])


def overlaps(region: np.ndarray, boxes_xywh: np.ndarray) -> bool:
    """Does the region (x0, y0, x1, y1) intersect any of the boxes `(M,4)` (x, y, w, h)?"""
    boxes = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    return bool(((region[0] < boxes[:, 0] + boxes[:, 2]) & (boxes[:, 0] < region[2])
                 & (region[1] < boxes[:, 1] + boxes[:, 3]) & (boxes[:, 1] < region[3])).any())


def empty_box(rng: np.random.Generator, bbox: np.ndarray, image_wh: tuple[int, int], persons: np.ndarray,
              aspect: float, padding: float) -> np.ndarray | None:
    """A box of `bbox`'s size whose crop region misses every box in `persons`: centre in the image if
    possible, else within one box size of it."""
    w, h = float(bbox[2]), float(bbox[3])
    for margin in (0.0, 1.0):
        for _ in range(EMPTY_TRIES):
            cx = rng.uniform(-margin * w, image_wh[0] + margin * w)
            cy = rng.uniform(-margin * h, image_wh[1] + margin * h)
            box = np.array([cx - w / 2, cy - h / 2, w, h])
            if not overlaps(crop_region(box, aspect, padding), persons):
                return box
    return None


def calibration_crops(records: list[PersonRecord], persons: list[PersonRecord], mix: CropMix, aspect: float,
                      padding: float = DEFAULT_BOX_PADDING) -> CalibrationCrops:
    """GT-box, shifted and empty crops of `records`; `persons` are every annotated person of those images
    (the empty crops avoid them all). `aspect` is the model input's width / height."""
    rng = np.random.default_rng(mix.seed)
    boxes: dict[str, list[np.ndarray]] = defaultdict(list)
    for person in persons:
        boxes[person.image_path].append(person.bbox)
    out: list[PersonRecord] = []
    norm: list[float] = []
    kind: list[str] = []
    missed = 0
    for record in records:
        if min(record.image_wh) <= 0:
            raise ValueError(f"{record.image_path}: image size unknown (width/height missing in the "
                             "annotations)")
        side = float(max(record.bbox[2], record.bbox[3]))
        crops = [(record, "gt")] + [
            (replace(record, bbox=shifted_box(rng, record.bbox, record.image_wh, mix.max_shift, mix.scale)),
             "shifted") for _ in range(mix.shifted)]
        occupied = np.array(boxes[record.image_path] or [record.bbox])
        for _ in range(mix.empty):
            box = empty_box(rng, record.bbox, record.image_wh, occupied, aspect, padding)
            if box is None:
                missed += 1
                continue
            unlabelled = record.keypoints.copy()
            unlabelled[:, 2] = 0
            crops.append((replace(record, bbox=box, keypoints=unlabelled), "empty"))
        for crop, what in crops:
            out.append(crop)
            norm.append(side)
            kind.append(what)
    if missed:
        log.info("%d of %d empty crops had no free place in their image", missed, mix.empty * len(records))
    return CalibrationCrops(out, np.array(norm), kind)


def crop_correct(xy: np.ndarray, crops: CalibrationCrops, alpha: float = 0.1) -> np.ndarray:
    """`(N,K)` bool: joint labelled and within alpha × the GT box's larger side (unlabelled = wrong)."""
    gt = np.stack([r.keypoints for r in crops.records])
    dist = np.linalg.norm(np.asarray(xy, np.float64)[..., :2] - gt[..., :2], axis=-1)
    return (gt[..., 2] > 0) & (dist <= alpha * crops.norm[:, None])
