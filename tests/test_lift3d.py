import dataclasses

import numpy as np
import pytest

from helpers.synthetic_squats import (
    render,
    render_camera,
    squat_motion,
    squat_phase,
    true_knee_angle,
    true_thigh_angle,
)
from squatpose.analysis import AnalysisConfig, analyze_tracks
from squatpose.analysis.body import Body
from squatpose.analysis.config import DepthConfig, Lift3DConfig
from squatpose.analysis.depth import leg_geometry
from squatpose.analysis.lift3d import lift_legs, lift_points
from squatpose.analysis.tracks import JointTracks

FPS = 30.0


def _lift(tracks: JointTracks, cfg: Lift3DConfig | None = None):
    body = Body.from_tracks(tracks, 0.3)
    geom = leg_geometry(body, tracks.fps, DepthConfig())
    return lift_legs(body, geom.leg_length, geom.segment_id, cfg or Lift3DConfig())


def _squat(**kw):
    phase = squat_phase(2, FPS)
    return phase, squat_motion(phase, toe_out_deg=20, **kw)


# ---------------------------------------------------------------- known poses, recovered

@pytest.mark.parametrize("yaw, pitch", [(0, 0), (30, 0), (60, -15), (90, 0), (0, 15)])
def test_projected_3d_squat_is_recovered(yaw, pitch):
    phase, motion = _squat()
    legs = _lift(render_camera(motion, yaw, pitch, FPS, leg_px=300.0))
    err = np.abs(legs.knee_angle.lr - true_knee_angle(motion))
    assert np.isfinite(err).mean() > 0.8  # trusted almost everywhere
    assert np.nanmedian(err) < 3.0 and np.nanpercentile(err, 90) < 8.0
    bottom = phase >= 0.95
    assert np.isfinite(legs.knee_angle.lr[bottom]).all()
    assert np.nanmax(err[bottom]) < 6.0
    if pitch == 0:  # a level camera: the thigh's angle to the horizontal as well
        thigh_err = np.abs(legs.thigh_angle.lr - true_thigh_angle(motion))[bottom]
        assert np.nanmax(thigh_err) < 5.0
    # the rebuilt thigh keeps its length in 3D while its image shrinks
    length = np.linalg.norm(legs.knee - legs.hip, axis=-1)[bottom]
    assert length == pytest.approx(legs.thigh_len[bottom], rel=0.02)
    assert legs.notes == {}


def test_front_view_gets_a_3d_knee_angle_where_2d_has_none():
    _, motion = _squat()
    a = analyze_tracks(render_camera(motion, 0, 0, FPS, leg_px=200.0, noise_px=2.0))
    truth = true_knee_angle(motion).min()
    assert a.reps == 2 and not a.view.is_side
    for rep in a.repetitions:
        assert rep.min_knee_angle is None and "front/back" in rep.notes["min_knee_angle"]
        assert rep.min_knee_angle_3d == pytest.approx(truth, abs=6.0)
        assert 0 < rep.min_knee_angle_3d_sd < 10


# ---------------------------------------------------------------- sign resolution

def test_lift_points_depth_and_sign():
    hip, knee, ankle = np.array([0.0, 0.0]), np.array([0.0, 30.0]), np.array([0.0, 80.0])
    h3, k3, a3 = lift_points(hip, knee, ankle, np.array(50.0), np.array(50.0), forward_z=-1.0)
    assert h3[2] == 0.0  # depths are relative to the hip
    assert k3[2] == pytest.approx(-40.0) and a3[2] == pytest.approx(-40.0)  # knee towards camera
    _, k3, _ = lift_points(hip, knee, ankle, np.array(50.0), np.array(50.0), forward_z=1.0)
    assert k3[2] == pytest.approx(40.0)
    # l > L (noise): the segment lies in the image plane, no NaN
    _, k3, a3 = lift_points(hip, np.array([0.0, 55.0]), ankle, np.array(50.0), np.array(20.0), -1.0)
    assert k3[2] == 0.0 and a3[2] == 0.0


def test_knee_is_in_front_of_hip_and_ankle_whichever_way_the_person_faces():
    phase, motion = _squat()
    bottom = phase >= 0.95
    front = _lift(render_camera(motion, 0, 0, FPS))
    back = _lift(render_camera(motion, 180, 0, FPS))
    assert front.facing == "camera" and back.facing == "away"
    for legs, towards in ((front, -1), (back, 1)):
        knee_z, hip_z, ankle_z = legs.knee[bottom, :, 2], legs.hip[bottom, :, 2], legs.ankle[bottom, :, 2]
        assert (towards * (knee_z - hip_z) > 50).all()  # thigh points at / away from the camera
        assert (towards * (knee_z - ankle_z) > 0).all()  # ankle behind the knee too
    np.testing.assert_allclose(front.knee_angle.lr[bottom], back.knee_angle.lr[bottom], atol=1.0)


