"""Person detectors compared in one run: AP50 and recall on the COCO sample's val persons, recall on
frames of the shared squat clips (one exerciser each, deep-squat bottoms included), ms per frame.

    python benchmarks/detector_eval.py [--every 5]

Detectors: the built-in BlazePose person detector (ONNX Runtime, 1 thread) and, where this OpenCV still
has it, OpenCV's HOG people detector (the one squatpose used before) at the same 640 px working size.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from squatpose.media.video_reader import iter_frames_bgr, opened_video
from squatpose.video import detector as det

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
Boxes = list[tuple[np.ndarray, float]]


def hog_detector() -> Callable[[np.ndarray], Boxes] | None:
    if not hasattr(cv2, "HOGDescriptor"):
        return None
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def run(image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        scale = min(640 / max(h, w), 3.0)
        small = cv2.resize(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY), (round(w * scale), round(h * scale)))
        rects, weights = hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        return [(np.asarray(r, np.float64) / scale, float(s)) for r, s in zip(rects, np.ravel(weights))]
    return run


def blazepose() -> Callable[[np.ndarray], Boxes]:
    model = det.BlazePoseDetector(min_score=0.3)
    return lambda image: [(d.box, d.score) for d in model(image)]


def average_precision(found: list[tuple[float, bool]], n_truth: int) -> float:
    """VOC-style AP (all-point interpolation) from (score, is true positive) pairs."""
    if not found or n_truth == 0:
        return 0.0
    found = sorted(found, key=lambda f: -f[0])
    tp = np.cumsum([f[1] for f in found])
    recall = tp / n_truth
    precision = tp / np.arange(1, len(found) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def coco_eval(run: Callable[[np.ndarray], Boxes], min_height: float) -> dict:
    """AP50 and recall over person boxes at least `min_height` px tall; smaller ones and crowds are ignored."""
    data = json.loads((SHARED / "coco_mini/annotations/person_keypoints_val2017.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    found, n_truth, hit, seconds = [], 0, 0, 0.0
    for image in data["images"]:
        anns = by_image.get(image["id"], [])
        rgb = cv2.cvtColor(cv2.imread(str(SHARED / "coco_mini/val2017" / image["file_name"])), cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        boxes = run(rgb)
        seconds += time.perf_counter() - start
        truth = [np.asarray(a["bbox"]) for a in anns if not a["iscrowd"] and a["bbox"][3] >= min_height]
        ignore = [np.asarray(a["bbox"]) for a in anns if a["iscrowd"] or a["bbox"][3] < min_height]
        n_truth += len(truth)
        used = set()
        for box, score in sorted(boxes, key=lambda b: -b[1]):
            ious = [det.box_iou(box, t) if i not in used else 0.0 for i, t in enumerate(truth)]
            best = int(np.argmax(ious)) if ious else -1
            if best >= 0 and ious[best] >= 0.5:
                used.add(best)
                found.append((score, True))
            elif not any(det.box_iou(box, g) >= 0.5 for g in ignore):
                found.append((score, False))
        hit += len(used)
    return {"ap50": average_precision(found, n_truth), "recall": hit / max(n_truth, 1), "persons": n_truth,
            "ms": 1000 * seconds / len(data["images"])}


def clip_recall(run: Callable[[np.ndarray], Boxes], every: int) -> tuple[list[tuple[str, int, int]], float]:
    """Per clip: sampled frames, frames with at least one detection; and ms per frame."""
    rows, seconds, frames = [], 0.0, 0
    for folder in ("squat_videos", "squat_videos_more"):
        for path in sorted((SHARED / folder).glob("*.mp4")):
            sampled = with_person = 0
            with opened_video(path, fallback_fps=30.0) as (cap, _):
                for frame in itertools.islice(iter_frames_bgr(cap), 0, None, every):
                    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                    start = time.perf_counter()
                    boxes = run(rgb)
                    seconds += time.perf_counter() - start
                    sampled, frames = sampled + 1, frames + 1
                    with_person += bool(boxes)
            rows.append((path.stem, sampled, with_person))
    return rows, 1000 * seconds / max(frames, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=5, help="squat clips: use every n-th frame")

    parser.add_argument("--coco-only", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    detectors = {"blazepose": blazepose()}
    hog = hog_detector()
    if hog is not None:
        detectors["opencv-hog"] = hog
    print(f"{'detector':<12}{'persons':>8}{'AP50':>7}{'recall':>8}{'  (≥100 px tall)':>17}{'ms/img':>8}")
    for name, run in detectors.items():
        every = coco_eval(run, 0.0)
        tall = coco_eval(run, 100.0)
        print(f"{name:<12}{every['persons']:>8}{every['ap50']:>7.3f}{every['recall']:>8.3f}"
              f"{tall['ap50']:>9.3f}/{tall['recall']:.3f} ({tall['persons']}){every['ms']:>6.1f}")
    if args.coco_only:
        return
    print(f"\nsquat clips, every {args.every}th frame: frames with a person found")
    results = {name: clip_recall(run, args.every) for name, run in detectors.items()}
    print(f"{'clip':<30}" + "".join(f"{name:>14}" for name in results))
    names = [row[0] for row in next(iter(results.values()))[0]]
    for i, clip in enumerate(names):
        print(f"{clip:<30}" + "".join(f"{rows[i][2]:>8}/{rows[i][1]:<5}" for rows, _ in results.values()))
    for name, (rows, ms) in results.items():
        total, hit = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"{name}: {hit}/{total} frames ({100 * hit / total:.1f} %), {ms:.1f} ms/frame")


if __name__ == "__main__":
    main()
