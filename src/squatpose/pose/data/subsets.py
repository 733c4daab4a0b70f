"""COCO subsets of the original project (`--mini`, `--lower-visible`) and per-joint label counts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.joints import COCO_NAMES, JointSet
from squatpose.pose.data.dataset import AnnotationError, read_coco_json


def _labelled(ann: dict) -> np.ndarray:
    """`(17,)` bool: which COCO keypoints the annotation labels (v > 0)."""
    kps = ann.get("keypoints") or [0] * 51
    return np.asarray(kps, dtype=np.float64).reshape(17, 3)[:, 2] > 0


def make_subset(annotations: str | Path, out: str | Path, joint_set: JointSet, *, mini: int | None = None,
                lower_visible: bool = False, seed: int = 0) -> dict:
    """Write a COCO JSON with a subset of the persons; returns {"persons": n, "images": m}.

    `mini=N`: N random non-crowd persons with at least one keypoint (the original's 20 000 subset).
    `lower_visible`: persons whose joints of the set are all labelled (the original's second subset).
    Both together: the random draw is taken among the lower-visible persons.
    """
    if mini is None and not lower_visible:
        raise ValueError("choose --mini N and/or --lower-visible")
    data = read_coco_json(Path(annotations))
    persons = [a for a in data["annotations"]
               if a.get("category_id", 1) == 1 and not a.get("iscrowd", 0) and _labelled(a).any()]
    if lower_visible:
        idx = list(joint_set.coco_indices)
        persons = [a for a in persons if _labelled(a)[idx].all()]
    if mini is not None:
        if mini <= 0:
            raise ValueError(f"--mini must be positive, got {mini}")
        rng = np.random.default_rng(seed)
        take = rng.choice(len(persons), size=min(mini, len(persons)), replace=False)
        persons = [persons[i] for i in sorted(take)]
    image_ids = {a["image_id"] for a in persons}
    subset = {k: v for k, v in data.items() if k not in ("images", "annotations")}
    subset["images"] = [img for img in data["images"] if img["id"] in image_ids]
    subset["annotations"] = persons
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(subset))
    return {"persons": len(persons), "images": len(subset["images"])}


def label_stats(annotations: str | Path) -> dict:
    """Per-joint label counts over non-crowd persons: {"persons": n, "joints": {name: {"labelled", "visible"}}}."""
    path = Path(annotations)
    data = read_coco_json(path)
    persons = [a for a in data["annotations"] if a.get("category_id", 1) == 1 and not a.get("iscrowd", 0)]
    if not persons:
        raise AnnotationError(f"{path}: no person annotations")
    vis = np.stack([np.asarray(a.get("keypoints") or [0] * 51, np.float64).reshape(17, 3)[:, 2] for a in persons])
    return {"persons": len(persons),
            "joints": {name: {"labelled": int((vis[:, i] > 0).sum()), "visible": int((vis[:, i] == 2).sum())}
                       for i, name in enumerate(COCO_NAMES)}}


def format_stats(stats: dict, joint_set: JointSet, title: str) -> str:
    n = stats["persons"]
    lines = [f"{title}: {n} persons (non-crowd)", f"{'joint':<16}{'labelled':>10}{'%':>7}{'visible':>10}{'%':>7}"]
    for name in joint_set.names:
        row = stats["joints"][name]
        lines.append(f"{name:<16}{row['labelled']:>10}{100 * row['labelled'] / n:>7.1f}"
                     f"{row['visible']:>10}{100 * row['visible'] / n:>7.1f}")
    return "\n".join(lines)
