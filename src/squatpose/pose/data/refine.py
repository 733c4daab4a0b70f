"""Label refinement: a noisy COCO keypoints JSON + a teacher model → a refined JSON with per-joint weights.

Rules (thresholds measured on LSP's precise labels, where Thunder with flip averaging is within 0.05 of
the box side for 96 % of joints scored ≥ 0.7 and farther than 0.1 for under 1 % of them, but for 18 % of
joints scored 0.4–0.5; see docs/training.md):
- left/right fix: when swapping the legs' labels makes them agree with the teacher and the original
  does not, the labels are swapped first;
- agree (label within `agree` × box side of the teacher) and a confident teacher: the joint snaps to the
  teacher's position (crowd-sourced clicks are less precise than the teacher);
- disagree with a confident teacher: the label is most likely wrong and is dropped (weight 0);
- disagree with an unsure teacher: the label is kept at `unsure_weight`;
- a joint the label set leaves out (LSP-extended labels visible joints only) is added from a very
  confident teacher at `added_weight`.
Weights go into a `keypoint_weights` list (17 values) per annotation; `load_records` reads it, and the
teacher's own keypoints into `teacher_keypoints` (distillation targets, see teacher_keypoints.py).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.joints import COCO_FLIP_PERM, COCO_NAMES
from squatpose.pose.data.teacher import TEACHER_FIELD, MoveNetTeacher
from squatpose.pose.data.teacher_keypoints import read_for_copy, teacher_poses

LOWER = tuple(range(11, 17))  # COCO hips, knees, ankles


@dataclass(frozen=True)
class RefineRules:
    agree: float = 0.1            # label–teacher distance, fraction of the larger box side
    snap_score: float = 0.5       # teacher score needed to snap an agreeing label
    confident_score: float = 0.6  # teacher score above which a disagreeing label is dropped
    add_score: float = 0.7        # teacher score needed to add an unlabelled joint
    unsure_weight: float = 0.5
    added_weight: float = 0.5
    joints: tuple[int, ...] = LOWER


def refine_person(keypoints17: np.ndarray, box_xywh: np.ndarray, teacher_xy: np.ndarray,
                  teacher_score: np.ndarray, rules: RefineRules) -> tuple[np.ndarray, np.ndarray, Counter]:
    """One person: `(17,3)` labels + teacher `(17,2)`, `(17,)` → refined `(17,3)`, weights `(17,)`, counts."""
    kps = np.asarray(keypoints17, np.float64).copy()
    norm = max(float(box_xywh[2]), float(box_xywh[3]))
    counts: Counter = Counter()
    joints = list(rules.joints)
    if _swap_fixes(kps, teacher_xy, teacher_score, norm, rules):
        kps = kps[list(COCO_FLIP_PERM)]
        counts["persons left/right fixed"] += 1
    weights = (kps[:, 2] > 0).astype(np.float64)
    for j in joints:
        confident = teacher_score[j] >= rules.confident_score
        if kps[j, 2] <= 0:
            if teacher_score[j] >= rules.add_score:
                kps[j] = [teacher_xy[j, 0], teacher_xy[j, 1], 1]
                weights[j] = rules.added_weight
                counts["added"] += 1
            continue
        distance = float(np.linalg.norm(kps[j, :2] - teacher_xy[j])) / norm
        if distance <= rules.agree and teacher_score[j] >= rules.snap_score:
            kps[j, :2] = teacher_xy[j]
            counts["snapped"] += 1
        elif distance <= rules.agree:
            counts["kept"] += 1
        elif confident:
            weights[j] = 0.0
            counts["dropped"] += 1
        else:
            weights[j] = rules.unsure_weight
            counts["kept at lower weight"] += 1
    return kps, weights, counts


def _swap_fixes(kps: np.ndarray, teacher_xy: np.ndarray, teacher_score: np.ndarray, norm: float,
                rules: RefineRules) -> bool:
    """True when the legs' labels agree with a confident teacher only after swapping left and right."""
    joints = [j for j in rules.joints
              if kps[j, 2] > 0 and kps[COCO_FLIP_PERM[j], 2] > 0
              and teacher_score[j] >= rules.confident_score]
    if len(joints) < 4:
        return False
    as_is = np.linalg.norm(kps[joints, :2] - teacher_xy[joints], axis=1) / norm
    swapped_idx = [COCO_FLIP_PERM[j] for j in joints]
    swapped = np.linalg.norm(kps[swapped_idx, :2] - teacher_xy[joints], axis=1) / norm
    return bool((swapped <= rules.agree).all() and (as_is > rules.agree).sum() >= 2)


def refine_coco(annotations: str | Path, images: str | Path, teacher: MoveNetTeacher, out: str | Path,
                rules: RefineRules = RefineRules(), flip: bool = True, progress: bool = True) -> Counter:
    """Write the refined copy of `annotations` to `out` (atomically); returns the counts."""
    annotations, images, out = Path(annotations), Path(images), Path(out)
    refined = read_for_copy(annotations, out)
    counts: Counter = Counter()
    for ann, box, pose in teacher_poses(annotations, refined, images, teacher, flip=flip, counts=counts,
                                        desc="refine", progress=progress, needs_keypoints=True):
        kps = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        new, weights, person_counts = refine_person(kps, box, pose.points, pose.scores, rules)
        counts.update(person_counts)
        counts["persons"] += 1
        ann["keypoints"] = [round(float(v), 2) for v in new.reshape(-1)]
        ann["num_keypoints"] = int((new[:, 2] > 0).sum())
        ann["keypoint_weights"] = [round(float(w), 3) for w in weights]
        ann[TEACHER_FIELD] = pose.coco_field()  # distillation targets, at no extra cost
    refined.setdefault("info", {})
    refined["info"] = {**refined["info"], "squatpose_refinement": {
        "source": str(annotations), "teacher": teacher.path.name, "flip": flip,
        "rules": {k: v for k, v in rules.__dict__.items() if k != "joints"},
        "joints": [COCO_NAMES[j] for j in rules.joints], "counts": dict(counts)}}
    atomic.write_text(out, json.dumps(refined))
    return counts
