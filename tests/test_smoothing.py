from pathlib import Path

import numpy as np
import pytest

from helpers.penn_action import load_penn_action
from helpers.synthetic_squats import render, squat_motion, squat_phase, squat_tracks
from squatpose.analysis.config import SmoothingParams
from squatpose.analysis.smoothing import (
    OneEuroFilter,
    leg_scale,
    second_difference_jitter,
    smooth_tracks,
)
from squatpose.analysis.tracks import LOWER_BODY, JointTracks

PENN = Path(__file__).resolve().parents[1] / "../shared/data/penn_action/squat_train.json"
FPS = 30.0


def _two_joint_tracks(x: np.ndarray, score: np.ndarray | None = None) -> JointTracks:
    """Tracks of left_hip moving along x (T,), right_hip fixed, y constant."""
    t = len(x)
    xy = np.zeros((t, 2, 2))
    xy[:, 0, 0] = x
    xy[:, 1] = [50.0, 20.0]
    score = np.full((t, 2), 0.9) if score is None else score
    return JointTracks(FPS, ("left_hip", "right_hip"), xy, score)


def test_constant_input_stays_constant():
    tr = squat_tracks(1, "side", lead_s=3.0).select(LOWER_BODY)
    still = JointTracks(FPS, tr.joint_names, np.repeat(tr.xy[:1], 60, axis=0), np.ones((60, 6)))
    out = smooth_tracks(still, SmoothingParams()).tracks
    np.testing.assert_allclose(out.xy, still.xy, atol=1e-9)
    np.testing.assert_allclose(out.score, 1.0)


def test_step_response_matches_first_order_lowpass_and_settles():
    x = np.r_[np.zeros(10), np.ones(50)]
    params = SmoothingParams(min_cutoff=1.0, beta=0.0)
    out = smooth_tracks(_two_joint_tracks(x), params, scale=1.0).tracks.xy[:, 0, 0]
    alpha = 1 / (1 + FPS / (2 * np.pi * params.min_cutoff))
    k = np.arange(1, 51)
    np.testing.assert_allclose(out[10:], 1 - (1 - alpha) ** k, rtol=1e-9)
    assert out[10] < 0.2  # lags one frame after the step ...
    assert out[-1] > 0.99  # ... and settles within 50 frames (time constant 0.16 s)
    fast = smooth_tracks(_two_joint_tracks(x), SmoothingParams(min_cutoff=1.0, beta=5.0),
                         scale=1.0).tracks.xy[:, 0, 0]
    assert fast[12] > out[12] + 0.1  # speed-adaptive cutoff: less lag on fast moves


def test_dropout_holds_then_goes_missing_then_restarts():
    x = np.linspace(0, 29, 30)
    score = np.full((30, 2), 0.9)
    score[10:20, 0] = 0.1  # below the gate: not fed
    res = smooth_tracks(_two_joint_tracks(x, score), SmoothingParams(max_hold_frames=5), scale=1.0)
    out = res.tracks
    np.testing.assert_allclose(out.xy[10:15, 0], np.repeat(out.xy[9:10, 0], 5, axis=0))
    np.testing.assert_allclose(out.score[10:15, 0], 0.9 * (1 - np.arange(1, 6) / 6))
    assert res.held[10:15, 0].all() and not res.held[15:, 0].any()
    assert np.isnan(out.xy[15:20, 0]).all() and (out.score[15:20, 0] == 0).all()
    np.testing.assert_allclose(out.xy[20, 0], [20.0, 0.0])  # restarts on the observation
    assert out.score[20, 0] == pytest.approx(0.9)


def test_jitter_is_reduced_on_noisy_squats():
    clean = squat_tracks(3, "side").select(LOWER_BODY)
    noisy = squat_tracks(3, "side", noise_px=6.0, seed=1).select(LOWER_BODY)  # 2 % of the leg
    out = smooth_tracks(noisy, SmoothingParams()).tracks
    before, after = second_difference_jitter(noisy.xy), second_difference_jitter(out.xy)
    assert before == pytest.approx(3.07 * 6.0, rel=0.1)  # white-noise reference value
    assert after < 0.3 * before
    rmse = lambda xy: float(np.sqrt(np.nanmean((xy - clean.xy) ** 2)))  # noqa: E731
    assert rmse(out.xy) < 0.8 * rmse(noisy.xy)  # noise removed outweighs the lag added


