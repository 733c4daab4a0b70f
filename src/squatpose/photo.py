"""`squatpose predict`: one image → joints, a drawn pose and a per-joint heatmap sheet."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from squatpose.analysis.angles import knee_angles_for_image
from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.geometry import box_problem
from squatpose.media.images import read_photo_rgb
from squatpose.pose.predictor import PoseBatch, Predictor
from squatpose.report.viz import draw_pose_with_angles, heatmap_sheet
from squatpose.video.detector import BlazePoseDetector
from squatpose.video.tracker import TrackerConfig, confirm_person


def locate_and_predict(predictor: Predictor, image_rgb: np.ndarray, box: list[float] | None,
                       min_joint_score: float = MIN_JOINT_SCORE) -> tuple[PoseBatch, np.ndarray, str]:
    """Pose of the main person; the box is the user's, else the most confident of the person detector's
    boxes (or the whole image when it finds nobody), refined from the joints above `min_joint_score`."""
    if box is not None:
        box_arr = np.asarray(box, np.float64)
        return predictor.predict(image_rgb, box_arr[None], return_heatmaps=True), box_arr, "user box"
    candidates = [(d.box, "person detector") for d in BlazePoseDetector()(image_rgb)[:3]]
    h, w = image_rgb.shape[:2]
    candidates = candidates or [(np.array([0.0, 0.0, w, h]), "whole image")]
    best = None
    for candidate, source in candidates:
        found = confirm_person(predictor, image_rgb, candidate,
                               TrackerConfig(start_score=0.0, joint_score=min_joint_score))
        if found is not None and (best is None or found[2].mean() > best[1][2].mean()):
            best = (source, found)
    if best is None:  # nothing looks like a person: the caller's score check says so
        best = ("whole image", (np.array([0.0, 0.0, w, h]), None, None))
    source, (used_box, _, _) = best
    return predictor.predict(image_rgb, used_box[None], return_heatmaps=True), used_box, source + ", refined"


def predict_image(image_path: str | Path, out_dir: str | Path, *, checkpoint: str | None = None,
                  box: list[float] | None = None, flip_test: bool = False, backend: str = "auto",
                  min_joint_score: float = MIN_JOINT_SCORE) -> dict:
    """Writes `<stem>_pose.jpg` and `<stem>_heatmaps.png` into out_dir; returns joints and angles as a dict.
    Joints under `min_joint_score` (the analysis config's) give no angle and are not drawn."""
    image_path, out_dir = Path(image_path), Path(out_dir)
    if box is not None and (problem := box_problem(box, None)):  # before the image is read
        raise ValueError(f"--box: {problem}")
    image = read_photo_rgb(str(image_path))
    if box is not None and (problem := box_problem(box, (image.shape[1], image.shape[0]))):
        raise ValueError(f"{image_path}: the person box: {problem}")
    predictor = Predictor.from_checkpoint(checkpoint, flip_test=flip_test, backend=backend)
    pose, used_box, source = locate_and_predict(predictor, image, box, min_joint_score)
    found = float(pose.score[0].mean())
    if box is None and found < TrackerConfig().start_score:  # the video path's bar for a new person
        raise ValueError(f"{image_path}: no person found (the joints score {found:.2f} on average, below "
                         f"{TrackerConfig().start_score:g})")
    names = predictor.joint_set.names
    xy, score = pose.xy[0], pose.score[0]
    angles = knee_angles_for_image(xy, score, names, min_joint_score)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = draw_pose_with_angles(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), xy, score, names, min_joint_score)
    pose_path, sheet_path = out_dir / f"{image_path.stem}_pose.jpg", out_dir / f"{image_path.stem}_heatmaps.png"
    if not cv2.imwrite(str(pose_path), drawn):
        raise OSError(f"{pose_path}: cannot write image")
    heatmap_sheet(image, pose.heatmaps[0], pose.matrices[0], names, sheet_path)
    return {"image": str(image_path), "box": [round(float(v), 1) for v in used_box], "box_source": source,
            "joints": {n: {"x": round(float(p[0]), 1), "y": round(float(p[1]), 1), "score": round(float(s), 3)}
                       for n, p, s in zip(names, xy, score)},
            "angles": angles, "outputs": {"pose": str(pose_path), "heatmaps": str(sheet_path)}}
