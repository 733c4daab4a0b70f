"""Accuracy of a checkpoint on the shared validation sets, as Markdown rows for the model card.

    python benchmarks/accuracy.py [--checkpoint C] [--data ../shared/data]

Same protocol as `squatpose eval` (GT boxes, image pixels, PCK normalised by the larger GT box side, pooled
over labelled lower-body joints) and as the peers table: PARSE (305 persons) and the COCO sample val
restricted to persons with all six lower-body joints labelled (22 persons), with and without flip test.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import load_records
from squatpose.pose.evaluation.evaluate import predict_records, score_predictions
from squatpose.pose.predictor import TorchRunner, default_checkpoint

SETS = {
    "PARSE": ("parse/parse.json", "parse/images", 1),
    "COCO sample val (all six labelled)": ("coco_mini/annotations/person_keypoints_val2017.json", "coco_mini/val2017", 6),
    "COCO sample val (any lower joint)": ("coco_mini/annotations/person_keypoints_val2017.json", "coco_mini/val2017", 1),
}


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in model")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None, help="also write all metrics to this JSON file")
    args = parser.parse_args()
    loaded = load_model(args.checkpoint or default_checkpoint())
    runner = TorchRunner(loaded.model)
    out = {}
    header = ("| set | flip | persons | PCK@0.05 | PCK@0.1 | PCK@0.2 | hip@0.1 | knee@0.1 | ankle@0.1 | OKS-AP |\n"
              "|---|---|---|---|---|---|---|---|---|---|")
    print(header)
    for name, (ann, images, min_joints) in SETS.items():
        records = load_records(args.data / ann, args.data / images, loaded.joint_set, min_joints=min_joints)
        for flip in (False, True):
            xy, score = predict_records(runner, records, loaded.codec, loaded.joint_set, loaded.input_mean,
                                        loaded.input_std, flip_test=flip, box_padding=loaded.box_padding,
                                        progress=False)
            result = score_predictions(name, records, xy, score, loaded.joint_set)
            pooled, groups = result.pck_box.pooled, result.pck_box.grouped(list(loaded.joint_set.names))
            print(f"| {name} | {'yes' if flip else 'no'} | {len(records)} | {_fmt(pooled[0.05])} | "
                  f"{_fmt(pooled[0.1])} | {_fmt(pooled[0.2])} | {_fmt(groups['hip'][0.1])} | "
                  f"{_fmt(groups['knee'][0.1])} | {_fmt(groups['ankle'][0.1])} | {_fmt(result.oks['AP'])} |")
            out[f"{name} flip={flip}"] = result.to_dict()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
