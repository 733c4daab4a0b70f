"""Person boxes from joints: the box a video tracker follows, grown from the legs to the whole body."""
from __future__ import annotations

import numpy as np

from squatpose.geometry import box_from_joints


def person_box_from_legs(xy: np.ndarray, score: np.ndarray, joint_names: tuple[str, ...], min_score: float,
                         torso_ratio: float = 0.8) -> np.ndarray | None:
    """A whole-person box `[x,y,w,h]` grown upward from the confident leg joints `(K,2)`.

    The model is most sure of itself on whole-person crops (the boxes it was mostly trained on), so a
    video tracker should not shrink to the legs: the box reaches `torso_ratio` leg lengths above the
    hips. Leg length = the longest confident thigh + shin; None without one whole confident leg.
    """
    box = box_from_joints(xy, score, min_score)
    if box is None:
        return None
    confident = np.asarray(score) >= min_score
    index = {name: i for i, name in enumerate(joint_names)}
    legs = []
    for side in ("left", "right"):
        chain = [index.get(f"{side}_{part}") for part in ("hip", "knee", "ankle")]
        if None not in chain and confident[chain].all():
            points = xy[chain]
            legs.append(np.linalg.norm(points[1] - points[0]) + np.linalg.norm(points[2] - points[1]))
    hips = [index[n] for n in ("left_hip", "right_hip") if n in index and confident[index[n]]]
    if not legs or not hips:
        return None  # a box of the legs alone would crop the person to their shins
    top = min(float(xy[hips, 1].min()) - torso_ratio * max(legs), box[1])
    return np.array([box[0], top, box[2], box[1] + box[3] - top])
