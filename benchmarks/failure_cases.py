"""A picture sheet of the model's worst predictions on a validation set (ground truth vs prediction).

    python benchmarks/failure_cases.py [--checkpoint C] [--set parse] [--n 12] [--out failures.png]

The shared images carry no redistribution licence, so the sheet is made locally and not committed.
Ground truth is drawn as rings, predictions as dots joined by the skeleton; the caption gives the mean
error in units of the larger GT box side.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from squatpose.media.images import read_image_rgb
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import load_records
from squatpose.pose.evaluation.evaluate import predict_records
from squatpose.pose.predictor import TorchRunner, default_checkpoint
from squatpose.report.viz import draw_overlay_text, draw_skeleton

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {"parse": ("parse/parse.json", "parse/images"),
        "coco": ("coco_mini/annotations/person_keypoints_val2017.json", "coco_mini/val2017")}
TILE = 256


def tile(record, xy: np.ndarray, score: np.ndarray, error: float, names) -> np.ndarray:
    image = cv2.cvtColor(read_image_rgb(record.image_path), cv2.COLOR_RGB2BGR)
    x, y, w, h = record.bbox
    pad = 0.15 * max(w, h)
    x0, y0 = int(max(0, x - pad)), int(max(0, y - pad))
    x1, y1 = int(min(image.shape[1], x + w + pad)), int(min(image.shape[0], y + h + pad))
    crop = image[y0:y1, x0:x1].copy()
    scale = TILE / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))))
    offset = np.array([x0, y0])
    for gx, gy, v in record.keypoints:
        if v > 0:
            cv2.circle(crop, (int((gx - x0) * scale), int((gy - y0) * scale)), 6, (255, 255, 255), 2)
    draw_skeleton(crop, (xy - offset) * scale, score, names, min_score=0.0)
    canvas = np.zeros((TILE, TILE, 3), np.uint8)
    canvas[:crop.shape[0], :crop.shape[1]] = crop
    return draw_overlay_text(canvas, [f"err {error:.2f}", Path(record.image_path).name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--set", choices=sorted(SETS), default="parse")
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("failures.png"))
    args = parser.parse_args()
    loaded = load_model(args.checkpoint or default_checkpoint())
    ann, images = SETS[args.set]
    records = load_records(DATA / ann, DATA / images, loaded.joint_set, min_joints=1)
    xy, score = predict_records(TorchRunner(loaded.model), records, loaded.codec, loaded.joint_set,
                                loaded.input_mean, loaded.input_std, flip_test=True,
                                box_padding=loaded.box_padding, progress=False)
    gt = np.stack([r.keypoints for r in records])
    norm = np.array([max(r.bbox[2], r.bbox[3]) for r in records])
    dist = np.linalg.norm(xy - gt[..., :2], axis=-1) / norm[:, None]
    errors = np.nanmean(np.where(gt[..., 2] > 0, dist, np.nan), axis=1)
    worst = np.argsort(-errors)[:args.n]
    tiles = [tile(records[i], xy[i], score[i], errors[i], loaded.joint_set.names) for i in worst]
    cols = 4
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    sheet = np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])
    cv2.imwrite(str(args.out), sheet)
    print(f"{args.out}: the {len(worst)} worst of {len(records)} persons (mean error "
          f"{errors[worst].mean():.2f} of the box side; median over all {np.nanmedian(errors):.3f})")


if __name__ == "__main__":
    main()
