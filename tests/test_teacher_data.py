"""Teacher-based training data: the MoveNet wrapper, label refinement, dev split, pseudo-labels, oversampling."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_or_skip, write_video

from squatpose.cli import main
from squatpose.joints import get_joint_set
from squatpose.media.video_reader import VideoError
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import PoseDataset, load_records
from squatpose.pose.data.frame_labels import FrameLabelRules, label_frame
from squatpose.pose.data.pseudo_label import PseudoLabelRules, find_videos, pseudo_label_videos
from squatpose.pose.data.refine import RefineRules, refine_coco, refine_person
from squatpose.pose.data.sampling import is_deep_squat, oversample
from squatpose.pose.data.splits import split_coco
from squatpose.pose.data.teacher import MoveNetTeacher, TeacherError

LOWER6 = get_joint_set("lower6")


def write_constant_movenet(path: Path, yx_score: np.ndarray, size: int = 64) -> Path:
    """A MoveNet-format ONNX (`[1,S,S,3]` int32 → `[1,1,17,3]`) whose output is a fixed `(17,3)` array."""
    import onnx
    from onnx import TensorProto, helper

    const = helper.make_tensor("c", TensorProto.FLOAT, [1, 1, 17, 3], np.asarray(yx_score, np.float32).ravel())
    zero = helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])
    nodes = [helper.make_node("Cast", ["input:0"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "z"], ["m0"]),
             helper.make_node("Add", ["c", "m0"], ["Identity:0"])]
    graph = helper.make_graph(nodes, "constant_movenet",
                              [helper.make_tensor_value_info("input:0", TensorProto.INT32, [1, size, size, 3])],
                              [helper.make_tensor_value_info("Identity:0", TensorProto.FLOAT, [1, 1, 17, 3])],
                              initializer=[const, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def centred_teacher(tmp_path: Path, score: float = 0.9) -> MoveNetTeacher:
    out = np.zeros((17, 3))
    out[:, :2], out[:, 2] = 0.5, score
    return MoveNetTeacher(write_constant_movenet(tmp_path / "teacher.onnx", out))


def test_teacher_maps_crop_centre_to_box_centre(tmp_path) -> None:
    teacher = centred_teacher(tmp_path)
    image = np.zeros((120, 200, 3), np.uint8)
    box = np.array([30.0, 10.0, 40.0, 90.0])
    for flip in (False, True):
        pose = teacher.predict(image, box, flip=flip)
        np.testing.assert_allclose(pose.points, np.tile([50.0, 55.0], (17, 1)), atol=1e-4)
        np.testing.assert_allclose(pose.scores, 0.9, atol=1e-6)


def test_teacher_flip_average_swaps_left_and_right(tmp_path) -> None:
    """A teacher that always puts the left hip at the crop's left edge: its mirror run puts the right hip
    there, so after un-mirroring both hips meet at the centre column."""
    out = np.zeros((17, 3))
    out[:, :2], out[:, 2] = 0.5, 0.8
    out[11, 1] = 0.25  # left hip x (normalised)
    teacher = MoveNetTeacher(write_constant_movenet(tmp_path / "t.onnx", out))
    pose = teacher.predict(np.zeros((64, 64, 3), np.uint8), np.array([0.0, 0.0, 51.2, 51.2]), flip=True)
    # crop side = 1.25 × 51.2 = 64 px = the teacher's input: one crop pixel per image pixel
    centre = 25.6 - 0.5 + 0.5  # box centre in image px
    assert pose.points[11, 0] == pytest.approx((centre - 16.0 + centre) / 2, abs=1e-3)
    assert pose.points[12, 0] == pytest.approx((centre + 16.0 + centre) / 2, abs=1e-3)


def test_teacher_rejects_missing_corrupt_and_wrong_models(tmp_path) -> None:
    with pytest.raises(TeacherError, match="nothing.onnx: teacher model file not found"):
        MoveNetTeacher(tmp_path / "nothing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(TeacherError, match="junk.onnx: not a loadable ONNX model"):
        MoveNetTeacher(junk)
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 48])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64, 48])])
    wrong = tmp_path / "wrong.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, wrong)
    with pytest.raises(TeacherError, match="wrong.onnx: not a MoveNet SinglePose model"):
        MoveNetTeacher(wrong)


def _labels(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kps = np.zeros((17, 3))
    for j, (x, y) in points.items():
        kps[j] = [x, y, 2]
    return kps


def test_refine_person_snaps_drops_keeps_and_adds() -> None:
    box = np.array([0.0, 0.0, 50.0, 100.0])  # distances in units of 100 px
    teacher = np.zeros((17, 2))
    teacher[11:17] = [[40, 50], [60, 50], [40, 75], [60, 75], [40, 98], [60, 98]]
    score = np.full(17, 0.9)
    score[13] = 0.3  # unsure about the left knee
    labels = _labels({11: (43, 52),     # agrees with a confident teacher: snapped
                      12: (60, 80),     # 30 px off, confident teacher: dropped
                      13: (20, 75),     # 20 px off, unsure teacher: kept at a lower weight
                      14: (62, 76),     # agrees: snapped
                      15: (40, 99)})    # agrees: snapped; 16 unlabelled: added from the teacher
    kps, weights, counts = refine_person(labels, box, teacher, score, RefineRules())
    assert counts == {"snapped": 3, "dropped": 1, "kept at lower weight": 1, "added": 1}
    np.testing.assert_allclose(kps[11, :2], [40, 50])
    assert weights[12] == 0.0 and weights[13] == 0.5 and weights[16] == 0.5
    np.testing.assert_allclose(kps[13, :2], [20, 75])  # the unsure joint keeps its label position
    assert kps[16, 2] == 1 and weights[11] == 1.0


def test_refine_person_fixes_left_right_swap() -> None:
    box = np.array([0.0, 0.0, 50.0, 100.0])
    teacher = np.zeros((17, 2))
    teacher[11:17] = [[40, 50], [60, 50], [40, 75], [60, 75], [40, 98], [60, 98]]
    swapped = _labels({11: (60, 50), 12: (40, 50), 13: (61, 75), 14: (40, 76), 15: (60, 98), 16: (41, 98)})
    kps, weights, counts = refine_person(swapped, box, teacher, np.full(17, 0.9), RefineRules())
    assert counts["persons left/right fixed"] == 1 and counts["snapped"] == 6 and "dropped" not in counts
    np.testing.assert_allclose(kps[11:17, :2], teacher[11:17])
    assert (weights[11:17] == 1).all()


def test_refine_coco_writes_weights_that_training_reads(tmp_path, tiny_coco) -> None:
    annotations, images = tiny_coco
    before = annotations.read_bytes()
    out = tmp_path / "refined.json"
    counts = refine_coco(annotations, images, centred_teacher(tmp_path, score=0.95), out, progress=False)
    assert annotations.read_bytes() == before
    assert counts["persons"] == 8
    # the centred teacher disagrees with every leg joint (they are far from the box centre): all dropped
    assert counts["dropped"] == 8 * 6 and counts["snapped"] == 0
    refined = json.loads(out.read_text())
    assert refined["info"]["squatpose_refinement"]["counts"]["dropped"] == 48
    records = load_records(out, images, LOWER6)
    assert all(r.joint_weights is not None and (r.training_weights() == 0).all() for r in records)
    # the teacher's own keypoints come along for distillation: the centred teacher puts all at the box centre
    centres = [np.asarray(a["bbox"][:2]) + np.asarray(a["bbox"][2:]) / 2 for a in refined["annotations"]]
    for record, centre in zip(records, centres, strict=True):
        np.testing.assert_allclose(record.teacher, np.tile([*centre, 0.95], (6, 1)), atol=0.01)
    dataset = PoseDataset(records, HeatmapCodec((48, 64), 4, 1.5), LOWER6, (0, 0, 0), (1, 1, 1))
    sample = dataset[0]
    assert float(sample["weights"].sum()) == 0.0 and float(sample["heatmaps"].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="refusing to overwrite"):
        refine_coco(annotations, images, centred_teacher(tmp_path), annotations, progress=False)


def test_split_is_disjoint_complete_and_seeded(tmp_path, tiny_coco) -> None:
    annotations, _ = tiny_coco
    dev, rest = split_coco(annotations, tmp_path / "a", dev_images=3, seed=0)
    dev_ids = {img["id"] for img in json.loads(dev.read_text())["images"]}
    rest_ids = {img["id"] for img in json.loads(rest.read_text())["images"]}
    assert len(dev_ids) == 3 and not dev_ids & rest_ids and len(dev_ids | rest_ids) == 8
    assert {a["image_id"] for a in json.loads(dev.read_text())["annotations"]} == dev_ids
    again, _ = split_coco(annotations, tmp_path / "b", dev_images=3, seed=0)
    assert again.read_text() == dev.read_text()
    with pytest.raises(ValueError, match="--dev must be between 1 and 7"):
        split_coco(annotations, tmp_path / "c", dev_images=8)


def _write_video(path: Path, frames: int = 12, fps: float = 10.0) -> Path:
    images = []
    for i in range(frames):
        frame = np.full((128, 96, 3), 30 + 5 * i, np.uint8)
        cv2.rectangle(frame, (40, 20), (56, 120), (200, 200, 200), -1)
        images.append(frame)
    return write_video(path, images, fps)


def _spread_teacher(tmp_path: Path) -> MoveNetTeacher:
    out = np.zeros((17, 3))
    out[:, 2] = 0.9
    out[:, 0] = np.linspace(0.2, 0.8, 17)  # y spread over the crop
    out[:, 1] = np.where(np.arange(17) % 2, 0.4, 0.6)
    return MoveNetTeacher(write_constant_movenet(tmp_path / "t.onnx", out))


# A constant teacher's keypoints follow the crop, not the image: every jitter check would (rightly) fail.
LENIENT = FrameLabelRules(max_spread=1.0, max_temporal=1.0)


def test_pseudo_label_keeps_confident_frames(tmp_path) -> None:
    teacher = _spread_teacher(tmp_path)
    video = _write_video(tmp_path / "clip.mp4")
    rules = PseudoLabelRules(every_s=0.25, frame=LENIENT, min_pose_change=0.0)
    counts = pseudo_label_videos([video], teacher, tmp_path / "pseudo", rules, progress=False)
    data = json.loads((tmp_path / "pseudo" / "pseudo_labels.json").read_text())
    clip = counts["clips"]["clip.mp4"]
    assert (clip["frames"], clip["sampled"], clip["kept"]) == (12, 4, 4)  # every 0.25 s of 10 fps: 0, 3, 6, 9
    assert clip["joints_labelled"] == 4 * 17 and counts["steps"]["kept"] == 4
    assert [img["frame"] for img in data["images"]] == [0, 3, 6, 9]
    assert all((tmp_path / "pseudo" / "images" / img["file_name"]).is_file() for img in data["images"])
    assert all(a["num_keypoints"] == 17 for a in data["annotations"])
    for ann in data["annotations"]:  # labelled joints are the teacher's; all 17 kept with scores for distillation
        teacher_kps = np.reshape(ann["teacher_keypoints"], (17, 3))
        np.testing.assert_allclose(teacher_kps[:, :2], np.reshape(ann["keypoints"], (17, 3))[:, :2], atol=0.01)
        np.testing.assert_allclose(teacher_kps[:, 2], 0.9, atol=1e-3)
    records = load_records(tmp_path / "pseudo" / "pseudo_labels.json", tmp_path / "pseudo" / "images", LOWER6)
    assert len(records) == 4
    assert json.loads((tmp_path / "pseudo" / "hard.json").read_text())["annotations"] == []  # no student


def test_pseudo_label_drops_near_duplicates_and_marks_hard_frames(tmp_path) -> None:
    teacher = _spread_teacher(tmp_path)
    video = _write_video(tmp_path / "clip.mp4")

    class OffsetStudent:  # a model that misses the knees by a quarter of the box
        joint_names = LOWER6.names

        def __call__(self, image, box):
            xy = np.zeros((6, 2))
            xy[2:4] = box[:2] + box[2:] * 0.25
            return xy

    counts = pseudo_label_videos([video], teacher, tmp_path / "p", PseudoLabelRules(every_s=0.25, frame=LENIENT),
                                 student=OffsetStudent(), progress=False)
    clip = counts["clips"]["clip.mp4"]
    assert (clip["kept"], clip["near_duplicates"], clip["hard"]) == (1, 3, 1)  # the same pose in every frame
    hard = json.loads((tmp_path / "p" / "hard.json").read_text())
    assert len(hard["annotations"]) == 1 and hard["annotations"][0]["student_disagreement"] > 0.1


class ScriptedTeacher:
    """Teacher double: points fixed in the image, one joint that follows the crop, one that jumps over time."""

    def __init__(self) -> None:
        self.base = np.stack([np.linspace(20, 80, 17), np.linspace(10, 110, 17)], axis=1)

    def predict(self, frame, box, flip=True):
        from squatpose.pose.data.teacher import TeacherPose

        points = self.base.copy()
        points[0] = np.asarray(box[:2]) + 5              # joint 0 moves with the crop: unstable
        points[1, 0] += 40 * (frame.mean() > 100)        # joint 1 jumps on bright frames: not steady
        return TeacherPose(points, np.full(17, 0.9))


def test_frame_label_drops_unstable_and_jumping_joints() -> None:
    teacher = ScriptedTeacher()
    dark, bright = np.zeros((120, 100, 3), np.uint8), np.full((120, 100, 3), 200, np.uint8)
    box = np.array([10.0, 5.0, 80.0, 110.0])
    label = label_frame(teacher, dark, box, [dark, bright], FrameLabelRules())
    assert not label.stable[0] and label.stable[1:].all()
    assert not label.steady[1] and label.steady[2:].all()
    assert label.labelled.sum() == 15
    assert label_frame(teacher, dark, box, [dark], FrameLabelRules()).labelled[1]


def test_pseudo_label_skips_unreadable_clips_and_held_out_ones(tmp_path, caplog) -> None:
    teacher = _spread_teacher(tmp_path)
    good = _write_video(tmp_path / "good.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    held_out = _write_video(tmp_path / "spotme_1.mp4")
    videos = find_videos([tmp_path], PseudoLabelRules().exclude)
    assert held_out not in videos and broken in videos and good in videos
    counts = pseudo_label_videos(videos, teacher, tmp_path / "out", PseudoLabelRules(frame=LENIENT), progress=False)
    assert "error" in counts["clips"]["broken.mp4"] and counts["clips"]["good.mp4"]["kept"] >= 1
    assert any("broken.mp4" in r.getMessage() for r in caplog.records)


def test_pseudo_label_bad_inputs_leave_nothing_behind(tmp_path) -> None:
    unsure = centred_teacher(tmp_path, score=0.1)
    video = _write_video(tmp_path / "nobody.mp4")
    with pytest.raises(VideoError, match="nobody.mp4.*confidently found person"):
        pseudo_label_videos([video], unsure, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty.mp4"):
        pseudo_label_videos([empty], unsure, tmp_path / "out", progress=False)
    mine = tmp_path / "not_ours"
    mine.mkdir()
    (mine / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not an output of"):
        pseudo_label_videos([video], unsure, mine, progress=False)
    assert (mine / "keep.txt").read_text() == "user data"


def test_cli_refine_names_a_missing_teacher(tmp_path, tiny_coco, capsys) -> None:
    annotations, images = tiny_coco
    code = main(["data", "refine", "--annotations", str(annotations), "--images", str(images),
                 "--teacher", str(tmp_path / "gone.onnx"), "--out", str(tmp_path / "r.json")])
    assert code == 2 and "gone.onnx: teacher model file not found" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_deep_squat_detection_and_oversampling(tiny_coco) -> None:
    annotations, images = tiny_coco
    records = load_records(annotations, images, LOWER6)
    assert not any(is_deep_squat(r) for r in records)  # standing stick figures
    squat = records[0]
    kps = squat.keypoints17.copy()
    kps[5:7, :2] = [[50, 10], [60, 10]]             # shoulders above the hips: upright trunk
    kps[11:13, :2] = [[50, 60], [60, 60]]           # hips
    kps[13:15, :2] = [[80, 62], [90, 62]]           # knees forward, thighs horizontal
    kps[15:17, :2] = [[55, 95], [65, 95]]           # ankles back under the hips: knee angle ~ 50°
    deep = type(squat)(**{**squat.__dict__, "keypoints17": kps})
    assert is_deep_squat(deep)
    leaning = kps.copy()
    leaning[5:7, :2] = [[0, 55], [10, 55]]          # shoulders level with the hips: not upright
    assert not is_deep_squat(type(squat)(**{**squat.__dict__, "keypoints17": leaning}))
    assert len(oversample([deep] + records[1:3], repeat=2, deep_squat_repeat=3)) == 6 + 2 + 2


def test_real_teacher_agrees_with_precise_labels() -> None:
    lsp = shared_or_skip("lsp", "lsp_train.json")
    teacher_path = lsp.parents[2] / "teachers" / "movenet-thunder.onnx"
    if not teacher_path.is_file():
        pytest.skip(f"teacher {teacher_path} is not present on this machine")
    from squatpose.media.images import read_image_rgb

    teacher = MoveNetTeacher(teacher_path)
    records = load_records(lsp, lsp.parent / "images", LOWER6)[:25]
    hits, total = 0, 0
    for record in records:
        pose = teacher.predict(read_image_rgb(record.image_path), record.bbox, flip=False)
        pred = LOWER6.from_coco(pose.points)
        labelled = record.keypoints[:, 2] > 0
        error = np.linalg.norm(pred - record.keypoints[:, :2], axis=1)[labelled] / record.bbox[2:].max()
        hits, total = hits + int((error <= 0.1).sum()), total + int(labelled.sum())
    assert hits / total > 0.85  # Thunder scores 93 % PCK@0.1 on LSP (docs/training.md)
