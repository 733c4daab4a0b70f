"""COCO-format person keypoint records and the top-down crop dataset."""
from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from squatpose.geometry import (
    DEFAULT_BOX_PADDING,
    apply_affine,
    box_to_center_size,
    crop_affine,
    crop_normalized,
)
from squatpose.joints import JointSet, leg_chains
from squatpose.jsonable import loads_bounded
from squatpose.media.images import read_image_rgb
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.augment import CropParams, color_jitter, sample_crop
from squatpose.pose.data.occlusion import appearance_adjust, chain
from squatpose.pose.data.teacher import TEACHER_FIELD
from squatpose.pose.training.config import AugmentConfig

log = logging.getLogger(__name__)


class AnnotationError(ValueError):
    """A keypoint annotation file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class PersonRecord:
    """One annotated person: image, GT box, keypoints of the joint set `(K,3)` and all 17 `(17,3)`."""

    image_path: str
    image_id: int
    ann_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    keypoints17: np.ndarray
    area: float
    image_wh: tuple[int, int]
    joint_weights: np.ndarray | None = None  # (K,) training weights of refined labels; None = 1 if labelled
    teacher: np.ndarray | None = None  # (K,3) teacher x, y (image px), score: distillation targets; None = none

    def with_joint_set(self, joint_set: JointSet) -> PersonRecord:
        """The same person labelled for another joint set (for scoring models of different joint sets)."""
        return replace(self, keypoints=joint_set.from_coco(self.keypoints17), joint_weights=None, teacher=None)

    def training_weights(self) -> np.ndarray:
        """`(K,)` loss weight per joint: the refined weight, else 1 for labelled joints and 0 otherwise."""
        labelled = (self.keypoints[:, 2] > 0).astype(np.float32)
        return labelled if self.joint_weights is None else labelled * self.joint_weights.astype(np.float32)


@dataclass
class LoadReport:
    """Counts of persons kept and skipped (with reasons) while reading annotation files."""

    kept: int = 0
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return f"{self.kept} persons kept" + (f"; skipped: {reasons}" if reasons else "")


def read_coco_json(path: Path) -> dict:
    try:
        data = loads_bounded(path.read_text())
    except FileNotFoundError:
        raise AnnotationError(f"{path}: annotation file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
    except ValueError as exc:  # a number beyond the float range, too deep a nesting
        raise AnnotationError(f"{path}: {exc}") from None
    for key in ("images", "annotations"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise AnnotationError(f"{path}: not a COCO keypoints file (no '{key}' list)")
    return data


def _person_keypoints(ann: dict, path: Path) -> np.ndarray:
    kps = ann.get("keypoints")
    if kps is None:
        raise AnnotationError(f"{path}: annotation id {ann.get('id')} has no 'keypoints'")
    arr = np.asarray(kps, dtype=np.float64)
    if arr.size != 17 * 3:
        raise AnnotationError(f"{path}: annotation id {ann.get('id')} has {arr.size} keypoint values, "
                              "expected 51 (17 COCO keypoints × x,y,v)")
    arr = arr.reshape(17, 3)
    arr[~np.isfinite(arr).all(axis=1)] = 0.0
    return arr


def _keypoint_weights(ann: dict, path: Path) -> np.ndarray | None:
    """`(17,)` per-joint weights written by `squatpose data refine`, or None when absent."""
    weights = ann.get("keypoint_weights")
    if weights is None:
        return None
    arr = np.asarray(weights, dtype=np.float64)
    if arr.shape != (17,) or not np.isfinite(arr).all() or (arr < 0).any():
        raise AnnotationError(f"{path}: annotation id {ann.get('id')} has 'keypoint_weights' that are not "
                              "17 finite non-negative numbers")
    return arr


def _teacher_keypoints(ann: dict, path: Path) -> np.ndarray | None:
    """`(17,3)` teacher (x, y, score) written by `squatpose data teacher-keypoints`, or None when absent."""
    values = ann.get(TEACHER_FIELD)
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.shape != (51,) or not np.isfinite(arr).all() or not ((arr[2::3] >= 0) & (arr[2::3] <= 1)).all():
        raise AnnotationError(f"{path}: annotation id {ann.get('id')} has '{TEACHER_FIELD}' that are not 51 "
                              "finite numbers (x, y, score × 17) with scores in [0, 1]")
    return arr.reshape(17, 3)


def load_records(annotations: str | Path, images_root: str | Path, joint_set: JointSet, *,
                 min_joints: int = 1, include_crowd: bool = False,
                 report: LoadReport | None = None) -> list[PersonRecord]:
    """Read one COCO person_keypoints JSON into person records, skipping (and counting) unusable ones."""
    path, images_root = Path(annotations), Path(images_root)
    data = read_coco_json(path)
    report = report if report is not None else LoadReport()
    images = {img["id"]: img for img in data["images"]}
    records: list[PersonRecord] = []
    for ann in data["annotations"]:
        if ann.get("category_id", 1) != 1:
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            report.skipped["image id not in 'images'"] += 1
            continue
        if ann.get("iscrowd", 0) and not include_crowd:
            report.skipped["crowd"] += 1
            continue
        kps17 = _person_keypoints(ann, path)
        kps = joint_set.from_coco(kps17)
        if int((kps[:, 2] > 0).sum()) < min_joints:
            report.skipped[f"fewer than {min_joints} labelled joints"] += 1
            continue
        bbox = np.asarray(ann.get("bbox", [0, 0, 0, 0]), dtype=np.float64)
        wh = (int(image.get("width", 0)), int(image.get("height", 0)))
        if bbox.size != 4 or not np.isfinite(bbox).all() or bbox[2] <= 1 or bbox[3] <= 1:
            report.skipped["zero-size or malformed box"] += 1
            continue
        if wh[0] > 0 and (bbox[0] >= wh[0] or bbox[1] >= wh[1] or bbox[0] + bbox[2] <= 0 or bbox[1] + bbox[3] <= 0):
            report.skipped["box outside the image"] += 1
            continue
        image_path = images_root / image["file_name"]
        if not image_path.is_file():
            report.skipped["image file missing"] += 1
            log.warning("%s: image %s is missing; person %s skipped", path, image_path, ann.get("id"))
            continue
        weights17, teacher17 = _keypoint_weights(ann, path), _teacher_keypoints(ann, path)
        records.append(PersonRecord(str(image_path), int(image["id"]), int(ann.get("id", -1)), bbox, kps,
                                    kps17, float(ann.get("area", bbox[2] * bbox[3])), wh,
                                    None if weights17 is None else joint_set.from_coco(weights17[:, None])[:, 0],
                                    None if teacher17 is None else joint_set.from_coco(teacher17)))
    report.kept += len(records)
    return records


def _image_or_blank(path: str) -> np.ndarray:
    """Another training image for an occluding patch; a corrupt one gives a plain grey patch instead."""
    try:
        return read_image_rgb(path)
    except OSError:
        return np.full((16, 16, 3), 128, np.uint8)


class PoseDataset(Dataset):
    """Top-down crops with heatmap targets. `augment=None` gives the deterministic evaluation crop.

    `teacher_min_score` (None: off) adds the teacher's soft targets for distillation: `teacher_heatmaps`
    `(K,H,W)` and `teacher_weights` `(K,)` = the teacher's score where it is at least this, else 0.
    """

    def __init__(self, records: list[PersonRecord], codec: HeatmapCodec, joint_set: JointSet,
                 input_mean: tuple[float, ...], input_std: tuple[float, ...], *,
                 box_padding: float = DEFAULT_BOX_PADDING, augment: AugmentConfig | None = None, seed: int = 0,
                 teacher_min_score: float | None = None) -> None:
        if not records:
            raise ValueError("the dataset has no person records")
        self.records = records
        self.codec = codec
        self.joint_set = joint_set
        self.mean, self.std = input_mean, input_std
        self.box_padding = box_padding
        self.augment = augment
        self.seed = seed
        self.teacher_min_score = teacher_min_score

    def __len__(self) -> int:
        return len(self.records)

    def crop_params(self, index: int, epoch: int = 0) -> CropParams:
        record = self.records[index]
        w, h = self.codec.input_wh
        center, size = box_to_center_size(record.bbox, w / h, self.box_padding)
        if self.augment is None:
            return CropParams(center, size, 0.0, False)
        rng = np.random.default_rng((self.seed, epoch, index))
        return sample_crop(rng, record, center, size, self.joint_set, w / h, self.box_padding, self.augment)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """`index`, or `(epoch, index)` from the training sampler (the epoch seeds augmentation)."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        record = self.records[index]
        try:
            image = read_image_rgb(record.image_path)
        except OSError as exc:
            # A corrupt file found mid-training is skipped (counted by the loop), not a worker crash.
            log.warning("%s; using another person instead", exc)
            sample = self[(epoch, (index + 1) % len(self))]
            sample["substituted"] = sample["substituted"] + 1
            return sample
        params = self.crop_params(index, epoch)
        matrix = crop_affine(params.center, params.size_wh, self.codec.input_wh, params.rotation_deg, params.flip)
        heatmaps, weights = self._encode(record.keypoints, record.training_weights(), matrix, params.flip)
        adjust = self._adjustment(record, matrix, epoch, index)
        image = crop_normalized(image, matrix, self.codec.input_wh, self.mean, self.std, adjust=adjust)
        sample = {
            "image": torch.from_numpy(image),
            "heatmaps": torch.from_numpy(heatmaps),
            "weights": torch.from_numpy(weights),
            "index": index,
            "matrix": torch.from_numpy(matrix),
            "substituted": 0,
        }
        if self.teacher_min_score is not None:
            sample["teacher_heatmaps"], sample["teacher_weights"] = map(
                torch.from_numpy, self._teacher_targets(record, matrix, params.flip))
        return sample

    def _adjustment(self, record: PersonRecord, matrix: np.ndarray, epoch: int, index: int
                    ) -> Callable[[np.ndarray], np.ndarray] | None:
        """Colour jitter, then the gym-footage appearance changes drawn for this sample (uint8 crop → crop)."""
        if self.augment is None:
            return None
        steps = []
        if self.augment.color_jitter > 0:
            rng = np.random.default_rng((self.seed, epoch, index, 1))
            steps.append(partial(color_jitter, rng=rng, amount=self.augment.color_jitter))
        if any(getattr(self.augment, name) for name in self.augment.APPEARANCE):
            rng = np.random.default_rng((self.seed, epoch, index, 2))
            labelled = record.keypoints[:, 2] > 0
            points = apply_affine(record.keypoints[:, :2], matrix)
            chains = [points[idx][labelled[idx]] for idx in leg_chains(self.joint_set.names).values()]
            other = self.records[int(rng.integers(len(self.records)))]
            appearance = appearance_adjust(self.augment, rng, points[labelled], [c for c in chains if len(c) >= 2],
                                           lambda: _image_or_blank(other.image_path))
            if appearance is not None:
                steps.append(appearance)
        return chain(steps)

    def _encode(self, points: np.ndarray, weights: np.ndarray, matrix: np.ndarray, flip: bool
                ) -> tuple[np.ndarray, np.ndarray]:
        """Image-px points `(K,2+)` and weights `(K,)` → heatmaps `(K,H,W)`, weights `(K,)` of the crop."""
        if flip:  # the mirrored crop's left joint is the person's right one
            points, weights = points[list(self.joint_set.flip_perm)], weights[list(self.joint_set.flip_perm)]
        return self.codec.encode(apply_affine(points[:, :2], matrix), weights)

    def _teacher_targets(self, record: PersonRecord, matrix: np.ndarray, flip: bool
                         ) -> tuple[np.ndarray, np.ndarray]:
        """The teacher's maps `(K,H,W)` and weights `(K,)`: its score where >= teacher_min_score, else 0
        (also 0 for a person without teacher keypoints, so every sample has both keys and batches collate)."""
        teacher = record.teacher if record.teacher is not None else np.zeros((self.joint_set.num_joints, 3))
        scores = teacher[:, 2].astype(np.float32)
        return self._encode(teacher[:, :2], np.where(scores >= self.teacher_min_score, scores, 0.0), matrix, flip)
