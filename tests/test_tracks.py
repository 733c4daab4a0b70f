import json
import math

import numpy as np
import pytest

from squatpose.analysis.tracks import (
    LOWER_BODY,
    JointTracks,
    load_keypoints_json,
    save_keypoints_json,
    tracks_from_dict,
)


def _tracks(t: int = 4, names=LOWER_BODY, fps: float = 30.0) -> JointTracks:
    xy = np.arange(t * len(names) * 2, dtype=float).reshape(t, len(names), 2)
    return JointTracks(fps, names, xy, np.full((t, len(names)), 0.9), (640, 480))


def test_valid_tracks_keep_values_and_times():
    tr = _tracks()
    assert tr.n_frames == 4 and tr.n_joints == 6
    assert tr.xy.dtype == np.float64 and tr.xy[1, 2, 1] == 17.0
    np.testing.assert_allclose(tr.times, [0, 1 / 30, 2 / 30, 3 / 30])
    assert tr.frame_wh == (640, 480)


@pytest.mark.parametrize("fps", [0, -30, math.nan, math.inf, "30", None, True, 1e9])
def test_bad_fps_is_a_clear_error(fps):
    with pytest.raises(ValueError, match="fps"):
        _tracks(fps=fps)


def test_nan_positions_and_bad_scores_become_missing():
    tr = _tracks()
    xy, score = tr.xy.copy(), tr.score.copy()
    xy[0, 0, 0] = np.nan
    score[1, 1] = -0.2
    score[2, 2] = np.nan
    score[3, 3] = 0.0
    out = JointTracks(30, LOWER_BODY, xy, score)
    assert out.score[0, 0] == 0 and out.score[1, 1] == 0 and out.score[2, 2] == 0
    assert np.isnan(out.xy[[0, 1, 2, 3], [0, 1, 2, 3]]).all()
    assert out.score[0, 1] == pytest.approx(0.9) and out.xy[0, 1, 0] == 2.0


def test_shape_and_name_errors():
    with pytest.raises(ValueError, match=r"xy must have shape \(T, 6, 2\)"):
        JointTracks(30, LOWER_BODY, np.zeros((4, 5, 2)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="score must have shape"):
        JointTracks(30, LOWER_BODY, np.zeros((4, 6, 2)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="duplicate"):
        JointTracks(30, ("left_hip", "left_hip"), np.zeros((1, 2, 2)), np.ones((1, 2)))


def test_select_reorders_and_fills_missing_names():
    tr = _tracks()
    sub = tr.select(["right_ankle", "left_shoulder", "left_hip"])
    assert sub.joint_names == ("right_ankle", "left_shoulder", "left_hip")
    np.testing.assert_array_equal(sub.xy[:, 0], tr.xy[:, 5])
    np.testing.assert_array_equal(sub.xy[:, 2], tr.xy[:, 0])
    assert np.isnan(sub.xy[:, 1]).all() and (sub.score[:, 1] == 0).all()
    assert sub.fps == 30 and sub.frame_wh == (640, 480)


def test_save_load_round_trip(tmp_path):
    tr = _tracks()
    tr.score[2, 3] = 0.0
    path = save_keypoints_json(JointTracks(tr.fps, tr.joint_names, tr.xy, tr.score, tr.frame_wh),
                               tmp_path / "k.json")
    back = load_keypoints_json(path)
    assert back.joint_names == tr.joint_names and back.fps == 30 and back.frame_wh == (640, 480)
    np.testing.assert_allclose(back.xy, np.where(tr.score[..., None] > 0, tr.xy, np.nan))
    np.testing.assert_allclose(back.score, tr.score)
    data = json.loads(path.read_text())
    assert data["frames"][2][3] == [0, 0, 0]
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temporary file left


def test_unknown_joints_are_ignored_and_nulls_are_missing():
    data = {"fps": 25, "joints": ["head", "left_hip", "left_knee", "left_wrist"],
            "frames": [[[1, 2, 0.9], [3, 4, 0.8], [None, None, None], [7, 8, 1.0]]]}
    tr = tracks_from_dict(data)
    assert tr.joint_names == ("left_hip", "left_knee", "left_wrist")
    assert tr.xy[0, 0].tolist() == [3, 4] and tr.score[0, 1] == 0 and tr.frame_wh is None


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"fps": 30, "joints": ["left_hip"]}', r"missing key\(s\) \['frames'\]"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": []}', "no frames"),
    ('{"fps": 30, "joints": ["left_hip", "left_knee"], "frames": [[[1, 2, 1]]]}', "frame 0 must be"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": [[[1, "a", 1]]]}', r"\[x, y, score\] numbers"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": [[[1, 2]]]}', r"\[x, y, score\] numbers"),
    ('{"fps": 30, "joints": ["nose", "left_wrist"], "frames": [[[1, 2, 1], [1, 2, 1]]]}',
     "no lower-body joints"),
    ('{"fps": 0, "joints": ["left_hip"], "frames": [[[1, 2, 1]]]}', "fps must be"),
    ('{"fps": 30, "joints": "left_hip", "frames": [[[1, 2, 1]]]}', "'joints' must be a list"),
    # absurd values: a clear message naming the key, never a traceback or a huge allocation
    ('{"fps": 1e9, "joints": ["left_hip"], "frames": [[[1, 2, 1]]]}',
     "fps must be a number between 0 and 1000"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": [[[1, 2, 1]]], "width": Infinity, "height": 480}',
     "'width' must be a number of pixels"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": [[[1, 2, 1]]], "width": 640, "height": "abc"}',
     "'height' must be a number of pixels between 1 and 100000, got 'abc'"),
    ('{"fps": 30, "joints": ["left_hip"], "frames": [[[1, 2, 1]]], "width": 640}',
     "both 'width' and 'height'"),
    ('{"fps": 30, "joints": ["left_hip", "left_knee"], "frames": [[[-1e9, 2, 1], [1, 2, 1]]]}',
     r"frame 0, left_hip: position \[-1000000000.0, 2.0\] is more than"),
    ('{"fps": 30, "joints": ["Left_Hip", "left-knee"], "frames": [[[1, 2, 1], [1, 2, 1]]]}',
     "'Left_Hip' should be 'left_hip', 'left-knee' should be 'left_knee'"),
])
def test_load_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_keypoints_json(path)
    assert str(path) in str(info.value)


