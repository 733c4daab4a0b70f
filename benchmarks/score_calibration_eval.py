"""Held-out reliability of the joint score calibration: PCK@0.1 per score bin, raw and calibrated, on the
GT-box crops of a set the calibration was not fitted on.

    python benchmarks/score_calibration_eval.py [--checkpoint C] [--seed S] [--flip]

Two splits: fitted on all of PARSE, read on the COCO 2017 sample (val); and fitted on one half of PARSE,
read on the other (split by image, seeded). The fit uses `squatpose release`'s default crop mix (GT box,
4 shifted, 1 empty per person). The built-in model was trained on all of LSP, so LSP is not held out for it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import PersonRecord, load_records
from squatpose.pose.predictor import default_checkpoint
from squatpose.pose.release import calibrate_scores, predict_crops, reliability_tables

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARSE = (SHARED / "parse" / "parse.json", SHARED / "parse" / "images")
COCO_VAL = (SHARED / "coco_mini" / "annotations" / "person_keypoints_val2017.json",
            SHARED / "coco_mini" / "val2017")


def split_by_image(records: list[PersonRecord], seed: int) -> tuple[list[PersonRecord], list[PersonRecord]]:
    """Two halves with no image in both."""
    images = sorted({r.image_path for r in records})
    first = set(np.random.default_rng(seed).permutation(images)[: len(images) // 2])
    return [r for r in records if r.image_path in first], [r for r in records if r.image_path not in first]


def held_out(checkpoint: Path, fit: list[PersonRecord], persons: list[PersonRecord], read: list[PersonRecord],
             flip: bool, title: str) -> None:
    calibration, _ = calibrate_scores(checkpoint, fit, persons, flip_test=flip)
    knots = "  ".join(f"{r:.2f}→{c:.2f}" for r, c in zip(calibration.raw, calibration.calibrated))
    xy, scores = predict_crops(load_model(checkpoint), read, flip)
    print(f"\n== {title}\nknots (raw→calibrated): "
          f"{knots}\n\n{reliability_tables(xy, scores, read, calibration)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the PARSE split")
    parser.add_argument("--flip", action="store_true",
                        help="flip-test scores (video analysis runs single-pass)")
    args = parser.parse_args()
    checkpoint = args.checkpoint or default_checkpoint()
    joint_set = load_model(checkpoint).joint_set
    parse = load_records(*PARSE, joint_set)
    parse_all = load_records(*PARSE, joint_set, min_joints=0, include_crowd=True)
    coco = load_records(*COCO_VAL, joint_set)
    held_out(checkpoint, parse, parse_all, coco, args.flip, f"fit: PARSE ({len(parse)} persons); "
             f"read: COCO val2017 sample ({len(coco)} persons)")
    first, second = split_by_image(parse, args.seed)
    held_out(checkpoint, first, parse_all, second, args.flip,
             f"fit: PARSE half ({len(first)} persons); read: the other half ({len(second)} persons)")


if __name__ == "__main__":
    main()
