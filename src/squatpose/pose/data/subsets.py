"""COCO subsets of the original project (`--mini`, `--lower-visible`) and per-joint label counts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.joints import COCO_NAMES, JointSet
from squatpose.pose.data.dataset import AnnotationError, read_coco_json


def _visibility(ann: dict) -> np.ndarray:
    """`(17,)` COCO visibility flags of an annotation: 0 unlabelled, 1 labelled but hidden, 2 visible."""
    kps = ann.get("keypoints") or [0] * 51
    return np.asarray(kps, dtype=np.float64).reshape(17, 3)[:, 2]


# `--lower-visible` modes: the original project's subset ("all six visible and annotated") needs v = 2;
# "labelled" also keeps joints marked as hidden (v = 1).
LOWER_MODES = {"visible": 2, "labelled": 1}


def make_subset(annotations: str | Path, out: str | Path, joint_set: JointSet, *, mini: int | None = None,
                lower: str | None = None, seed: int = 0) -> dict:
    """Write a COCO JSON with a subset of the persons; returns the counts (persons, images, and how many
    persons have all joints of the set visible / labelled).

    `mini=N`: N random non-crowd persons with at least one keypoint (the original's 20 000 subset).
    `lower="visible"`: persons whose joints of the set are all visible (v = 2), the original's second
    subset; `lower="labelled"`: all labelled (v > 0). With both, the random draw is taken among those.
    """
    if mini is None and lower is None:
        raise ValueError("choose --mini N and/or --lower-visible")
    if lower is not None and lower not in LOWER_MODES:
        raise ValueError(f"--lower-visible takes {' or '.join(LOWER_MODES)}, got {lower!r}")
    data = read_coco_json(Path(annotations))
    persons = [a for a in data["annotations"]
               if a.get("category_id", 1) == 1 and not a.get("iscrowd", 0) and (_visibility(a) > 0).any()]
    joints = list(joint_set.coco_indices)
    all_of_set = [_visibility(a)[joints].min() for a in persons]
    counts = {f"all_{mode}": int(sum(v >= need for v in all_of_set)) for mode, need in LOWER_MODES.items()}
    if lower is not None:
        persons = [a for a, v in zip(persons, all_of_set) if v >= LOWER_MODES[lower]]
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
    return {"persons": len(persons), "images": len(subset["images"]), **counts}


def label_stats(annotations: str | Path) -> dict:
    """Per-joint label counts over non-crowd persons: {"persons": n, "joints": {name: {"labelled",
    "visible"}}}."""
    path = Path(annotations)
    data = read_coco_json(path)
    persons = [a for a in data["annotations"] if a.get("category_id", 1) == 1 and not a.get("iscrowd", 0)]
    if not persons:
        raise AnnotationError(f"{path}: no person annotations")
    vis = np.stack([np.asarray(a.get("keypoints") or [0] * 51, np.float64).reshape(17, 3)[:, 2]
                    for a in persons])
    return {"persons": len(persons),
            "joints": {name: {"labelled": int((vis[:, i] > 0).sum()), "visible": int((vis[:, i] == 2).sum())}
                       for i, name in enumerate(COCO_NAMES)}}


def format_stats(stats: dict, joint_set: JointSet, title: str) -> str:
    n = stats["persons"]
    lines = [f"{title}: {n} persons (non-crowd)",
             f"{'joint':<16}{'labelled':>10}{'%':>7}{'visible':>10}{'%':>7}"]
    for name in joint_set.names:
        row = stats["joints"][name]
        lines.append(f"{name:<16}{row['labelled']:>10}{100 * row['labelled'] / n:>7.1f}"
                     f"{row['visible']:>10}{100 * row['visible'] / n:>7.1f}")
    return "\n".join(lines)
