"""Shared fixtures: a tiny synthetic COCO keypoints set written at test time, and the shared data path."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from squatpose.joints import get_joint_set
from squatpose.pose.predictor import PoseBatch
from squatpose.video.detector import Detection

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_or_skip(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is not present on this machine")
    return path


def _person(rng: np.random.Generator, cx: float, top: float, height: float) -> np.ndarray:
    """17×3 COCO keypoints of a standing stick figure; the lower body fully labelled."""
    kps = np.zeros((17, 3))
    half = height * 0.12
    rows = {5: 0.2, 6: 0.2, 11: 0.5, 12: 0.5, 13: 0.72, 14: 0.72, 15: 0.95, 16: 0.95}
    for idx, frac in rows.items():
        side = -1 if idx % 2 == 1 else 1  # odd COCO indices are the person's left: image right when facing us
        kps[idx] = [cx - side * half + rng.normal(0, 1), top + frac * height, 2]
    return kps


def write_tiny_coco(root: Path, n_images: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """Images with drawn stick figures and a matching COCO JSON; returns (json path, images dir)."""
    rng = np.random.default_rng(seed)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n_images):
        w, h = 160, 128
        canvas = np.full((h, w, 3), 40, np.uint8)
        kps = _person(rng, cx=rng.uniform(50, 110), top=rng.uniform(4, 14), height=rng.uniform(90, 110))
        for a, b in ((11, 13), (13, 15), (12, 14), (14, 16), (11, 12), (5, 11), (6, 12)):
            cv2.line(canvas, tuple(int(v) for v in kps[a, :2]), tuple(int(v) for v in kps[b, :2]),
                     (200, 180, 160), 3)
        for j in range(11, 17):
            cv2.circle(canvas, tuple(int(v) for v in kps[j, :2]), 3, (60 + 30 * (j - 11), 220, 90), -1)
        name = f"img{i:03d}.png"
        cv2.imwrite(str(images_dir / name), canvas)
        labelled = kps[kps[:, 2] > 0, :2]
        x0, y0 = labelled.min(0) - 8
        x1, y1 = labelled.max(0) + 8
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        annotations.append({"id": 100 + i, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                            "area": float((x1 - x0) * (y1 - y0)), "num_keypoints": int((kps[:, 2] > 0).sum()),
                            "keypoints": kps.reshape(-1).round(2).tolist()})
    path = root / "tiny.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path, images_dir


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> tuple[Path, Path]:
    return write_tiny_coco(tmp_path_factory.mktemp("tiny_coco"))


# Synthetic scenes for the video front end: each person is a filled rectangle in one colour channel
# (red, blue or green: who they are) whose brightness says how sure a pose model would be of them
# (60 + 190 × score), on a dark background. Fake detectors and predictors read people back from the
# pixels, so the same scenes work as arrays and as real compressed video files.
PERSON_CHANNEL = {"red": 2, "blue": 0, "green": 1}   # BGR channel of each colour


@dataclass
class Person:
    colour: str
    boxes: np.ndarray            # (T,4) x,y,w,h per frame; NaN rows where the person is out of view
    score: np.ndarray            # (T,) how sure a pose model would be of them


def render_scene(people: list[Person], size_wh: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames `(H,W,3)` BGR uint8 of the scripted people."""
    n = len(people[0].score) if people else 1
    frames = []
    for t in range(n):
        frame = np.full((size_wh[1], size_wh[0], 3), 20, np.uint8)
        for person in people:
            box = person.boxes[t]
            if np.isnan(box).any():
                continue
            x, y, w, h = (round(float(v)) for v in box)
            colour = [0, 0, 0]
            colour[PERSON_CHANNEL[person.colour]] = int(60 + 190 * person.score[t])
            cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), colour, -1)
        frames.append(frame)
    return frames


def still(box: list[float], n: int) -> np.ndarray:
    return np.tile(np.asarray(box, np.float64), (n, 1))


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


RGB_CHANNEL = {"red": 0, "green": 1, "blue": 2}


def blob(image_rgb: np.ndarray, colour: str, region: tuple[int, int, int, int] | None = None):
    """Bounding box (x0, y0, x1, y1) and mean brightness of one colour's pixels, or None."""
    c = RGB_CHANNEL[colour]
    others = [i for i in range(3) if i != c]
    mask = (image_rgb[..., c] > 45) & (image_rgb[..., others] < 40).all(axis=-1)
    if region is not None:
        x0, y0, x1, y1 = region
        keep = np.zeros_like(mask)
        keep[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
        mask &= keep
    ys, xs = np.nonzero(mask)
    if len(xs) < 30:
        return None
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), float(image_rgb[..., c][mask].mean()), len(xs)


class FakeDetector:
    """Finds every coloured person with a whole-body box; records the frames it was asked about."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image_rgb: np.ndarray) -> list[Detection]:
        self.calls += 1
        found = []
        for colour in RGB_CHANNEL:
            hit = blob(image_rgb, colour)
            if hit is not None:
                (x0, y0, x1, y1), _, _ = hit
                box = np.array([x0, y0, x1 - x0, y1 - y0], np.float64)
                found.append(Detection(box, 0.9, np.array([(x0 + x1) / 2, (y0 + y1) / 2]), (y1 - y0) / 2))
        return found


class FakePredictor:
    """Lower-body joints of the person filling most of each (padded) box; scores from their brightness.
    `calls`: the number of boxes of each call."""

    joint_set = get_joint_set("lower6")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def pose(self, image_rgb: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cx, cy, w, h = box[0] + box[2] / 2, box[1] + box[3] / 2, 1.25 * box[2], 1.25 * box[3]
        region = (int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2))
        hits = [(hit[2], c) for c in RGB_CHANNEL if (hit := blob(image_rgb, c, region)) is not None]
        if not hits:
            return np.tile([cx, cy], (6, 1)).astype(np.float64), np.full(6, 0.02)
        # The person most in view; like a pose model, it places their legs even where the crop cuts them.
        (x0, y0, x1, y1), value, _ = blob(image_rgb, max(hits)[1])
        bw, bh = x1 - x0, y1 - y0
        xs = [x0 + 0.65 * bw, x0 + 0.35 * bw] * 3
        ys = [y0 + f * bh for f in (0.5, 0.5, 0.75, 0.75, 0.98, 0.98)]
        return np.stack([xs, ys], axis=1), np.full(6, np.clip((value - 60) / 190, 0, 1))

    def predict(self, image_rgb: np.ndarray, boxes: np.ndarray) -> PoseBatch:
        self.calls.append(len(boxes))
        poses = [self.pose(image_rgb, box) for box in np.asarray(boxes, np.float64).reshape(-1, 4)]
        return PoseBatch(np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses]))
