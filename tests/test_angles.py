import numpy as np
import pytest

from squatpose.analysis.angles import (
    Measure,
    angle_to_vertical,
    compute_measures,
    frontal_plane_projection_angle,
    interior_angle,
    interior_angle_sd,
    knee_angles_for_image,
    segment_angle_sd,
    thigh_angle,
)
from squatpose.analysis.body import ANALYSIS_JOINTS, Body
from squatpose.analysis.tracks import JointTracks

P = np.array  # image pixels, y down


def test_interior_angle_straight_right_and_missing():
    hip, knee = P([100.0, 100.0]), P([100.0, 200.0])
    assert interior_angle(hip, knee, P([100.0, 300.0])) == pytest.approx(180.0)
    assert interior_angle(hip, knee, P([200.0, 200.0])) == pytest.approx(90.0)
    assert interior_angle(hip, knee, P([100.0 + 100 * np.sin(np.radians(60)),
                                        200 - 100 * np.cos(np.radians(60))])) == pytest.approx(60.0)
    assert np.isnan(interior_angle(hip, knee, P([np.nan, 300.0])))
    assert np.isnan(interior_angle(hip, hip, P([100.0, 300.0])))  # zero-length thigh


def test_interior_angle_broadcasts_over_frames_and_sides():
    a = np.zeros((5, 2, 2))
    b = np.tile(P([0.0, 1.0]), (5, 2, 1))
    c = np.tile(P([1.0, 1.0]), (5, 2, 1))
    np.testing.assert_allclose(interior_angle(a, b, c), np.full((5, 2), 90.0))


@pytest.mark.parametrize("knee, expected", [
    ([100.0, 200.0], 90.0),    # thigh vertical (standing)
    ([200.0, 100.0], 0.0),     # horizontal: thigh parallel
    ([0.0, 100.0], 0.0),       # facing the other way: same
    ([200.0, 80.0], -11.31),   # hip 20 px below the knee: below parallel
    ([200.0, 200.0], 45.0),
])
def test_thigh_angle_to_horizontal(knee, expected):
    assert thigh_angle(P([100.0, 100.0]), P(knee)) == pytest.approx(expected, abs=0.01)


def test_angle_to_vertical():
    ankle = P([0.0, 100.0])
    assert angle_to_vertical(ankle, P([0.0, 0.0])) == pytest.approx(0.0)
    assert angle_to_vertical(ankle, P([-50.0, 50.0])) == pytest.approx(45.0)
    assert angle_to_vertical(ankle, P([50.0, 50.0])) == pytest.approx(45.0)


def _front_legs(knee_shift: float, mirrored: bool = False) -> tuple[np.ndarray, ...]:
    """Front view (person's left at image right), knees shifted towards the midline by knee_shift px;
    mirrored=True is a back view (person's left at image left)."""
    s = -1.0 if mirrored else 1.0
    hip = P([[320 + 40 * s, 200.0], [320 - 40 * s, 200.0]])
    ankle = P([[320 + 40 * s, 400.0], [320 - 40 * s, 400.0]])
    knee = P([[320 + (40 - knee_shift) * s, 300.0], [320 - (40 - knee_shift) * s, 300.0]])
    return hip, knee, ankle


@pytest.mark.parametrize("mirrored", [False, True])
def test_fppa_sign_valgus_positive_varus_negative(mirrored):
    inward = np.degrees(2 * np.arctan(20 / 100))
    hip, knee, ankle = _front_legs(20.0, mirrored)
    np.testing.assert_allclose(frontal_plane_projection_angle(hip, knee, ankle, hip[::-1]),
                               [inward, inward], atol=1e-9)
    hip, knee, ankle = _front_legs(-20.0, mirrored)
    np.testing.assert_allclose(frontal_plane_projection_angle(hip, knee, ankle, hip[::-1]),
                               [-inward, -inward], atol=1e-9)
    hip, knee, ankle = _front_legs(0.0, mirrored)
    np.testing.assert_allclose(frontal_plane_projection_angle(hip, knee, ankle, hip[::-1]), [0, 0])


def test_measure_combines_sides_by_confidence():
    lr = P([[100.0, 120.0], [100.0, np.nan], [np.nan, np.nan]])
    conf = P([[1.0, 0.5], [0.8, 0.9], [0.7, 0.7]])
    m = Measure.from_sides("deg", lr, conf)
    np.testing.assert_allclose(m.value[:2], [(100 + 0.5 * 120) / 1.5, 100.0])
    assert np.isnan(m.value[2])
    np.testing.assert_allclose(m.conf, [1.0, 0.8, 0.0])
    np.testing.assert_allclose(m.lr_conf[1], [0.8, 0.0])


