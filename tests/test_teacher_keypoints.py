"""Distillation: teacher keypoints stored with COCO data, read into records, encoded as soft targets, trained
on."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from test_teacher_data import write_constant_movenet

from squatpose.cli import main
from squatpose.geometry import apply_affine, invert_affine
from squatpose.joints import get_joint_set
from squatpose.media.images import read_image_rgb
from squatpose.pose.checkpoint import read_checkpoint
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import AnnotationError, PoseDataset, load_records
from squatpose.pose.data.teacher import MoveNetTeacher
from squatpose.pose.data.teacher_keypoints import add_teacher_keypoints
from squatpose.pose.training.config import AugmentConfig, load_config

LOWER6 = get_joint_set("lower6")
CODEC = HeatmapCodec((96, 128), 4, 1.5)
NORM = ((127.0,) * 3, (128.0,) * 3)
REAL_TEACHER = REPO.parent / "shared" / "teachers" / "movenet-thunder.onnx"


def spread_teacher(tmp_path: Path) -> MoveNetTeacher:
    """A constant teacher whose 17 keypoints spread over the crop, scored 0.1 ... 0.9, left ≠ right."""
    out = np.zeros((17, 3))
    out[:, 0] = np.linspace(0.25, 0.8, 17)                        # y
    out[:, 1] = np.where(np.arange(17) % 2, 0.4, 0.58)            # x: left joints (odd) left of right ones
    out[:, 2] = np.linspace(0.1, 0.9, 17).round(3)
    return MoveNetTeacher(write_constant_movenet(tmp_path / "spread.onnx", out))


@pytest.fixture(scope="module")
def teacher_coco(tmp_path_factory, tiny_coco) -> tuple[Path, Path, MoveNetTeacher]:
    """The tiny set with `teacher_keypoints` from the constant teacher."""
    folder = tmp_path_factory.mktemp("teacher_coco")
    teacher = spread_teacher(folder)
    annotations, images = tiny_coco
    out = folder / "with_teacher.json"
    counts = add_teacher_keypoints(annotations, images, teacher, out, progress=False)
    assert counts == {"persons": 8}
    return out, images, teacher


def test_teacher_keypoints_round_trip(teacher_coco, tiny_coco) -> None:
    out, images, teacher = teacher_coco
    source, _ = tiny_coco
    before, after = json.loads(source.read_text()), json.loads(out.read_text())
    assert [a["keypoints"] for a in after["annotations"]] == [a["keypoints"] for a in before["annotations"]]
    assert after["info"]["squatpose_teacher_keypoints"]["counts"] == {"persons": 8}
    for ann, record in zip(after["annotations"], load_records(out, images, LOWER6), strict=True):
        pose = teacher.predict(read_image_rgb(record.image_path), np.asarray(ann["bbox"]), flip=True)
        expected = np.concatenate([pose.points, pose.scores[:, None]], axis=1)
        np.testing.assert_allclose(np.reshape(ann["teacher_keypoints"], (17, 3)), expected, atol=0.005)
        np.testing.assert_allclose(record.teacher, LOWER6.from_coco(expected), atol=0.005)
    assert all(r.teacher is None for r in load_records(source, images, LOWER6))


@pytest.mark.parametrize("values", [[1.0] * 50, [0.5] * 50 + [1.5], [float("nan")] * 51, ["x"] * 51])
def test_bad_teacher_keypoints_name_the_file_and_annotation(tmp_path, tiny_coco, values) -> None:
    source, images = tiny_coco
    data = json.loads(source.read_text())
    data["annotations"][2]["teacher_keypoints"] = values
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="bad.json: annotation id 102 has 'teacher_keypoints' that are "
                                              "not 51"):
        load_records(path, images, LOWER6)


def test_augmented_teacher_maps_peak_where_the_teacher_point_lands(teacher_coco) -> None:
    out, images, _ = teacher_coco
    records = load_records(out, images, LOWER6)
    augment = AugmentConfig(flip_prob=1.0, rotation_prob=1.0, rotation_deg=40.0, color_jitter=0.0)
    dataset = PoseDataset(records, CODEC, LOWER6, *NORM, augment=augment, teacher_min_score=0.0)
    checked = 0
    for index, record in enumerate(records):
        sample = dataset[(2, index)]
        matrix = sample["matrix"].numpy()
        assert abs(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))) > 0.5  # really rotated
        decoded, _ = CODEC.decode(sample["teacher_heatmaps"].numpy(), modulate=False)
        flipped = record.teacher[list(LOWER6.flip_perm)]  # mirrored crop: the left slot holds the right joint
        weights = sample["teacher_weights"].numpy()
        checked += int((weights > 0).sum())
        np.testing.assert_allclose(decoded[weights > 0], apply_affine(flipped[:, :2], matrix)[weights > 0],
                                   atol=0.02)
        back = apply_affine(decoded, invert_affine(matrix))
        np.testing.assert_allclose(back[weights > 0], flipped[weights > 0, :2], atol=0.05)
        np.testing.assert_allclose(weights[weights > 0], flipped[weights > 0, 2], atol=1e-6)
        assert not torch.allclose(sample["teacher_heatmaps"], sample["heatmaps"])  # not the labels
    assert checked >= 4 * len(records)  # most teacher points land inside the augmented crops


def test_teacher_weights_follow_score_min_score_and_crop(teacher_coco) -> None:
    out, images, _ = teacher_coco
    record = load_records(out, images, LOWER6)[0]
    teacher = record.teacher.copy()
    teacher[:, 2] = [0.9, 0.2, 0.5, 0.3, 0.29, 1.0]
    scored = dataclasses.replace(record, teacher=teacher)
    outside = teacher.copy()
    outside[0, :2] = [-300.0, -300.0]  # far outside the crop
    without = dataclasses.replace(record, teacher=None)
    dataset = PoseDataset([scored, dataclasses.replace(record, teacher=outside), without],
                          CODEC, LOWER6, *NORM,
                          teacher_min_score=0.3)
    np.testing.assert_allclose(dataset[0]["teacher_weights"].numpy(), [0.9, 0, 0.5, 0.3, 0, 1.0], atol=1e-6)
    maps = dataset[0]["teacher_heatmaps"].numpy()
    assert maps[0].max() > 0.8 and maps[1].max() == 0 and maps[4].max() == 0
    np.testing.assert_allclose(dataset[1]["teacher_weights"].numpy(), [0, 0, 0.5, 0.3, 0, 1.0], atol=1e-6)
    assert dataset[2]["teacher_weights"].sum() == 0 and dataset[2]["teacher_heatmaps"].abs().sum() == 0
    batch = torch.utils.data.default_collate([dataset[i] for i in range(3)])  # with and without teacher
    assert batch["teacher_heatmaps"].shape == batch["heatmaps"].shape == (3, 6, 32, 24)
    plain = PoseDataset([scored], CODEC, LOWER6, *NORM)[0]  # off by default: no teacher keys
    assert "teacher_heatmaps" not in plain and "teacher_weights" not in plain


def test_cli_writes_teacher_keypoints_with_the_real_teacher(tmp_path, tiny_coco, capsys) -> None:
    if not REAL_TEACHER.is_file():
        pytest.skip(f"teacher {REAL_TEACHER} is not present on this machine")
    source, images = tiny_coco
    out = tmp_path / "derived" / "tiny_teacher.json"
    assert main(["data", "teacher-keypoints", "--annotations", str(source), "--images", str(images),
                 "--teacher", str(REAL_TEACHER), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"persons": 8}
    data = json.loads(out.read_text())
    for ann in data["annotations"]:
        values = np.reshape(ann["teacher_keypoints"], (17, 3))
        assert np.isfinite(values).all() and ((values[:, 2] >= 0) & (values[:, 2] <= 1)).all()
        x, y, w, h = ann["bbox"]  # the crop is 1.25 × the larger side around the box: points fall inside it
        side = 1.25 * max(w, h)
        assert (np.abs(values[:, 0] - (x + w / 2)) <= side / 2 + 1).all()
        assert (np.abs(values[:, 1] - (y + h / 2)) <= side / 2 + 1).all()
    assert all(r.teacher is not None for r in load_records(out, images, LOWER6))


def test_cli_bad_inputs_give_one_line_and_no_output(tmp_path, tiny_coco, capsys) -> None:
    source, images = tiny_coco
    teacher = write_constant_movenet(tmp_path / "t.onnx", np.full((17, 3), 0.5))
    out = tmp_path / "out.json"

    def run(annotations: Path, teacher_path: Path, images_dir: Path = images, target: Path = out) -> str:
        code = main(["data", "teacher-keypoints", "--annotations", str(annotations), "--images",
                     str(images_dir),
                     "--teacher", str(teacher_path), "--out", str(target)])
        err = capsys.readouterr().err  # may also hold the progress bar, which starts before the first image
        assert code == 2 and err.count("error:") == 1
        return err

    assert "gone.onnx: teacher model file not found" in run(source, tmp_path / "gone.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    assert "junk.onnx: not a loadable ONNX model" in run(source, junk)
    assert "missing.json: annotation file not found" in run(tmp_path / "missing.json", teacher)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"images": [')
    assert "corrupt.json: not valid JSON" in run(corrupt, teacher)
    err = run(source, teacher, images_dir=tmp_path / "no_images")
    assert "tiny.json" in err and "img000.png: cannot read image" in err
    assert "refusing to overwrite the input" in run(source, teacher, target=source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.json", "junk.onnx", "t.onnx"]


def _train_config(tmp_path: Path, annotations: Path, images: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
data: {{train: [{{annotations: {annotations}, images: {images}}}], num_workers: 0}}
codec: {{input_wh: [64, 64], sigma: 1.5}}
model: {{name: dilated_cnn, pretrained: null}}
train: {{epochs: 1, batch_size: 4, warmup_steps: 2, checkpoint_minutes: 100}}
""")
    return path


