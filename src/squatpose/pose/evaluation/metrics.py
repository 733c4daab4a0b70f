"""Evaluation metrics in original image pixels: PCK (bbox / torso normalised) and OKS-AP.

Predictions are compared with ground truth in image pixels, never in heatmap space. A joint with no
label is not counted; a missing prediction (flagged invalid, or NaN) counts as wrong.
Shapes: points `(N, K, 2)`, labelled mask `(N, K)`, norms `(N,)`.
"""
from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from squatpose.joints import COCO_NAMES, JointSet
from squatpose.jsonable import finite_or_none

_LSHO, _RSHO, _LHIP, _RHIP = (COCO_NAMES.index(n) for n in
                              ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
_AP_KEYS = ("AP", "AP50", "AP75", "AP_M", "AP_L", "AR")  # indices 0..5 of COCOeval.stats


# ----------------------------------------------------------------------------------------- norms
def bbox_norm(boxes_xywh: np.ndarray) -> np.ndarray:
    """Larger side of each GT box `(N, 4)` as (x, y, w, h) → `(N,)`."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes_xywh must have shape (N, 4), got {boxes.shape}")
    return np.maximum(boxes[:, 2], boxes[:, 3])


def torso_norm(gt17: np.ndarray) -> np.ndarray:
    """LSP-style torso size from COCO-ordered GT `(N, 17, 3)` → `(N,)`.

    Mean of the diagonals left_shoulder–right_hip and right_shoulder–left_hip when both are
    labelled, the one labelled diagonal otherwise, NaN when neither is.
    """
    kp = np.asarray(gt17, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (len(COCO_NAMES), 3):
        raise ValueError(f"gt17 must have shape (N, 17, 3), got {kp.shape}")
    lab = kp[..., 2] > 0
    d1, d2 = (np.where(lab[:, a] & lab[:, b], np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=-1),
                       np.nan)
              for a, b in ((_LSHO, _RHIP), (_RSHO, _LHIP)))
    both = np.isfinite(d1) & np.isfinite(d2)
    return np.where(both, (d1 + d2) / 2.0, np.where(np.isfinite(d1), d1, d2))


# ------------------------------------------------------------------------------------------- PCK
@dataclass(frozen=True)
class PCKResult:
    """PCK pooled over all counted joints, and per joint. Percentages; NaN where nothing counted."""

    alphas: tuple[float, ...]
    pooled: dict[float, float]
    per_joint: dict[float, np.ndarray]   # alpha -> (K,) percent
    counts: np.ndarray                   # (K,) labelled joints counted
    correct: dict[float, np.ndarray]     # alpha -> (K,) correct joints

    def grouped(self, joint_names: Sequence[str]) -> dict[str, dict[float, float]]:
        """PCK per body part, left and right pooled: {"hip": {alpha: percent}, ...}."""
        out = {}
        for part, idx in _joint_groups(joint_names).items():
            n = int(self.counts[idx].sum())
            out[part] = {a: _percent(int(self.correct[a][idx].sum()), n) for a in self.alphas}
        return out

    def table(self, joint_names: Sequence[str], title: str = "") -> str:
        return format_pck_table(self, joint_names, title)

    def to_dict(self, joint_names: Sequence[str] | None = None) -> dict:
        """JSON-ready dict (NaN → None); per-joint values keyed by name when names are given."""
        names = list(joint_names) if joint_names is not None else None
        per_joint = {}
        for a in self.alphas:
            vals = [finite_or_none(v) for v in self.per_joint[a]]
            per_joint[f"{a:g}"] = dict(zip(names, vals)) if names else vals
        counts = [int(c) for c in self.counts]
        out = {
            "alphas": list(self.alphas),
            "pooled": {f"{a:g}": finite_or_none(self.pooled[a]) for a in self.alphas},
            "per_joint": per_joint,
            "counts": dict(zip(names, counts)) if names else counts,
        }
        if names:
            out["grouped"] = {p: {f"{a:g}": finite_or_none(v) for a, v in d.items()}
                              for p, d in self.grouped(names).items()}
        return out


def pck(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, norm: np.ndarray,
        alphas: Sequence[float] = (0.05, 0.1, 0.2),
        pred_valid: np.ndarray | None = None) -> PCKResult:
    """PCK@alpha: a labelled joint is correct when ‖pred − gt‖ ≤ alpha·norm (image pixels).

    pred, gt `(N, K, 2)` (a third channel is ignored); labelled `(N, K)` bool; norm `(N,)`;
    pred_valid `(N, K)` bool or None. Pools over all counted joints of all persons. Unlabelled
    joints and persons whose norm is NaN or ≤ 0 are not counted; missing predictions are wrong.
    """
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    gt = np.asarray(gt, dtype=np.float64)[..., :2]
    labelled = np.asarray(labelled, dtype=bool)
    norm = np.asarray(norm, dtype=np.float64)
    if gt.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (N, K, 2); got {pred.shape} and {gt.shape}")
    n, k = gt.shape[:2]
    if labelled.shape != (n, k) or norm.shape != (n,):
        raise ValueError(f"labelled must be {(n, k)} and norm {(n,)}; "
                         f"got {labelled.shape} and {norm.shape}")
    with np.errstate(invalid="ignore"):
        counted = labelled & (norm > 0)[:, None]      # NaN > 0 is False
    if not np.isfinite(gt[counted]).all():
        raise ValueError("labelled ground-truth joints must have finite coordinates")
    valid = np.isfinite(pred).all(axis=-1)
    if pred_valid is not None:
        pred_valid = np.asarray(pred_valid, dtype=bool)
        if pred_valid.shape != (n, k):
            raise ValueError(f"pred_valid must be {(n, k)}, got {pred_valid.shape}")
        valid &= pred_valid
    dist = np.linalg.norm(pred - gt, axis=-1)
    counts = counted.sum(axis=0)
    alphas = tuple(float(a) for a in alphas)
    correct, per_joint, pooled = {}, {}, {}
    for a in alphas:
        with np.errstate(invalid="ignore"):
            hit = counted & valid & (dist <= a * norm[:, None])
        correct[a] = hit.sum(axis=0)
        per_joint[a] = np.array([_percent(c, m) for c, m in zip(correct[a], counts)])
        pooled[a] = _percent(int(correct[a].sum()), int(counts.sum()))
    return PCKResult(alphas, pooled, per_joint, counts, correct)


SCORE_BINS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def reliability(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, norm: np.ndarray, scores: np.ndarray,
                alpha: float = 0.1, bins: Sequence[float] = SCORE_BINS) -> list[dict]:
    """Does the joint score predict correctness? PCK@alpha of the labelled joints per score bin.

    Shapes as `pck`, scores `(N, K)`. Returns one row per non-empty bin `[lo, hi)`: joints, PCK percent,
    and the mean score in the bin (a calibrated score is close to PCK / 100).
    """
    dist = np.linalg.norm(np.asarray(pred, np.float64)[..., :2] - np.asarray(gt, np.float64)[..., :2],
                          axis=-1)
    with np.errstate(invalid="ignore"):
        counted = np.asarray(labelled, bool) & (np.asarray(norm, np.float64) > 0)[:, None]
        hit = (dist <= alpha * np.asarray(norm, np.float64)[:, None])[counted]
    score = np.asarray(scores, np.float64)[counted]
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        inside = (score >= lo) & (score < hi)
        if inside.any():
            rows.append({"bin": [float(lo), float(min(hi, 1.0))], "joints": int(inside.sum()),
                         "pck": _percent(int(hit[inside].sum()), int(inside.sum())),
                         "mean_score": float(score[inside].mean())})
    return rows


def format_reliability(rows: list[dict], alpha: float = 0.1, title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{'score':>9} {'joints':>7} {'PCK@' + format(alpha, 'g'):>8} {'mean score':>11}")
    for row in rows:
        lo, hi = row["bin"]
        lines.append(f"{lo:4.1f}-{hi:<4.1f} {row['joints']:7d} {row['pck']:8.1f} {row['mean_score']:11.2f}")
    return "\n".join(lines)


def format_pck_table(result: PCKResult, joint_names: Sequence[str], title: str = "") -> str:
    """Plain-text tables: per joint (+ pooled and mean-of-joints rows) and per body part."""
    names = list(joint_names)
    if len(names) != len(result.counts):
        raise ValueError(f"{len(names)} joint names for {len(result.counts)} joints")
    cols = [f"PCK@{a:g}" for a in result.alphas]
    w = max(16, max(len(n) for n in names) + 2)
    lines = [title] if title else []
    lines.append(f"{'joint':<{w}}{'n':>7}" + "".join(f"{c:>10}" for c in cols))
    for j, name in enumerate(names):
        lines.append(f"{name:<{w}}{int(result.counts[j]):>7}"
                     + "".join(_cell(result.per_joint[a][j]) for a in result.alphas))
    lines.append(f"{'pooled':<{w}}{int(result.counts.sum()):>7}"
                 + "".join(_cell(result.pooled[a]) for a in result.alphas))
    lines.append(f"{'mean of joints':<{w}}{'':>7}"
                 + "".join(_cell(_nanmean(result.per_joint[a])) for a in result.alphas))
    groups = _joint_groups(names)
    grouped = result.grouped(names)
    lines += ["", f"{'left+right':<{w}}" + "".join(f"{p:>10}" for p in groups) + f"{'all':>10}",
              f"{'n':<{w}}" + "".join(f"{int(result.counts[i].sum()):>10}" for i in groups.values())
              + f"{int(result.counts.sum()):>10}"]
    for a, col in zip(result.alphas, cols):
        lines.append(f"{col:<{w}}" + "".join(_cell(grouped[p][a]) for p in groups)
                     + _cell(result.pooled[a]))
    return "\n".join(lines)


def _joint_groups(joint_names: Sequence[str]) -> dict[str, list[int]]:
    """Body part (name without left_/right_) → joint indices, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(joint_names):
        part = name.removeprefix("left_").removeprefix("right_")
        groups.setdefault(part, []).append(j)
    return groups


def _percent(num: int, den: int) -> float:
    return 100.0 * num / den if den > 0 else math.nan


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else math.nan


def _cell(v: float) -> str:
    return f"{v:>10.1f}" if np.isfinite(v) else f"{'-':>10}"


# ------------------------------------------------------------------------------------------- OKS
def oks(pred_k: np.ndarray, gt_k: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """Object keypoint similarity of one prediction `(K, 2)` with one GT `(K, 3)`.

    mean over labelled joints of exp(−d² / (2·area·k²)), k = 2σ (as pycocotools); NaN if none labelled.
    """
    pred = np.asarray(pred_k, dtype=np.float64)[:, :2]
    gt = np.asarray(gt_k, dtype=np.float64)
    k2 = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    vis = gt[:, 2] > 0
    if not vis.any():
        return math.nan
    e = ((pred - gt[:, :2]) ** 2).sum(axis=-1) / k2 / (float(area) + np.spacing(1)) / 2.0
    return float(np.exp(-e[vis]).mean())


def oks_ap(gt_annotations: list[dict], predictions: list[dict], joint_set: JointSet,
           image_ids: Sequence[int] = ()) -> dict[str, float]:
    """COCO keypoint AP/AR (percent, NaN where undefined) restricted to `joint_set`.

    gt_annotations: COCO person annotations (17×3 `keypoints`, `bbox`, `image_id`, optional `area`,
    `iscrowd`). predictions: COCO results (`image_id`, 17×3 `keypoints` in image px, `score`).
    Both are reduced to the set's joints and scored with its sigmas; GT with no labelled joint in the
    set is ignored by COCOeval (num_keypoints == 0). image_ids adds images without GT annotations
    (predictions on them are false positives); a prediction on an unknown image is an error.
    """
    gts = [_reduce_gt(a, joint_set, i) for i, a in enumerate(gt_annotations)]
    dts = [_reduce_pred(p, joint_set, i) for i, p in enumerate(predictions)]
    img_ids = sorted({a["image_id"] for a in gts} | set(image_ids))
    unknown = {d["image_id"] for d in dts} - set(img_ids)
    if unknown:
        raise ValueError(f"predictions for image ids not in the ground truth: {sorted(unknown)[:5]}")
    cats = [{"id": 1, "name": "person", "keypoints": list(joint_set.names), "skeleton": []}]
    images = [{"id": i} for i in img_ids]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _coco({"images": images, "annotations": gts, "categories": cats})
        # loadRes cannot take an empty list; an empty result set scores 0 where GT exists.
        coco_dt = (coco_gt.loadRes(dts) if dts else
                   _coco({"images": images, "annotations": [], "categories": cats}))
        ev = _pycocotools().cocoeval.COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(joint_set.sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {key: (100.0 * float(v) if v >= 0 else math.nan)
            for key, v in zip(_AP_KEYS, ev.stats[:len(_AP_KEYS)])}


def _pycocotools():
    """pycocotools, from the `train` extra (training and evaluation only), imported on first use."""
    try:
        import pycocotools.coco
        import pycocotools.cocoeval
    except ImportError:
        raise ValueError("OKS-AP needs pycocotools, part of the training extra: pip install "
                         "'squatpose[train]'"
                         ) from None
    return pycocotools


def _coco(dataset: dict):
    coco = _pycocotools().coco.COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _keypoints17(obj: dict, what: str, index: int) -> np.ndarray:
    kp = np.asarray(obj.get("keypoints", ()), dtype=np.float64)
    if kp.size != 3 * len(COCO_NAMES):
        raise ValueError(f"{what} {index}: 'keypoints' must hold 17*3 COCO-ordered values, "
                         f"got {kp.size}")
    return kp.reshape(len(COCO_NAMES), 3)


def _reduce_gt(ann: dict, joint_set: JointSet, index: int) -> dict:
    if "bbox" not in ann or "image_id" not in ann:
        raise ValueError(f"GT annotation {index}: needs 'bbox' and 'image_id'")
    kp = joint_set.from_coco(_keypoints17(ann, "GT annotation", index))
    x, y, w, h = (float(v) for v in ann["bbox"])
    return {
        "id": index + 1,  # ids must be > 0: COCOeval treats a match with id 0 as no match
        "image_id": ann["image_id"], "category_id": 1,
        "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum()),
        "area": float(ann.get("area", w * h)), "bbox": [x, y, w, h],
        "iscrowd": int(ann.get("iscrowd", 0)),
    }


def _reduce_pred(pred: dict, joint_set: JointSet, index: int) -> dict:
    if "image_id" not in pred or "score" not in pred:
        raise ValueError(f"prediction {index}: needs 'image_id' and 'score'")
    kp = joint_set.from_coco(_keypoints17(pred, "prediction", index))
    kp[~np.isfinite(kp)] = 0.0  # a missing joint is written as 0, as in the COCO results format
    return {"image_id": pred["image_id"], "category_id": 1,
            "keypoints": kp.ravel().tolist(), "score": float(pred["score"])}