def test_straight_leg_seen_from_above_stays_straight():
    # a standing leg leaning 20° out of the image plane: thigh and shin leave it the same way
    hip, knee, ankle = np.array([0.0, 0.0]), np.array([0.0, 47.0]), np.array([0.0, 94.0])
    length = np.array(50.0)
    bent = lift_points(hip, knee, ankle, length, length, -1.0)
    straight = lift_points(hip, knee, ankle, length, length, -1.0, straight_deg=165.0,
                           max_tilt=np.sin(np.radians(30)))
    from squatpose.analysis.angles import interior_angle
    assert interior_angle(*bent) == pytest.approx(180 - 2 * np.degrees(np.arccos(47 / 50)), abs=0.1)
    assert interior_angle(*straight) == pytest.approx(180.0, abs=0.1)
    # ... but not a bent leg whose thigh and shin tilt far more than the camera's pitch
    steep = lift_points(hip, np.array([0.0, 20.0]), np.array([0.0, 40.0]), length, length, -1.0,
                        straight_deg=165.0, max_tilt=np.sin(np.radians(30)))
    assert interior_angle(*steep) < 60


def test_camera_pitch_is_measured_on_the_standing_leg():
    _, motion = _squat()
    assert _lift(render_camera(motion, 0, 0, FPS)).tilt_deg < 3
    assert _lift(render_camera(motion, 0, 20, FPS)).tilt_deg == pytest.approx(20, abs=4)


# ---------------------------------------------------------------- uncertainty and trust

def test_uncertainty_grows_with_joint_noise():
    _, motion = _squat()
    tracks = render_camera(motion, 30, 0, FPS, leg_px=300.0)
    low = _lift(tracks, Lift3DConfig(joint_sd=0.005))
    high = _lift(tracks, Lift3DConfig(joint_sd=0.03))
    assert np.nanmedian(high.knee_sd) > 3 * np.nanmedian(low.knee_sd)
    assert high.trusted.mean() < low.trusted.mean()


def test_a_wild_joint_is_not_trusted():
    _, motion = _squat()
    tracks = render_camera(motion, 0, 0, FPS)
    xy = tracks.xy.copy()
    xy[40, tracks.index("left_knee")] += [0.0, 250.0]  # far beyond the thigh's length
    legs = _lift(JointTracks(FPS, tracks.joint_names, xy, tracks.score))
    assert not legs.trusted[40, 0] and np.isnan(legs.knee_angle.lr[40, 0])
    assert legs.trusted[40, 1]


# ---------------------------------------------------------------- degenerate input: null + note

def test_too_short_tracks_give_null_with_a_note():
    _, motion = _squat()
    tracks = render_camera(motion, 0, 0, FPS)
    short = JointTracks(FPS, tracks.joint_names, tracks.xy[60:66], tracks.score[60:66])
    legs = _lift(short)
    assert set(legs.notes) == {"left", "right"} and "fewer than" in legs.notes["left"]
    assert np.isnan(legs.knee_angle_all).all() and not legs.trusted.any()


def test_never_standing_gives_null_with_a_note():
    phase = 0.6 + 0.4 * np.sin(np.linspace(0, 4 * np.pi, 240)) ** 2  # bobbing at depth, never up
    motion = squat_motion(phase, toe_out_deg=20)
    for view in ("side", "front"):
        tracks = render(motion, view, FPS, far_leg_score=1.0)
        legs = _lift(tracks)
        assert set(legs.notes) == {"left", "right"}, view
        assert all("never" in note for note in legs.notes.values())
        assert np.isnan(legs.knee_angle.value).all()


def test_one_leg_never_seen_gives_null_for_that_leg_only():
    _, motion = _squat()
    tracks = render_camera(motion, 0, 0, FPS, noise_px=1.0)
    score = tracks.score.copy()
    score[:, [tracks.index("right_knee"), tracks.index("right_ankle")]] = 0.0
    a = analyze_tracks(JointTracks(FPS, tracks.joint_names, tracks.xy, score))
    assert set(a.legs3d.notes) == {"right"} and "right hip, knee and ankle" in a.legs3d.notes["right"]
    assert np.isnan(a.legs3d.knee_angle.lr[:, 1]).all()
    assert a.reps == 2
    for rep in a.repetitions:  # the left leg still gives the 3D numbers
        assert rep.min_knee_angle_3d == pytest.approx(true_knee_angle(motion).min(), abs=6.0)
    assert a.to_summary()["lift3d"]["notes"]["right"].startswith("right hip")


def test_repetition_without_3d_says_why():
    phase = squat_phase(2, FPS)
    motion = squat_motion(phase, toe_out_deg=20)
    tracks = render_camera(motion, 0, 0, FPS, noise_px=1.0)
    cfg = dataclasses.replace(AnalysisConfig(), lift3d=Lift3DConfig(min_frames=10_000))
    a = analyze_tracks(tracks, cfg)
    assert a.reps == 2
    for rep in a.to_summary()["repetitions"]:
        assert rep["min_knee_angle_3d"] is None
        assert "fewer than the 10000 needed" in rep["notes"]["min_knee_angle_3d"]
