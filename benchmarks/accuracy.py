"""Accuracy of checkpoints (and the MoveNet teacher) on the shared validation sets, as Markdown for the model
card.

    python benchmarks/accuracy.py [--checkpoint C ...] [--teacher ../shared/teachers/movenet-thunder.onnx]
                                  [--data ../shared/data] [--json all.json]

Same protocol as `squatpose eval` and the peers table (GT boxes, image pixels, PCK normalised by the larger GT
box side, pooled over labelled lower-body joints), with and without flip test, on:
- the LSP dev split: 300 LSP train images held out of the built-in model's training (`squatpose data split`,
  seed 0; made in a temporary folder when derived/lsp is absent): precise labels, the selection set;
- PARSE (305 persons; its labelling convention differs, so PCK@0.05 barely separates models there);
- the COCO sample val, persons with all six lower-body joints labelled (22) and with any (51).
Every model of a run is measured on the same persons; per-joint tables follow for the LSP dev split.
Models of any joint set are scored on the joints of each table that they predict: the lower six (every
model), then the shoulders (models with `lower8`, and the teacher) on the persons with a labelled shoulder.
The shoulders table adds "either side@0.1": each person's shoulders scored against their labels as they are
or swapped, whichever fits better, so the difference to shoulder@0.1 is what left/right swaps cost.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np

from squatpose.joints import JointSet, get_joint_set
from squatpose.media.images import read_image_rgb
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import PersonRecord, load_records
from squatpose.pose.data.splits import split_coco
from squatpose.pose.data.teacher import MoveNetTeacher
from squatpose.pose.evaluation.evaluate import EvalResult, predict_records, score_predictions
from squatpose.pose.evaluation.metrics import bbox_norm
from squatpose.pose.predictor import TorchRunner, default_checkpoint

REPO = Path(__file__).resolve().parents[1]
COCO_VAL = "coco_mini/annotations/person_keypoints_val2017.json"
SETS = {
    "PARSE": ("parse/parse.json", "parse/images", 1),
    "COCO sample val (all six labelled)": (COCO_VAL, "coco_mini/val2017", 6),
    "COCO sample val (any lower joint)": (COCO_VAL, "coco_mini/val2017", 1),
}
DEV = "LSP dev split"
TABLES = {
    "lower six": get_joint_set("lower6"),
    "shoulders": JointSet("shoulders", ("left_shoulder", "right_shoulder"), ()),
}
TABLE_PARTS = {"lower six": ("hip", "knee", "ankle"), "shoulders": ("shoulder",)}
EITHER_SIDE = {"shoulders"}  # tables of one left/right pair, with the swap-tolerant column


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def lsp_dev(data: Path, scratch: Path) -> tuple[Path, Path]:
    """The dev split's JSON (derived/lsp if made, else made the same way into `scratch`) and its images."""
    made = REPO / "derived" / "lsp" / "lsp_train_dev.json"
    if not made.is_file():
        made, _ = split_coco(data / "lsp" / "lsp_train.json", scratch, dev_images=300, seed=0)
    return made, data / "lsp" / "images"


def model_predictions(checkpoint: Path):
    loaded = load_model(checkpoint)
    runner = TorchRunner(loaded.model)

    def predict(records: list[PersonRecord], flip: bool, names: tuple[str, ...]):
        if not set(names) <= set(loaded.joint_set.names):
            return None
        xy, score = predict_records(runner,
                                    [r.with_joint_set(loaded.joint_set) for r in records], loaded.codec,
                                    loaded.joint_set, loaded.input_mean, loaded.input_std, flip_test=flip,
                                    box_padding=loaded.box_padding, progress=False)
        idx = [loaded.joint_set.index(n) for n in names]
        return xy[:, idx], score[:, idx]
    return predict


def teacher_predictions(path: Path):
    teacher = MoveNetTeacher(path)
    cache: dict[tuple, object] = {}  # per person and flip: both tables read the same teacher pass

    def predict(records: list[PersonRecord], flip: bool, names: tuple[str, ...]):
        idx = list(JointSet("any", names, ()).coco_indices)
        poses = []
        for r in records:
            key = (r.image_path, tuple(r.bbox), flip)  # not ann_id: some sets (PARSE) give none
            if key not in cache:
                cache[key] = teacher.predict(read_image_rgb(r.image_path), r.bbox, flip=flip)
            poses.append(cache[key])
        return np.stack([p.points[idx] for p in poses]), np.stack([p.scores[idx] for p in poses])
    return predict