def test_fit_without_teacher_keypoints_says_which_command_makes_them(tmp_path, tiny_coco, capsys) -> None:
    cfg, out = _train_config(tmp_path, *tiny_coco), tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "train.distill_weight=0.5"]) == 2
    err = capsys.readouterr().err
    assert "train.distill_weight=0.5 needs teacher keypoints" in err
    assert "squatpose data teacher-keypoints" in err
    assert not out.exists()


def test_fit_with_distillation_runs_and_off_changes_nothing(tmp_path, tiny_coco, teacher_coco) -> None:
    with_teacher, images, _ = teacher_coco
    runs = {}
    for name, train_file, weight in (("plain", tiny_coco[0], 0.0), ("ignored", with_teacher, 0.0),
                                     ("distilled", with_teacher, 0.5)):
        out = tmp_path / name
        assert main(["train", "--config", str(_train_config(tmp_path, train_file, images)), "--out", str(out),
                     "--set", f"train.distill_weight={weight}"]) == 0
        runs[name] = (json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["train_loss"],
                      read_checkpoint(out / "last.pt"))
    (plain_loss, plain), (ignored_loss, ignored), (loss, distilled) = runs.values()
    # off (the default): teacher keypoints in the data change nothing, to the bit
    assert ignored_loss == plain_loss
    assert all(torch.equal(plain["state_dict"][k], ignored["state_dict"][k]) for k in plain["state_dict"])
    assert np.isfinite(loss) and loss != plain_loss
    assert distilled["config"]["train"]["distill_weight"] == 0.5
    assert plain["config"]["train"]["distill_weight"] == 0
    assert distilled["config"]["train"]["distill_min_score"] == 0.3
    assert "distill_weight: 0.5" in (tmp_path / "distilled" / "config.yaml").read_text()


def test_distill_recipe_is_v2_on_teacher_files() -> None:
    v2, distill = load_config("efflite0_v2"), load_config("efflite0_v2_distill")
    assert distill.train.distill_weight == 0.5 and v2.train.distill_weight == 0
    assert dataclasses.replace(distill.train, distill_weight=0.0) == v2.train
    assert dataclasses.replace(distill.data, train=v2.data.train) == v2.data
    assert (distill.codec, distill.model) == (v2.codec, v2.model)
    for plain, teacher in zip(v2.data.train, distill.data.train, strict=True):  # same images, same repeats
        assert (teacher.images, teacher.repeat) == (plain.images, plain.repeat)
        assert teacher.annotations.endswith("_teacher.json") and teacher.annotations != plain.annotations
