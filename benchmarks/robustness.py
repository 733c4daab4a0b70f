"""Accuracy under each gym-footage corruption: the LSP dev split's crops with one corruption applied to all.

    python benchmarks/robustness.py [--checkpoint C ...] [--data ../shared/data]

Each row draws the corruption of `pose/data/occlusion.py` (the training augmentation) on every evaluation
crop, seeded per person, so every model sees the same corrupted crops; the crop itself is the plain
evaluation crop (no scale, rotation, shift or flip). PCK@0.05 / 0.1 on the lower six joints, one pass.
This shows how robust a model is to each kind of footage, not what training with that augmentation
changed by itself (a model trained with it differs in other ways too).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import PoseDataset, load_records
from squatpose.pose.data.splits import split_coco
from squatpose.pose.evaluation.evaluate import score_predictions
from squatpose.pose.predictor import TorchRunner, default_checkpoint, heatmaps_to_image
from squatpose.pose.training.config import AugmentConfig

REPO = Path(__file__).resolve().parents[1]
PLAIN = {"flip_prob": 0.0, "scale_range": (1.0, 1.0), "rotation_prob": 0.0, "shift_frac": 0.0,
         "lower_body_prob": 0.0, "color_jitter": 0.0}
CONDITIONS = {"none": {}, **{name.removesuffix("_prob"): {name: 1.0} for name in AugmentConfig.APPEARANCE
                             if name != "small_person_prob"}}


def evaluate(checkpoint: Path, records, corruption: dict) -> tuple[float, float]:
    loaded = load_model(checkpoint)
    runner = TorchRunner(loaded.model)
    dataset = PoseDataset([r.with_joint_set(loaded.joint_set) for r in records], loaded.codec, loaded.joint_set,
                          loaded.input_mean, loaded.input_std, box_padding=loaded.box_padding,
                          augment=AugmentConfig(**PLAIN, **corruption))
    points = []
    for batch in DataLoader(dataset, batch_size=32, shuffle=False):
        xy, _ = heatmaps_to_image(loaded.codec, runner(batch["image"].numpy()), batch["matrix"].numpy())
        points.append(xy)
    lower6 = get_joint_set("lower6")
    idx = [loaded.joint_set.index(n) for n in lower6.names]
    xy = np.concatenate(points)[:, idx]
    result = score_predictions("dev", records, xy, np.ones(xy.shape[:2]), lower6)
    return result.pck_box.pooled[0.05], result.pck_box.pooled[0.1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, action="append", default=None)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    checkpoints = args.checkpoint or [default_checkpoint()]
    with tempfile.TemporaryDirectory() as scratch:  # the dev split, made as `squatpose data split` makes it
        dev_json, _ = split_coco(args.data / "lsp" / "lsp_train.json", scratch, dev_images=300, seed=0)
        records = load_records(dev_json, args.data / "lsp" / "images", get_joint_set("lower6"))
    print("| corruption | " + " | ".join(str(c) for c in checkpoints) + " |")
    print("|---|" + "---|" * len(checkpoints))
    for name, corruption in CONDITIONS.items():
        cells = [evaluate(c, records, corruption) for c in checkpoints]
        print(f"| {name} | " + " | ".join(f"{a:.1f} / {b:.1f}" for a, b in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
