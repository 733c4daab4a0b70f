"""Evaluation in original image pixels: predictions on GT boxes, PCK tables, OKS-AP, COCO results."""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader
from tqdm import tqdm

from squatpose import atomic
from squatpose.geometry import DEFAULT_BOX_PADDING
from squatpose.joints import JointSet
from squatpose.jsonable import finite_or_none
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import PersonRecord, PoseDataset
from squatpose.pose.evaluation.metrics import (
    PCKResult,
    bbox_norm,
    format_pck_table,
    format_reliability,
    oks_ap,
    pck,
    reliability,
    torso_norm,
)
from squatpose.pose.predictor import HeatmapRunner, heatmaps_to_image, run_with_flip

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    name: str
    joint_set: JointSet
    pck_box: PCKResult
    pck_torso: PCKResult | None
    oks: dict
    n_persons: int
    reliability: list[dict]

    def tables(self) -> str:
        names = list(self.joint_set.names)
        parts = [format_pck_table(self.pck_box, names, f"{self.name}: PCK (box-normalised, larger side), "
                                                         f"{self.n_persons} persons")]
        if self.pck_torso is not None:
            parts.append(format_pck_table(self.pck_torso, names, f"{self.name}: LSP-style torso PCK"))
        parts.append(f"{self.name}: OKS " + "  ".join(
            f"{k} {v:.1f}" if not math.isnan(v) else f"{k} n/a" for k, v in self.oks.items()))
        parts.append(format_reliability(self.reliability, title=f"{self.name}: reliability of the joint "
                                                                "scores"))
        return "\n\n".join(parts)

    def to_dict(self) -> dict:
        names = list(self.joint_set.names)
        return {"persons": self.n_persons, "pck_box": self.pck_box.to_dict(names),
                "pck_torso": self.pck_torso.to_dict(names) if self.pck_torso else None,
                "oks": {k: finite_or_none(v) for k, v in self.oks.items()},
                "reliability_pck0.1": self.reliability}


def predict_records(runner: HeatmapRunner, records: list[PersonRecord], codec: HeatmapCodec,
                    joint_set: JointSet, input_mean, input_std, *, flip_test: bool = False,
                    batch_size: int = 32, num_workers: int = 0, box_padding: float = DEFAULT_BOX_PADDING,
                    progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on each record's GT-box crop → points `(N,K,2)` in image px, scores `(N,K)`."""
    dataset = PoseDataset(records, codec, joint_set, input_mean, input_std, box_padding=box_padding)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    flip_perm = joint_set.flip_perm if flip_test else None
    points, scores = [], []
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
        heatmaps = run_with_flip(runner, batch["image"].numpy(), flip_perm)
        xy, score = heatmaps_to_image(codec, heatmaps, batch["matrix"].numpy())
        points.append(xy)
        scores.append(score)
    return np.concatenate(points), np.concatenate(scores)


def score_predictions(name: str, records: list[PersonRecord], xy: np.ndarray, scores: np.ndarray,
                      joint_set: JointSet, gt_annotations: list[dict] | None = None) -> EvalResult:
    """PCK (box and torso normalised) and OKS-AP of predictions `(N,K,2)` against the records' GT."""
    gt = np.stack([r.keypoints for r in records])
    labelled = gt[..., 2] > 0
    box_norm = bbox_norm(np.stack([r.bbox for r in records]))
    pck_box = pck(xy, gt[..., :2], labelled, box_norm)
    torso = torso_norm(np.stack([r.keypoints17 for r in records]))
    pck_torso = None
    if np.isfinite(torso).any():
        pck_torso = pck(xy, gt[..., :2], labelled, torso, alphas=(0.1, 0.2))
    results = coco_results(records, xy, scores, joint_set)
    gt_annotations = gt_annotations or [
        {"id": r.ann_id, "image_id": r.image_id, "category_id": 1, "bbox": r.bbox.tolist(), "area": r.area,
         "iscrowd": 0, "keypoints": r.keypoints17.reshape(-1).tolist()} for r in records]
    return EvalResult(name, joint_set, pck_box, pck_torso,
                      oks_ap(gt_annotations, results, joint_set), len(records),
                      reliability(xy, gt, labelled, box_norm, scores))


def coco_results(records: list[PersonRecord], xy: np.ndarray, scores: np.ndarray, joint_set: JointSet
                 ) -> list[dict]:
    """COCO results format, one entry per GT person; joints outside the set are zeros."""
    out = []
    for record, points, score in zip(records, xy, scores):
        keypoints = joint_set.to_coco(np.concatenate([points, score[:, None]], axis=1))
        out.append({"image_id": record.image_id, "ann_id": record.ann_id, "category_id": 1,
                    "keypoints": [round(float(v), 2) for v in keypoints.reshape(-1)],
                    "score": round(float(score.mean()), 4)})
    return out


def write_results(path: str | Path, results: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(results))
