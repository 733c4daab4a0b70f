import dataclasses
import json

import numpy as np
import pytest
from conftest import shared_or_skip

from squatpose.geometry import apply_affine, invert_affine
from squatpose.joints import get_joint_set
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import (
    AnnotationError,
    LoadReport,
    PoseDataset,
    load_records,
)
from squatpose.pose.training.config import AugmentConfig

LOWER6 = get_joint_set("lower6")
CODEC = HeatmapCodec((96, 128), 4, 1.5)
NORM = ((127.0,) * 3, (128.0,) * 3)


def _decode_to_image(sample) -> np.ndarray:
    points_in, _ = CODEC.decode(sample["heatmaps"].numpy(), modulate=False)
    return apply_affine(points_in, invert_affine(sample["matrix"].numpy()))


def test_lsp_first_person_hand_checked():
    ann = shared_or_skip("lsp", "lsp_train.json")
    records = load_records(ann, ann.parent / "images", LOWER6)
    first = next(r for r in records if r.image_id == 1)
    # Values read by hand from LSP im0001: left hip, right hip, left knee, right knee, left ankle, right
    # ankle.
    np.testing.assert_allclose(first.keypoints[:, :2], [[43.01, 85.08], [28.94, 84.68], [42.2, 111.2],
                                                        [30.55, 117.23], [42.6, 132.9], [29.75, 143.35]])
    assert first.image_wh == (70, 160)
    dataset = PoseDataset([first], CODEC, LOWER6, *NORM)
    sample = dataset[0]
    assert sample["image"].shape == (3, 128, 96)
    np.testing.assert_array_equal(sample["weights"].numpy(), np.ones(6))
    # Crop → heatmap → decode → inverse warp gives back the hand-checked image pixels.
    np.testing.assert_allclose(_decode_to_image(sample), first.keypoints[:, :2], atol=0.01)


def test_augmented_sample_maps_back_to_ground_truth(tiny_coco):
    ann, images = tiny_coco
    records = load_records(ann, images, LOWER6)
    augment = AugmentConfig(flip_prob=1.0, rotation_prob=1.0, lower_body_prob=0.5, color_jitter=0.3)
    dataset = PoseDataset(records, CODEC, LOWER6, *NORM, augment=augment)
    for index in range(len(records)):
        sample = dataset[(3, index)]
        decoded = _decode_to_image(sample)
        weights = sample["weights"].numpy()
        # With a flip the left slot holds the person's right joint: swap back before comparing.
        expected = records[index].keypoints[list(LOWER6.flip_perm), :2]
        np.testing.assert_allclose(decoded[weights > 0], expected[weights > 0], atol=0.02)
    assert dataset[(3, 0)]["image"].numpy().tolist() == dataset[(3, 0)]["image"].numpy().tolist()
    assert not np.array_equal(dataset[(3, 0)]["image"].numpy(), dataset[(4, 0)]["image"].numpy())


def test_joint_outside_crop_gets_weight_zero(tiny_coco):
    ann, images = tiny_coco
    record = load_records(ann, images, LOWER6)[0]
    kps = record.keypoints.copy()
    kps[4, :2] = [-200.0, -200.0]  # far outside any crop of this person
    dataset = PoseDataset([dataclasses.replace(record, keypoints=kps)], CODEC, LOWER6, *NORM)
    weights = dataset[0]["weights"].numpy()
    assert weights[4] == 0 and weights.sum() == 5


def _write(tmp_path, data) -> str:
    path = tmp_path / "ann.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_bad_annotation_files_name_the_file(tmp_path):
    with pytest.raises(AnnotationError, match="not found"):
        load_records(tmp_path / "missing.json", tmp_path, LOWER6)
    with pytest.raises(AnnotationError, match="ann.json: not valid JSON"):
        load_records(_write(tmp_path, "{oops"), tmp_path, LOWER6)
    with pytest.raises(AnnotationError, match="no 'annotations' list"):
        load_records(_write(tmp_path, {"images": []}), tmp_path, LOWER6)
    bad = {"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
           "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5],
                            "keypoints": [1, 2, 2]}]}
    with pytest.raises(AnnotationError, match="annotation id 7 has 3 keypoint values"):
        load_records(_write(tmp_path, bad), tmp_path, LOWER6)


def test_unusable_persons_are_skipped_and_counted(tiny_coco, tmp_path):
    ann, images = tiny_coco
    data = json.loads(ann.read_text())
    data["annotations"][0]["bbox"] = [5, 5, 0, 0]                 # zero-size box
    data["annotations"][1]["bbox"] = [500, 500, 10, 10]           # outside the 160×128 image
    data["annotations"][2]["keypoints"] = [0] * 51                # no keypoints
    data["annotations"][3]["iscrowd"] = 1
    data["images"][4]["file_name"] = "does_not_exist.png"
    report = LoadReport()
    records = load_records(_write(tmp_path, data), images, LOWER6, report=report)
    assert len(records) == len(data["annotations"]) - 5 == report.kept
    assert report.skipped == {"zero-size or malformed box": 1, "box outside the image": 1,
                              "fewer than 1 labelled joints": 1, "crowd": 1, "image file missing": 1}


def test_unreadable_image_is_substituted_not_a_worker_crash(tiny_coco, tmp_path):
    ann, images = tiny_coco
    records = load_records(ann, images, LOWER6)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    records[0] = dataclasses.replace(records[0], image_path=str(broken))
    sample = PoseDataset(records, CODEC, LOWER6, *NORM)[0]
    assert sample["substituted"] == 1 and sample["index"] == 1


def test_real_coco_sample_loads_with_filters():
    ann = shared_or_skip("coco_mini", "annotations", "person_keypoints_val2017.json")
    images = ann.parent.parent / "val2017"
    report = LoadReport()
    all_lower = load_records(ann, images, LOWER6, min_joints=6, report=report)
    assert len(all_lower) == 22  # the shared README: 22 val persons with all six lower joints
    person = next(r for r in all_lower if r.ann_id == 200887)
    np.testing.assert_allclose(person.keypoints[:, :2], [[419, 214], [458, 215], [411, 274], [458, 273],
                                                          [402, 333], [465, 334]])
    assert report.skipped["fewer than 6 labelled joints"] > 0 and report.kept == 22
