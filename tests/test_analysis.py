"""Config, view, depth signal, feedback and summary of analyze_tracks (reps: test_reps.py)."""
import dataclasses
import json

import numpy as np
import pytest

from helpers.synthetic_squats import render, squat_motion, squat_phase, squat_tracks
from squatpose.analysis import (
    AnalysisConfig,
    analyze_tracks,
    config_from_dict,
    load_analysis_config,
)
from squatpose.analysis.angles import thigh_angle
from squatpose.analysis.config import DepthConfig
from squatpose.analysis.tracks import JointTracks

FPS = 30.0


# ---------------------------------------------------------------- config

def test_config_yaml_overrides_and_keeps_defaults(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("reps:\n  min_depth: 0.25\nsmoothing:\n  beta: 2\n  max_hold_frames: 3\n")
    cfg = load_analysis_config(path)
    assert cfg.reps.min_depth == 0.25 and cfg.reps.start_depth == RepDefaults.start_depth
    assert cfg.smoothing.beta == 2.0 and isinstance(cfg.smoothing.beta, float)
    assert cfg.smoothing.max_hold_frames == 3
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_analysis_config(empty) == AnalysisConfig()


RepDefaults = AnalysisConfig().reps


@pytest.mark.parametrize("data, message", [
    ({"reps": {"min_dept": 0.2}}, r"reps: unknown key\(s\) \['min_dept'\]"),
    ({"rep": {}}, r"unknown key\(s\) \['rep'\]"),
    ({"reps": {"min_depth": "deep"}}, r"reps.min_depth: expected float"),
    ({"smoothing": {"max_hold_frames": 2.5}}, r"max_hold_frames: expected int"),
    ({"reps": {"standing_depth": 0.2}}, r"invalid value for standing_depth"),
    ({"reps": {"min_depth": -1}}, r"invalid value for min_depth$"),
    ({"reps": 3}, "expected a mapping"),
])
def test_config_errors(data, message):
    with pytest.raises(ValueError, match=message) as info:
        config_from_dict(data, source="my.yaml")
    assert str(info.value).startswith("my.yaml")


def test_config_file_errors(tmp_path):
    with pytest.raises(ValueError, match="none.yaml: config file not found"):
        load_analysis_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reps: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_analysis_config(bad)


# ---------------------------------------------------------------- view

@pytest.mark.parametrize("view", ["side", "front"])
def test_view_is_detected_from_the_motion(view):
    a = analyze_tracks(squat_tracks(2, view, noise_px=2.0))
    assert a.view.view == view and not a.view.user_set and a.view.method == "thigh offset at depth"


def test_view_without_squats_uses_stance_width_and_user_override():
    side = analyze_tracks(render(squat_motion(np.zeros(90)), "side"))
    assert side.view.view == "side" and side.view.method == "standing stance width"
    front = analyze_tracks(squat_tracks(2, "front"), view="back")
    assert front.view.view == "front" and front.view.user_set and front.view.label == "front/back"
    forced = analyze_tracks(squat_tracks(2, "front"), view="side")
    assert forced.view.view == "side" and forced.view.detected == "front"
    assert any("set to side by the user" in w for w in forced.warnings)
    with pytest.raises(ValueError, match="view must be one of"):
        analyze_tracks(squat_tracks(1, "side"), view="top")


# ---------------------------------------------------------------- depth

def test_depth_is_leg_compression_in_every_view():
    cfg = dataclasses.replace(AnalysisConfig(), depth=DepthConfig(knee_weight_side=0.0, use_3d=True))
    motion = squat_motion(squat_phase(2, FPS), toe_out_deg=20)  # knees out over the toes
    side = analyze_tracks(render(motion, "side", FPS), cfg)
    front = analyze_tracks(render(motion, "front", FPS), cfg)
    # bottom: hip 0.38 leg above and 0.25 behind the ankle. The front view sees only 0.05 sideways
    # in 2D, but the 3D legs recover the hidden backward shift.
    for a in (side, front):
        assert np.nanmax(a.depth.depth) == pytest.approx(1 - np.hypot(0.38, 0.25), abs=0.02)
    assert np.nanmax(front.depth.depth) < 1 - np.hypot(0.38, 0.05) - 0.04
    for a in (side, front):
        assert abs(np.nanmedian(a.depth.depth[:20])) < 0.01  # standing
        assert set(a.depth.source) == {"legs"}
    # the default 2D signal reads the front view's 2D shortening (depth.use_3d is off by default)
    front_2d = analyze_tracks(render(motion, "front", FPS),
                              dataclasses.replace(cfg, depth=DepthConfig(knee_weight_side=0.0)))
    assert np.nanmax(front_2d.depth.depth) == pytest.approx(1 - np.hypot(0.38, 0.05), abs=0.02)


def test_depth_ignores_camera_roll():
    tracks = squat_tracks(3, "front", noise_px=2.0)
    c, s = np.cos(np.radians(15)), np.sin(np.radians(15))
    rolled = JointTracks(FPS, tracks.joint_names, (tracks.xy - 300) @ np.array([[c, s], [-s, c]]) + 300,
                         tracks.score)
    a, b = analyze_tracks(tracks), analyze_tracks(rolled)
    assert a.reps == b.reps == 3
    np.testing.assert_allclose(b.depth.depth, a.depth.depth, atol=0.02)
    assert any("lean 15°" in w for w in b.warnings) and not any("lean" in w for w in a.warnings)


def test_depth_falls_back_to_hip_drop_without_ankles():
    tracks = squat_tracks(2, "side", noise_px=1.0)
    score = tracks.score.copy()
    score[:, [tracks.index("left_ankle"), tracks.index("right_ankle")]] = 0.0
    a = analyze_tracks(JointTracks(FPS, tracks.joint_names, tracks.xy, score))
    assert a.reps == 2 and set(a.depth.source) == {"hips"}
    assert np.nanmax(a.depth.depth) == pytest.approx(1 - 0.38, abs=0.03)  # hips drop 0.62 leg
    assert any("ankles not visible" in w for w in a.warnings)


# ---------------------------------------------------------------- repetitions and feedback

def test_side_view_rep_numbers_and_feedback():
    motion = squat_motion(squat_phase(2, FPS, descent_s=0.6), bottom_hip_height=0.6)
    tracks = render(motion, "side", FPS)
    a = analyze_tracks(tracks)
    rep = a.repetitions[0]
    hip, knee = (tracks.xy[rep.bottom_frame, tracks.index(n)] for n in ("left_hip", "left_knee"))
    assert rep.thigh_angle == pytest.approx(float(thigh_angle(hip, knee)), abs=2.0)
    assert rep.thigh_angle > 10 and rep.depth_verdict == "above" and 0 < rep.thigh_angle_sd < 8
    assert 45 < rep.min_knee_angle < 120 and 0.5 < rep.descent_s < 1.0
    assert "above_parallel" in rep.flags and "fast_descent" not in rep.flags  # 0.6 s down is a descent
    line = next(f for f in a.feedback if f.rep == 1)
    advice = "sit a little lower" if rep.thigh_angle <= 15 else "sit lower"
    assert line.text == f"Stopped about {rep.thigh_angle:.0f}° above parallel — {advice}."
    assert line.tone == "fix" and line.kind == "rep"
    assert f"Thigh at the lowest point: {rep.thigh_angle:.0f}° ± {rep.thigh_angle_sd:.0f}° above horizontal." in line.why
    assert [f.rep for f in a.feedback].count(1) == 1  # one line per repetition
    assert a.feedback[0].text.startswith("2 reps: 2 above parallel; about ") and a.feedback[0].tone == "fix"
    assert rep.hip_height_diff_pct is None and "side view" in rep.notes["hip_height_diff_pct"]


@pytest.mark.parametrize(("bottom_hip_height", "verdict"), [(0.3, "below"), (0.45, "parallel"), (0.6, "above")])
def test_depth_verdict_is_one_answer_in_every_view(bottom_hip_height, verdict):
    """The same squat filmed from the side and from the front gets the same thigh angle (the front's
    less certain) and the verdict says 'about parallel' where its ± range includes parallel."""
    motion = squat_motion(squat_phase(2, FPS), bottom_hip_height=bottom_hip_height)
    side, front = (analyze_tracks(render(motion, view, FPS, noise_px=1.0)) for view in ("side", "front"))
    assert side.reps == front.reps == 2
    for rep in side.repetitions + front.repetitions:
        inside = abs(rep.thigh_angle) <= rep.thigh_angle_sd
        assert rep.depth_verdict == ("parallel" if inside else "below" if rep.thigh_angle < 0 else "above")
    s, f = side.repetitions[0], front.repetitions[0]
    assert f.thigh_angle == pytest.approx(s.thigh_angle, abs=2.0) and f.thigh_angle_sd > s.thigh_angle_sd
    assert s.depth_verdict == verdict
    said = {"below": "Went about", "parallel": "Reached about parallel", "above": "Stopped about"}[verdict]
    assert next(x for x in side.feedback if x.rep == 1).text.startswith(said)


def test_quick_drop_is_a_note_not_a_fault():
    a = analyze_tracks(render(squat_motion(squat_phase(2, FPS, descent_s=0.4), bottom_hip_height=0.3), "side", FPS))
    rep = a.repetitions[0]
    assert rep.descent_s < 0.5 and "fast_descent" in rep.flags
    line = next(f for f in a.feedback if f.rep == 1)
    assert line.tone == "good" and f"quick drop ({rep.descent_s:.1f} s down)" in line.text
    assert any("fine for jump or dynamic squats" in w for w in line.why)


def test_front_view_knees_in_and_hip_asymmetry():
    phase = squat_phase(2, FPS)
    tracks = render(squat_motion(phase, valgus=0.12), "front", FPS)
    xy = tracks.xy.copy()
    xy[:, tracks.index("left_hip"), 1] += 0.08 * 300 * phase  # left hip sinks 8 % of the leg
    a = analyze_tracks(JointTracks(FPS, tracks.joint_names, xy, tracks.score))
    rep = a.repetitions[0]
    assert rep.min_knee_angle is None and "front/back view" in rep.notes["min_knee_angle"]
    assert rep.depth_verdict is not None  # depth is judged from the front too
    assert rep.knees_in is True and rep.knee_inward_pct > 5 and rep.knee_inward_sd_pct < 2
    assert rep.hip_height_diff_pct == pytest.approx(8.0, abs=1.5)
    line = next(f for f in a.feedback if f.rep == 1)
    assert "knees drifted inward — push them out over your toes" in line.text and line.tone == "fix"
    assert "left hip about 8% of leg length lower than the right" in line.text
    clean = analyze_tracks(squat_tracks(2, "front"))
    assert all(r.knees_in is False for r in clean.repetitions)
    assert not any("inward" in f.text or "hip about" in f.text for f in clean.feedback)


def test_knees_in_ignores_spikes_and_straight_legs():
    """A knee that jumps inward for three frames at the bottom, and a leg folded by a bad pose for four
    frames while standing (a 2D knee angle near 0, which made the FPPA read 170°), raise nothing."""
    tracks = squat_tracks(2, "front", noise_px=1.0)
    a = analyze_tracks(tracks)
    xy = tracks.xy.copy()
    rep = a.repetitions[0]
    knee, hip = tracks.index("left_knee"), tracks.index("left_hip")
    spike = slice(rep.bottom_frame, rep.bottom_frame + 3)
    xy[spike, knee, 0] += 0.3 * (xy[spike, tracks.index("right_hip"), 0] - xy[spike, hip, 0]) / 0.2
    fold = slice(rep.end_frame + 5, rep.end_frame + 9)
    xy[fold, knee, 1] = xy[fold, hip, 1] + 5  # the knee drawn up at the hip: the leg folds in 2D
    spiky = analyze_tracks(JointTracks(FPS, tracks.joint_names, xy, tracks.score))
    assert spiky.reps == 2 and all(r.knees_in is False for r in spiky.repetitions)
    assert not any("inward" in f.text for f in spiky.feedback)


def test_summary_is_json_and_has_the_contract_keys():
    a = analyze_tracks(squat_tracks(2, "side", noise_px=2.0))
    summary = json.loads(json.dumps(a.to_summary(), allow_nan=False))
    assert {"reps", "repetitions", "partial", "fps", "view", "feedback", "warnings"} <= set(summary)
    assert summary["reps"] == 2 == len(summary["repetitions"]) and summary["fps"] == 30.0
    assert summary["view"]["view"] == "side" and summary["view"]["user_set"] is False
    assert summary["repetitions"][0]["number"] == 1 and summary["feedback"][0]["text"].startswith("2 reps: ")
    assert {"text", "kind", "rep", "tone", "why"} == set(summary["feedback"][0])
    assert {"depth_verdict", "thigh_angle", "thigh_angle_sd", "knees_in"} <= set(summary["repetitions"][0])
    assert summary["config"]["reps"]["min_depth"] == AnalysisConfig().reps.min_depth


def test_person_missing_warning():
    tracks = squat_tracks(2, "side")
    score = tracks.score.copy()
    n = int(0.4 * tracks.n_frames)
    score[-n:] = 0.0
    a = analyze_tracks(JointTracks(FPS, tracks.joint_names, tracks.xy, score))
    assert "person not found in 40% of frames" in a.warnings


def test_video_rotated_by_90_degrees_says_so():
    tracks = squat_tracks(n_reps=2, noise_px=1.0)
    turned = JointTracks(tracks.fps, tracks.joint_names, tracks.xy[..., ::-1].copy(), tracks.score)
    warnings = analyze_tracks(turned).warnings
    assert any("seems to be lying down, or the video is rotated" in w for w in warnings), warnings
    assert not any("camera is tilted" in w for w in warnings)