def test_compute_measures_on_a_hand_made_side_view_squat():
    # one frame, side view, thigh horizontal, shin 30 deg forward, trunk 45 deg forward
    shin = 100.0
    ankle = P([300.0, 400.0])
    knee = ankle + shin * P([np.sin(np.radians(30)), -np.cos(np.radians(30))])
    hip = knee + P([-100.0, 0.0])
    shoulder = hip + 80 * P([np.sin(np.radians(45)), -np.cos(np.radians(45))])
    per_part = {"shoulder": shoulder, "hip": hip, "knee": knee, "ankle": ankle}
    xy = np.array([[per_part[n.split("_", 1)[1]] for n in ANALYSIS_JOINTS]])
    score = np.ones((1, 8))
    score[0, ANALYSIS_JOINTS.index("right_knee")] = 0.2  # far knee below the gate
    body = Body.from_tracks(JointTracks(30, ANALYSIS_JOINTS, xy, score), min_score=0.3)
    m = compute_measures(body, np.full((1, 2), 200.0))
    assert m.knee_angle.value[0] == pytest.approx(60.0)  # 90 - 30
    assert m.knee_flexion[0] == pytest.approx(120.0)
    assert np.isnan(m.knee_angle.lr[0, 1]) and m.knee_angle.conf[0] == 1.0
    assert m.thigh_angle.value[0] == pytest.approx(0.0, abs=1e-9)
    assert m.shin_angle.value[0] == pytest.approx(30.0)
    assert m.trunk_lean.value[0] == pytest.approx(45.0)
    # trunk 45° forward of vertical, thigh horizontal forward
    assert m.hip_angle.value[0] == pytest.approx(45.0)
    assert m.hip_above_knee.value[0] == pytest.approx(0.0, abs=1e-9)
    # sd from 0.01 leg lengths of noise per joint at score 1: 2 px; trunk 80 px long; two sides seen alike
    assert m.trunk_lean.lr_sd[0, 0] == pytest.approx(np.degrees(np.hypot(2.0, 2.0) / 80), rel=1e-6)
    assert m.trunk_lean.sd[0] == pytest.approx(m.trunk_lean.lr_sd[0, 0] / np.sqrt(2), rel=1e-6)
    assert m.knee_angle.sd is None  # only the trunk measures carry an sd


def test_angle_sds_match_monte_carlo_over_joint_noise():
    rng = np.random.default_rng(0)
    shoulder, hip, knee = P([260.0, 120.0]), P([200.0, 200.0]), P([300.0, 230.0])
    sds = (3.0, 5.0, 2.0)
    draws = [p + rng.normal(0, s, (200_000, 2)) for p, s in zip((shoulder, hip, knee), sds)]
    assert np.std(interior_angle(*draws)) == pytest.approx(
        float(interior_angle_sd(shoulder, hip, knee, *sds)), rel=0.03)
    assert np.std(angle_to_vertical(draws[1], draws[0])) == pytest.approx(
        float(segment_angle_sd(hip, shoulder, sds[1], sds[0])), rel=0.03)


def test_combined_sd_weights_the_sides_like_the_value():
    lr, conf, sd = P([[40.0, 50.0], [40.0, np.nan]]), P([[1.0, 1.0], [0.9, 0.0]]), P([[2.0, 2.0], [3.0, 9.0]])
    m = Measure.from_sides("deg", lr, conf, sd)
    np.testing.assert_allclose(m.sd, [np.sqrt(2.0), 3.0])  # two equal independent sides: sd / sqrt(2)
    assert np.isnan(m.lr_sd[1, 1])


def test_knee_angles_for_a_single_image():
    names = ("left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle")
    xy = P([[0, 0], [0, 100], [100, 100], [50, 0], [50, 100], [50, 200]], dtype=float)
    score = P([1.0, 0.9, 0.8, 1.0, 0.2, 1.0])
    out = knee_angles_for_image(xy, score, names)
    assert out["left_knee"] == {"angle": 90.0, "flexion": 90.0, "confidence": 0.8}
    assert out["right_knee"] is None  # right knee below the score threshold
    assert knee_angles_for_image(xy, np.ones(6), names)["right_knee"]["angle"] == 180.0
