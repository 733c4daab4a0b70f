"""benchmarks/teacher_tracks.py: MoveNet's tutorial crop tracking, keypoints files per clip, bad clips."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import REPO, shared_or_skip

import teacher_tracks
from squatpose.analysis.tracks import load_keypoints_json
from squatpose.joints import COCO_NAMES

THUNDER = REPO.parent / "shared" / "teachers" / "movenet-thunder.onnx"


def coco(points: dict[str, tuple[float, float]], score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """17 COCO keypoints: the named ones where given, the rest unseen (score 0)."""
    xy, scores = np.zeros((17, 2)), np.zeros(17)
    for name, at in points.items():
        xy[COCO_NAMES.index(name)], scores[COCO_NAMES.index(name)] = at, score
    return xy, scores


def test_next_crop_follows_the_hips_as_the_tutorial_does():
    xy, score = coco({"left_hip": (300, 300), "right_hip": (320, 300), "left_shoulder": (300, 200),
                      "right_shoulder": (320, 200), "left_ankle": (305, 450)})
    centre, side = teacher_tracks.next_crop(xy, score, 1280, 720)
    np.testing.assert_allclose(centre, [310, 300])
    assert side == pytest.approx(2 * max(1.9 * 100, 1.2 * 150))  # torso reach 100 px, body reach 150 px
    box = teacher_tracks.crop_box(centre, side)
    assert box[2] * teacher_tracks.BOX_PADDING == pytest.approx(side)  # the teacher pads the box back to it
    # no shoulder found: the whole frame, padded to a square around its centre
    score[[COCO_NAMES.index("left_shoulder"), COCO_NAMES.index("right_shoulder")]] = 0.1
    centre, side = teacher_tracks.next_crop(xy, score, 1280, 720)
    np.testing.assert_allclose(centre, [639.5, 359.5])
    assert side == 1280


def test_missing_teacher_is_one_line(tmp_path, capsys):
    assert teacher_tracks.main(["--teacher", str(tmp_path / "none.onnx"),
                                "--out", str(tmp_path / "out")]) == 2
    assert "none.onnx: teacher model file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tracks_of_a_real_clip_and_a_broken_one(tmp_path, capsys):
    if not THUNDER.is_file():
        pytest.skip(f"{THUNDER} is not present on this machine")
    source = shared_or_skip("squat_videos", "squat_17.mp4")
    clips = tmp_path / "clips"
    clips.mkdir()
    cap = cv2.VideoCapture(str(source))
    writer = cv2.VideoWriter(str(clips / "side.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 360))
    for _ in range(8):
        writer.write(cv2.resize(cap.read()[1], (640, 360), interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    (clips / "reps.json").write_text(json.dumps({"_how": "test", "side": {}, "broken": {}}))

    out = tmp_path / "tracks"
    assert teacher_tracks.main(["--teacher", str(THUNDER), "--data", str(clips), "--out", str(out),
                                "--threads", "1"]) == 1  # one clip failed, the other was written
    err = capsys.readouterr().err
    assert "broken: skipped:" in err and "broken.mp4" in err
    assert sorted(p.name for p in (out / "raw").iterdir()) == ["side.json"]
    tracks = load_keypoints_json(out / "raw" / "side.json")
    assert tracks.n_frames == 8 and tracks.fps == 25.0 and tracks.frame_wh == (640, 360)
    assert set(tracks.joint_names) == {"left_shoulder", "right_shoulder", "left_hip", "right_hip",
                                       "left_knee", "right_knee", "left_ankle", "right_ankle"}
    y = {name: np.median(tracks.xy[:, tracks.index(name), 1])
         for name in ("left_shoulder", "left_hip", "left_ankle")}
    assert y["left_shoulder"] < y["left_hip"] < y["left_ankle"]  # a standing person, image y down
    assert np.median(tracks.score) > 0.5


def test_clips_are_those_of_reps_json_or_every_video_of_a_folder_without_one(tmp_path):
    for name in ("b.mp4", "a.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert teacher_tracks.clip_names(tmp_path) == ["a", "b"]
    (tmp_path / "reps.json").write_text(json.dumps({"_how": "test", "b": {}}))
    assert teacher_tracks.clip_names(tmp_path) == ["b"]
