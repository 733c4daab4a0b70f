"""Calibration crops: GT box, tracker-like shifted boxes and empty boxes, and which joints count as right."""
import numpy as np
import pytest

from squatpose.pose.calibration import fit_calibration
from squatpose.pose.calibration_crops import (
    CalibrationCrops,
    CropMix,
    calibration_crops,
    crop_correct,
    crop_region,
    overlaps,
)
from squatpose.pose.data.dataset import PersonRecord

ASPECT = 0.75


def person(image: str, bbox: list[float], image_wh: tuple[int, int] = (640, 480)) -> PersonRecord:
    x, y, w, h = bbox
    kps = np.array([[x + w * 0.4, y + h * 0.5, 2], [x + w * 0.6, y + h * 0.5, 2],
                    [x + w * 0.4, y + h * 0.75, 2],
                    [x + w * 0.6, y + h * 0.75, 2], [x + w * 0.4, y + h, 2], [x + w * 0.6, y + h, 0]])
    return PersonRecord(image, 1, 1, np.array(bbox, np.float64), kps, np.zeros((17, 3)), w * h, image_wh)


PEOPLE = [person("a.jpg", [100, 100, 80, 200]), person("a.jpg", [400, 150, 60, 160]),
          person("b.jpg", [20, 30, 200, 250], (300, 300))]


def test_crops_are_seeded_and_counted_per_kind() -> None:
    mix = CropMix(shifted=3, empty=2, seed=7)
    one, two = (calibration_crops(PEOPLE, PEOPLE, mix, ASPECT) for _ in range(2))
    other = calibration_crops(PEOPLE, PEOPLE, CropMix(shifted=3, empty=2, seed=8), ASPECT)
    np.testing.assert_array_equal([r.bbox for r in one.records], [r.bbox for r in two.records])
    assert not np.allclose(one.records[1].bbox, other.records[1].bbox)
    assert one.kind.count("gt") == 3 and one.kind.count("shifted") == 9 and one.kind.count("empty") == 6
    np.testing.assert_allclose(one.norm[:6], 200.0)  # the GT box's larger side, whatever the crop


def test_shifted_boxes_stay_within_the_mix_bounds() -> None:
    mix = CropMix(shifted=200, empty=0, max_shift=0.5, scale=(0.6, 1.6), seed=0)
    crops = calibration_crops(PEOPLE[:1], PEOPLE, mix, ASPECT)
    gt = PEOPLE[0].bbox
    boxes = np.array([r.bbox for r, k in zip(crops.records, crops.kind) if k == "shifted"])
    factor = boxes[:, 2] / gt[2]
    assert factor.min() >= 0.6 - 1e-9 and factor.max() <= 1.6 + 1e-9 and factor.max() / factor.min() > 2
    np.testing.assert_allclose(boxes[:, 3] / gt[3], factor)  # scaled, not stretched
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    shift = np.abs(centre - (gt[:2] + gt[2:] / 2)) / gt[2:]
    assert shift.max() <= 0.5 + 1e-9 and shift.max() > 0.4
    assert (centre >= 0).all() and (centre[:, 0] <= 639).all() and (centre[:, 1] <= 479).all()


def test_empty_crops_touch_no_person_and_count_every_joint_wrong() -> None:
    crops = calibration_crops(PEOPLE, PEOPLE, CropMix(shifted=0, empty=20, seed=3), ASPECT)
    empty = [(r, i) for i, (r, k) in enumerate(zip(crops.records, crops.kind)) if k == "empty"]
    assert len(empty) == 60
    for record, _ in empty:
        persons = np.array([p.bbox for p in PEOPLE if p.image_path == record.image_path])
        assert not overlaps(crop_region(record.bbox, ASPECT, 1.25), persons)
        assert (record.keypoints[:, 2] == 0).all()
    # The small image b.jpg is mostly its person: its empty crops are centred beyond the image's edge.
    in_b = np.array([r.bbox for r, _ in empty if r.image_path == "b.jpg"])
    centre = in_b[:, :2] + in_b[:, 2:] / 2
    assert len(in_b) == 20 and ((centre < 0) | (centre > 300)).any(axis=1).all()
    xy = np.stack([r.keypoints[:, :2] for r in crops.records])  # a perfect predictor of the labels
    assert not crop_correct(xy, crops)[[i for _, i in empty]].any()


def test_a_crowded_image_gives_no_empty_crop_rather_than_a_wrong_one() -> None:
    crowd = [person("c.jpg", [x, y, 100, 100], (400, 400))
             for x in range(-100, 500, 100) for y in range(-100, 500, 100)]
    crops = calibration_crops(crowd[:1], crowd, CropMix(shifted=0, empty=3), ASPECT)
    assert crops.kind == ["gt"]


def test_joints_are_right_within_a_tenth_of_the_gt_box_and_unlabelled_ones_wrong() -> None:
    record = PEOPLE[0]
    crops = CalibrationCrops([record], np.array([200.0]), ["shifted"])
    xy = record.keypoints[None, :, :2].copy()
    xy[0, 0, 0] += 19.0   # inside 0.1 × 200
    xy[0, 1, 1] += 21.0   # outside
    np.testing.assert_array_equal(crop_correct(xy, crops)[0], [True, False, True, True, True, False])


def test_unknown_image_size_is_refused_naming_the_image() -> None:
    with pytest.raises(ValueError, match="x.jpg: image size unknown"):
        calibration_crops([person("x.jpg", [0, 0, 10, 10], (0, 0))], [], CropMix(), ASPECT)


def test_perturbed_crops_make_the_low_end_of_the_map_informative() -> None:
    # GT boxes hold their person, so their raw peaks stay above ~0.2 and the map is flat below;
    # shifted and empty crops put joints there, mostly wrong, and the map falls towards 0.
    rng = np.random.default_rng(0)
    gt_raw = rng.uniform(0.2, 1.0, 3000)
    gt_right = rng.uniform(size=gt_raw.size) < 0.2 + 0.8 * gt_raw
    gt_only = fit_calibration(gt_raw, gt_right)
    assert gt_only(np.array([0.02]))[0] == pytest.approx(gt_only(np.array([0.2]))[0])
    off_raw = rng.uniform(0.0, 0.4, 3000)
    off_right = rng.uniform(size=off_raw.size) < 1.5 * off_raw
    both = fit_calibration(np.concatenate([gt_raw, off_raw]), np.concatenate([gt_right, off_right]))
    low = both(np.array([0.02, 0.1, 0.2]))
    assert low[0] < 0.1 and low[1] < low[2] - 0.1
    assert (np.diff(both(np.linspace(0, 1, 101))) >= 0).all()
