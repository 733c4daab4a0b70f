"""A fixed dev split: hold out whole images of a COCO keypoints JSON, never trained on.

The held-out images are a seeded random draw over the sorted image ids, so the split depends on the
file and the seed only (documented in docs/training.md: LSP train, 300 images, seed 0).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.pose.data.dataset import read_coco_json


def split_coco(annotations: str | Path, out_dir: str | Path, dev_images: int, seed: int = 0
               ) -> tuple[Path, Path]:
    """Write `<stem>_dev.json` (dev_images images) and `<stem>_rest.json` (all others) into out_dir."""
    annotations, out_dir = Path(annotations), Path(out_dir)
    data = read_coco_json(annotations)
    ids = sorted(int(img["id"]) for img in data["images"])
    if not 0 < dev_images < len(ids):
        raise ValueError(f"{annotations}: --dev must be between 1 and {len(ids) - 1} images, got "
                         f"{dev_images}")
    dev = {ids[i] for i in np.random.default_rng(seed).choice(len(ids), size=dev_images, replace=False)}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, keep in (("dev", lambda i: i in dev), ("rest", lambda i: i not in dev)):
        subset = {**data, "images": [img for img in data["images"] if keep(int(img["id"]))],
                  "annotations": [a for a in data["annotations"] if keep(int(a.get("image_id", -1)))]}
        subset["info"] = {**data.get("info", {}),
                          "squatpose_split": {"source": str(annotations), "part": part, "seed": seed,
                                              "dev_images": dev_images}}
        path = out_dir / f"{annotations.stem}_{part}.json"
        atomic.write_text(path, json.dumps(subset))
        paths.append(path)
    return paths[0], paths[1]