def either_side_pck(xy: np.ndarray, records: list[PersonRecord], alpha: float = 0.1) -> float:
    """PCK of one left/right pair `(N,2,2)` scored per person with its labels as they are or swapped,
    whichever fits better: what the pair scores when the model's only error of side is a swap."""
    gt = np.stack([r.keypoints for r in records])
    norm = bbox_norm(np.stack([r.bbox for r in records]))[:, None]

    def hits(labels: np.ndarray) -> np.ndarray:
        near = np.linalg.norm(xy[..., :2] - labels[..., :2], axis=-1) / norm < alpha
        return (near & (labels[..., 2] > 0)).sum(axis=1)
    best = np.maximum(hits(gt), hits(gt[:, ::-1]))
    return 100.0 * float(best.sum() / (gt[..., 2] > 0).sum())


def row(model: str, name: str, flip: bool, result: EvalResult, names: tuple[str, ...],
        either_side: float | None = None) -> str:
    pooled, groups = result.pck_box.pooled, result.pck_box.grouped(list(names))
    parts = " | ".join([_fmt(g[0.1]) for g in groups.values()]
                       + ([] if either_side is None else [_fmt(either_side)]))
    return (f"| {model} | {name} | {'yes' if flip else 'no'} | {result.n_persons} | {_fmt(pooled[0.05])} | "
            f"{_fmt(pooled[0.1])} | {_fmt(pooled[0.2])} | {parts} | {_fmt(result.oks['AP'])} |")


def per_joint(model: str, flip: bool, result: EvalResult, names: tuple[str, ...]) -> str:
    lines = [f"\n{model}, {DEV}, flip test {'yes' if flip else 'no'}: PCK@0.05 / 0.1 / 0.2 per joint\n",
             "| joint | @0.05 | @0.1 | @0.2 |", "|---|---|---|---|"]
    for j, name in enumerate(names):
        cells = " | ".join(_fmt(result.pck_box.per_joint[a][j]) for a in (0.05, 0.1, 0.2))
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def run_table(title: str, joint_set: JointSet, sets: dict, models: dict, out: dict,
              details: list[str]) -> None:
    columns = [f"{p}@0.1" for p in TABLE_PARTS[title]] + (["either side@0.1"] if title in EITHER_SIDE else [])
    print(f"\n### {title}\n\n| model | set | flip | persons | PCK@0.05 | PCK@0.1 | PCK@0.2 | "
          f"{' | '.join(columns)} | OKS-AP |\n|" + "---|" * (8 + len(columns)))
    for name, (ann, images, min_joints) in sets.items():
        records = load_records(ann, images, joint_set, min_joints=min(min_joints, joint_set.num_joints))
        for model, predict in models.items():
            for flip in (False, True):
                predicted = predict(records, flip, joint_set.names)
                if predicted is None:
                    continue
                result = score_predictions(name, records, *predicted, joint_set)
                either = either_side_pck(predicted[0], records) if title in EITHER_SIDE else None
                print(row(model, name, flip, result, joint_set.names, either), flush=True)
                out[f"{model} | {title} | {name} | flip={flip}"] = result.to_dict()
                if name == DEV:
                    details.append(per_joint(model, flip, result, joint_set.names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, action="append", default=None,
                        help="a checkpoint (repeat to compare several; default: the built-in model)")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="MoveNet ONNX measured beside the checkpoints")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None, help="also write all metrics to this JSON file")
    args = parser.parse_args()
    models = {str(c): model_predictions(c) for c in (args.checkpoint or [default_checkpoint()])}
    if args.teacher:
        models[f"teacher {args.teacher.stem}"] = teacher_predictions(args.teacher)
    out, details = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        dev_json, dev_images = lsp_dev(args.data, Path(scratch))
        sets = {DEV: (dev_json, dev_images, 1),
                **{name: (args.data / a, args.data / i, m) for name, (a, i, m) in SETS.items()}}
        for title, joint_set in TABLES.items():
            run_table(title, joint_set, sets, models, out, details)
    print("\n".join(details))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
