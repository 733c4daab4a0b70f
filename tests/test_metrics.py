"""Metrics on hand-made cases whose values are worked out in the comments."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from squatpose.joints import COCO_NAMES, get_joint_set
from squatpose.pose.evaluation.metrics import (
    bbox_norm,
    format_pck_table,
    oks,
    oks_ap,
    pck,
    torso_norm,
)

LOWER6 = get_joint_set("lower6")
NAMES = LOWER6.names  # left_hip, right_hip, left_knee, right_knee, left_ankle, right_ankle
NAN = math.nan


# ------------------------------------------------------------------------------------------ norms
def test_bbox_norm_is_larger_side():
    np.testing.assert_array_equal(bbox_norm([[0, 0, 30, 40], [5, 5, 50, 20]]), [40.0, 50.0])
    with pytest.raises(ValueError):
        bbox_norm([[0, 0, 30]])


def _skeleton(**joints):
    """COCO (17, 3) with the given joints labelled (v=2); others unlabelled with garbage coords."""
    kp = np.zeros((17, 3))
    kp[:, :2] = 999.0
    for name, xy in joints.items():
        kp[COCO_NAMES.index(name)] = (*xy, 2)
    return kp


def test_torso_norm_diagonals():
    gt = np.stack([
        # ls–rh = 50 (3-4-5), rs–lh = 30 → mean 40
        _skeleton(left_shoulder=(0, 0), right_hip=(30, 40), right_shoulder=(30, 0), left_hip=(30, 30)),
        # only ls–rh available → 50 (rs is unlabelled, garbage coordinates ignored)
        _skeleton(left_shoulder=(0, 0), right_hip=(30, 40), left_hip=(1, 1)),
        # ls and lh only: no diagonal → NaN
        _skeleton(left_shoulder=(0, 0), left_hip=(0, 40)),
        # only rs–lh available → 30
        _skeleton(right_shoulder=(30, 0), left_hip=(30, 30)),
    ])
    out = torso_norm(gt)
    np.testing.assert_allclose(out[[0, 1, 3]], [40.0, 50.0, 30.0])
    assert np.isnan(out[2])


# -------------------------------------------------------------------------------------------- PCK
def _pck_case():
    """2 counted persons + 2 skipped (NaN and 0 norm); distances along a 3-4-5 direction.

    person 0, norm 100 (thresholds 5/10/20):  j0 4.9, j1 5.1, j2 9.9, j3 10.1, j4 unlabelled (exact),
                                             j5 NaN prediction
    person 1, norm 200 (thresholds 10/20/40): j0 9.9, j1 exact but pred_valid False, j2 20.1,
                                             j3, j4 unlabelled, j5 50
    persons 2, 3: all labelled and exact, norm NaN / 0 → not counted
    counts = [2, 2, 2, 1, 0, 2] (9 joints)
    """
    unit = np.array([0.6, 0.8])
    gt = np.arange(4 * 6 * 2, dtype=float).reshape(4, 6, 2) * 3.0
    dist = np.array([[4.9, 5.1, 9.9, 10.1, 0.0, 0.0],
                     [9.9, 0.0, 20.1, 0.0, 0.0, 50.0],
                     np.zeros(6), np.zeros(6)])
    pred = gt + dist[..., None] * unit
    pred[0, 5] = NAN
    labelled = np.ones((4, 6), bool)
    labelled[0, 4] = labelled[1, 3] = labelled[1, 4] = False
    valid = np.ones((4, 6), bool)
    valid[1, 1] = False
    norm = np.array([100.0, 200.0, NAN, 0.0])
    return pred, gt, labelled, norm, valid


def test_pck_thresholds_pooling_and_exclusions():
    pred, gt, labelled, norm, valid = _pck_case()
    res = pck(pred, gt, labelled, norm, alphas=(0.05, 0.1, 0.2), pred_valid=valid)
    np.testing.assert_array_equal(res.counts, [2, 2, 2, 1, 0, 2])
    # @0.05: only j0 (4.9 ≤ 5, 9.9 ≤ 10); 5.1 > 5 fails
    np.testing.assert_allclose(res.per_joint[0.05], [100, 0, 0, 0, NAN, 0])
    # @0.1: j1 5.1 ok (p1's invalid prediction wrong), j2 9.9 ok / 20.1 not, j3 10.1 > 10
    np.testing.assert_allclose(res.per_joint[0.1], [100, 50, 50, 0, NAN, 0])
    # @0.2: 20.1 ≤ 40 and 10.1 ≤ 20 now ok; NaN prediction and 50 > 40 still wrong
    np.testing.assert_allclose(res.per_joint[0.2], [100, 50, 100, 100, NAN, 0])
    # pooled over the 9 counted joints, not the mean of per-joint values (20 / 40 / 70)
    assert res.pooled[0.05] == pytest.approx(100 * 2 / 9)
    assert res.pooled[0.1] == pytest.approx(100 * 4 / 9)
    assert res.pooled[0.2] == pytest.approx(100 * 6 / 9)
    assert res.pooled[0.2] != pytest.approx(np.nanmean(res.per_joint[0.2]))
    # grouped left+right: hip j0,j1 (4), knee j2,j3 (3), ankle j4,j5 (2)
    grouped = res.grouped(NAMES)
    assert list(grouped) == ["hip", "knee", "ankle"]
    assert [grouped["hip"][a] for a in res.alphas] == pytest.approx([50, 75, 75])
    assert [grouped["knee"][a] for a in res.alphas] == pytest.approx([0, 100 / 3, 100])
    assert [grouped["ankle"][a] for a in res.alphas] == pytest.approx([0, 0, 0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.alphas = (0.5,)


def test_pck_pred_valid_matters_and_skipped_persons_do_not_count():
    pred, gt, labelled, norm, valid = _pck_case()
    without_valid = pck(pred, gt, labelled, norm, alphas=(0.05,))
    # p1 j1 is exact, so when not flagged invalid it becomes correct
    np.testing.assert_allclose(without_valid.per_joint[0.05], [100, 50, 0, 0, NAN, 0])
    # giving the skipped persons a valid norm adds 12 exact joints: (2 + 12) / (9 + 12)
    norm2 = np.array([100.0, 200.0, 100.0, 100.0])
    res = pck(pred, gt, labelled, norm2, alphas=(0.05,), pred_valid=valid)
    assert res.pooled[0.05] == pytest.approx(100 * 14 / 21)


def test_pck_nothing_counted_is_nan_and_bad_shapes_raise():
    gt = np.zeros((1, 6, 2))
    res = pck(gt, gt, np.zeros((1, 6), bool), np.array([100.0]))
    assert all(math.isnan(v) for v in res.pooled.values())
    assert res.counts.sum() == 0
    with pytest.raises(ValueError):
        pck(np.zeros((1, 5, 2)), gt, np.ones((1, 6), bool), np.array([100.0]))
    with pytest.raises(ValueError):
        pck(gt, gt, np.ones((1, 6), bool), np.array([100.0, 1.0]))


def test_pck_table_and_dict():
    pred, gt, labelled, norm, valid = _pck_case()
    res = pck(pred, gt, labelled, norm, pred_valid=valid)
    text = format_pck_table(res, NAMES, title="val lower6")
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert text.splitlines()[0] == "val lower6"
    assert rows["joint"] == ["n", "PCK@0.05", "PCK@0.1", "PCK@0.2"]
    assert rows["left_hip"] == ["2", "100.0", "100.0", "100.0"]
    assert rows["right_knee"] == ["1", "0.0", "0.0", "100.0"]
    assert rows["left_ankle"] == ["0", "-", "-", "-"]
    assert rows["pooled"] == ["9", "22.2", "44.4", "66.7"]
    assert rows["mean"] == ["of", "joints", "20.0", "40.0", "70.0"]
    assert rows["left+right"] == ["hip", "knee", "ankle", "all"]
    assert rows["n"] == ["4", "3", "2", "9"]
    assert rows["PCK@0.1"] == ["75.0", "33.3", "0.0", "44.4"]
    assert res.table(NAMES) == format_pck_table(res, NAMES)

    d = json.loads(json.dumps(res.to_dict(NAMES), allow_nan=False))
    assert d["pooled"]["0.1"] == pytest.approx(100 * 4 / 9)
    assert d["per_joint"]["0.2"]["right_knee"] == 100.0
    assert d["per_joint"]["0.2"]["left_ankle"] is None
    assert d["counts"]["left_ankle"] == 0
    assert d["grouped"]["knee"]["0.2"] == 100.0
    assert res.to_dict()["per_joint"]["0.05"][0] == 100.0


# -------------------------------------------------------------------------------------------- OKS
def test_oks_hand_computed():
    sigmas = np.array([0.1, 0.05, 0.2])
    gt = np.array([[10, 10, 2], [50, 50, 1], [0, 0, 0]], float)
    pred = np.array([[16, 18], [50, 50], [1e6, -1e6]], float)  # j0 off by 10 px, j2 unlabelled
    # j0: k = 0.2, e = 10² / (2 · 10000 · 0.04) = 0.125; j1 exact → 1
    assert oks(pred, gt, 10000.0, sigmas) == pytest.approx((math.exp(-0.125) + 1) / 2, rel=1e-12)
    assert math.isnan(oks(pred, np.zeros((3, 3)), 10000.0, sigmas))


def _coco17(offset=(0.0, 0.0), scale=1.0):
    """COCO 17×3 with the six lower joints labelled; non-set joints labelled with garbage."""
    kp = np.zeros((17, 3))
    kp[:, :2] = (-5000.0, 7000.0)
    kp[:, 2] = 2
    for i, c in enumerate(LOWER6.coco_indices):
        kp[c] = (offset[0] + scale * (20 + 10 * i), offset[1] + scale * (30 + 25 * i), 2)
    return kp


def _gt(kp, image_id=1, area=10000.0, bbox=(10, 20, 100, 150), ann_id=1, **extra):
    ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": list(bbox),
           "keypoints": kp.ravel().tolist(), "iscrowd": 0, **extra}
    if area is not None:
        ann["area"] = area
    return ann


def _pred(kp, image_id=1, score=0.9):
    return {"image_id": image_id, "ann_id": 1, "category_id": 1,
            "keypoints": np.asarray(kp, float).ravel().tolist(), "score": score}


def test_oks_ap_perfect_prediction_with_garbage_outside_the_set():
    gt_kp = _coco17()
    pred_kp = gt_kp.copy()
    outside = [i for i in range(17) if i not in LOWER6.coco_indices]
    pred_kp[outside, :2] = (1e6, -3e5)  # would ruin OKS (and the area) if not dropped
    # GT id 0 would be taken as "unmatched" by COCOeval: ids are reassigned internally
    res = oks_ap([_gt(gt_kp, ann_id=0)], [_pred(pred_kp)], LOWER6)
    assert set(res) == {"AP", "AP50", "AP75", "AP_M", "AP_L", "AR"}
    for key in ("AP", "AP50", "AP75", "AP_L", "AR"):
        assert res[key] == pytest.approx(100.0)
    assert math.isnan(res["AP_M"])  # area 10000 > 96²: no medium GT, COCO's -1 → NaN


def test_oks_ap_shift_to_oks_062():
    # shift joint i by d_i = k_i · s · sqrt(2 ln(1/0.62)), k = 2σ, s² = area → every term 0.62
    area = 10000.0
    d = 2 * LOWER6.sigmas * math.sqrt(area) * math.sqrt(2 * math.log(1 / 0.62))
    gt_kp = _coco17()
    pred_kp = gt_kp.copy()
    pred_kp[list(LOWER6.coco_indices), 0] += d * 0.6
    pred_kp[list(LOWER6.coco_indices), 1] -= d * 0.8
    assert oks(LOWER6.from_coco(pred_kp), LOWER6.from_coco(gt_kp), area, LOWER6.sigmas) \
        == pytest.approx(0.62)
    # area given (10000) wins over bbox w·h (15000, which would give OKS 0.727 and AP 50)
    res = oks_ap([_gt(gt_kp, area=area)], [_pred(pred_kp)], LOWER6)
    assert res["AP50"] == pytest.approx(100.0)
    assert res["AP75"] == pytest.approx(0.0)
    # matched at thresholds 0.50, 0.55, 0.60 of the ten → AP = AR = 30
    assert res["AP"] == pytest.approx(30.0)
    assert res["AR"] == pytest.approx(30.0)


def test_oks_ap_gt_without_set_joints_is_ignored():
    person = _gt(_coco17(), ann_id=1)
    face_kp = np.zeros((17, 3))
    face_kp[[0, 1, 5], :] = [(400, 300, 2), (405, 295, 2), (420, 340, 2)]  # nose, eye, shoulder
    face = _gt(face_kp, ann_id=2, bbox=(390, 280, 60, 80), area=None)
    # a higher-scored prediction inside the face person's box: matched to an ignored GT, so neither
    # a false positive (would make AP 50) nor a missed positive (would make AR 50)
    on_face = _coco17(offset=(380, 260), scale=0.5)
    preds = [_pred(_coco17(), score=0.5), _pred(on_face, score=0.95)]
    res = oks_ap([person, face], preds, LOWER6)
    assert res["AP"] == pytest.approx(100.0)
    assert res["AR"] == pytest.approx(100.0)
    # control: a second person WITH lower-body labels and no prediction halves recall;
    # AP = precision 1 up to recall 0.5 = 51 of 101 recall points
    other = _gt(_coco17(offset=(600, 0)), ann_id=3)
    res = oks_ap([person, other], [_pred(_coco17())], LOWER6)
    assert res["AP"] == pytest.approx(100 * 51 / 101)
    assert res["AR"] == pytest.approx(50.0)


def test_oks_ap_area_from_bbox_medium_range():
    # no 'area': bbox 60 × 50 = 3000 is in COCO's medium range (32², 96²]
    kp = _coco17(scale=0.3)
    res = oks_ap([_gt(kp, area=None, bbox=(0, 0, 60, 50))], [_pred(kp)], LOWER6)
    assert res["AP_M"] == pytest.approx(100.0)
    assert math.isnan(res["AP_L"])


def test_oks_ap_no_predictions_and_errors():
    res = oks_ap([_gt(_coco17())], [], LOWER6)
    assert res["AP"] == 0.0 and res["AR"] == 0.0 and math.isnan(res["AP_M"])
    assert all(math.isnan(v) for v in oks_ap([], [], LOWER6).values())
    with pytest.raises(ValueError, match="image ids"):
        oks_ap([_gt(_coco17())], [_pred(_coco17(), image_id=99)], LOWER6)
    with pytest.raises(ValueError, match="17\\*3"):
        oks_ap([_gt(_coco17())], [_pred(np.zeros((6, 3)))], LOWER6)


def test_oks_ap_nan_prediction_is_missing_not_a_crash():
    gt_kp = _coco17(offset=(500, 500))  # far from (0, 0), where a missing joint is written
    pred_kp = gt_kp.copy()
    pred_kp[LOWER6.coco_indices[0], :2] = NAN  # one of six joints missing → OKS ≈ 5/6
    res = oks_ap([_gt(gt_kp, bbox=(510, 520, 100, 150))], [_pred(pred_kp)], LOWER6)
    # matched at 0.50 … 0.80 (7 thresholds), not at 0.85 … 0.95
    assert res["AP"] == pytest.approx(70.0)


def test_reliability_bins_joints_by_score() -> None:
    from squatpose.pose.evaluation.metrics import reliability

    gt = np.zeros((4, 2, 2))
    pred = gt.copy()
    pred[0, 0] = [5, 0]    # 5 px off with norm 100: correct at 0.1
    pred[1, 1] = [20, 0]   # wrong at 0.1
    scores = np.array([[0.95, 0.15], [0.95, 0.15], [0.55, 0.55], [0.55, 0.0]])
    labelled = np.ones((4, 2), bool)
    labelled[3, 1] = False  # not counted anywhere
    rows = reliability(pred, gt, labelled, np.full(4, 100.0), scores)
    by_bin = {tuple(r["bin"]): r for r in rows}
    assert by_bin[(0.9, 1.0)]["joints"] == 2 and by_bin[(0.9, 1.0)]["pck"] == 100.0
    assert by_bin[(0.1, 0.2)]["joints"] == 2 and by_bin[(0.1, 0.2)]["pck"] == 50.0
    assert by_bin[(0.5, 0.6)]["joints"] == 3 and by_bin[(0.5, 0.6)]["mean_score"] == pytest.approx(0.55)
    assert sum(r["joints"] for r in rows) == 7