def _staggered_side_view() -> JointTracks:
    tr = render(squat_motion(squat_phase(1, FPS)), "side", FPS, far_leg_score=1.0)
    xy = tr.xy.copy()
    right = [i for i, n in enumerate(tr.joint_names) if n.startswith("right_")]
    xy[:, right, 0] += 30.0  # far leg 30 px behind: the legs are distinguishable
    return JointTracks(FPS, tr.joint_names, xy, tr.score)


def test_leg_swap_is_corrected():
    tr = _staggered_side_view()
    names = tr.joint_names
    legs = [(names.index(f"left_{p}"), names.index(f"right_{p}")) for p in ("hip", "knee", "ankle")]
    swapped_xy = tr.xy.copy()
    for left, right in legs:
        swapped_xy[50:53, [left, right]] = tr.xy[50:53, [right, left]]
    bad = JointTracks(FPS, names, swapped_xy, tr.score)
    ref = smooth_tracks(tr, SmoothingParams())
    fixed = smooth_tracks(bad, SmoothingParams())
    assert not ref.swapped.any()
    assert np.flatnonzero(fixed.swapped).tolist() == [50, 51, 52]
    np.testing.assert_allclose(fixed.tracks.xy, ref.tracks.xy, atol=1e-6)
    off = smooth_tracks(bad, SmoothingParams(swap_ratio=0.0))
    knee = names.index("left_knee")
    assert np.abs(off.tracks.xy[52, knee] - ref.tracks.xy[52, knee]).max() > 5.0


def test_no_swaps_on_clean_front_view():
    assert not smooth_tracks(squat_tracks(2, "front", noise_px=2.0), SmoothingParams()).swapped.any()


def test_leg_scale_is_thigh_plus_shin():
    assert leg_scale(squat_tracks(1, "side"), 0.3) == pytest.approx(300.0, rel=1e-3)


def test_params_are_validated():
    with pytest.raises(ValueError, match="min_cutoff"):
        SmoothingParams(min_cutoff=0)
    with pytest.raises(ValueError, match="swap_ratio"):
        SmoothingParams(swap_ratio=1.5)
    with pytest.raises(ValueError, match="max_hold_frames"):
        SmoothingParams(max_hold_frames=-1)


def test_filter_state_is_per_point():
    filt = OneEuroFilter(2, 2, SmoothingParams())
    filt.step(0.0, np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([True, False]))
    assert filt.alive.tolist() == [True, False] and np.isnan(filt.est[1]).all()


@pytest.mark.skipif(not PENN.exists(), reason=f"Penn Action tracks not found at {PENN}")
def test_jitter_before_after_on_real_penn_action_tracks():
    rng = np.random.default_rng(0)
    before, after, clean_before, clean_after = [], [], [], []
    for clip in load_penn_action(PENN):
        tr = clip.tracks(occluded_score=0.2).select(LOWER_BODY)
        noisy = JointTracks(tr.fps, tr.joint_names,
                            tr.xy + rng.normal(0, 0.02 * leg_scale(tr, 0.3), tr.xy.shape), tr.score)
        gate = lambda t: np.where((t.score >= 0.3)[..., None], t.xy, np.nan)  # noqa: E731
        before.append(second_difference_jitter(gate(noisy)))
        after.append(second_difference_jitter(gate(smooth_tracks(noisy, SmoothingParams()).tracks)))
        clean_before.append(second_difference_jitter(gate(tr)))
        clean_after.append(second_difference_jitter(gate(smooth_tracks(tr, SmoothingParams()).tracks)))
    assert np.nanmean(after) < 0.35 * np.nanmean(before)  # measured: 8.0 -> 2.2 px/frame^2
    assert np.nanmean(clean_after) < 0.5 * np.nanmean(clean_before)  # annotation jitter too