HIPS = '{"fps": 30, "joints": ["left_hip", "right_hip"], "frames": [[[1, 2, 1], [3, 4, 1]]]'
BEYOND_FLOAT = "1" + "0" * 400  # 10^400: an integer Python reads, a float it cannot be


@pytest.mark.parametrize("content, message", [
    (HIPS.replace('"fps": 30', f'"fps": {BEYOND_FLOAT}') + "}",
     r"the number 100000000000… \(401 digits\) is beyond"),
    (HIPS.replace("[1, 2, 1]", f"[{BEYOND_FLOAT}, 2, 1]") + "}",
     "beyond the range of floating-point numbers"),
    (HIPS.replace("[3, 4, 1]", "[3, 4, 1e400]") + "}", "the number 1e400 is beyond the range"),
    (HIPS + f', "width": {BEYOND_FLOAT}, "height": 480}}', "beyond the range of floating-point numbers"),
    (HIPS + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}", "the JSON is nested too deeply"),
    (HIPS.replace('"frames": [', '"frames": [' + "[" * 100_000 + "]" * 100_000 + ", ") + "}",
     "nested too deeply"),
])
def test_numbers_beyond_floats_and_deep_nesting_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "hostile.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:  # not an OverflowError or RecursionError
        load_keypoints_json(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json: keypoints file not found"):
        load_keypoints_json(tmp_path / "nope.json")


def test_fps_option_replaces_the_files_frame_rate(tmp_path):
    from helpers.synthetic_squats import squat_tracks
    from squatpose.api import analyze

    path = save_keypoints_json(squat_tracks(n_reps=1, fps=30.0), tmp_path / "k.json")
    result = analyze(keypoints=path, fps=60.0)
    assert result.fps == 60.0 and "frame rate 60 fps as given, instead of the file's" in result.warnings
    with pytest.raises(ValueError, match="--fps: fps must be a number between 0 and 1000"):
        analyze(keypoints=path, fps=1e9)
