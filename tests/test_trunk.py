"""Trunk lean, hip angle and the "hips rise before the chest" check on synthetic squats of known geometry."""
import dataclasses
import json

import numpy as np
import pytest

from helpers.synthetic_squats import TRUNK, render, render_camera, squat_motion, squat_phase, trunk_lean_deg
from squatpose.analysis import AnalysisConfig, analyze_tracks
from squatpose.analysis.angles import compute_measures, thigh_angle
from squatpose.analysis.body import Body
from squatpose.analysis.trunk import HIPS_FIRST, NO_SHOULDERS, hips_rose_first
from squatpose.joints import LOWER6
from squatpose.report.files import angles_csv

FPS = 30.0
PHASE = squat_phase(3, FPS)
HIP_TRAVEL = 0.999 - 0.38  # leg lengths, squat_motion's default


def squat(early_change_deg: float, view: str = "side", noise_px: float = 0.0, yaw: float | None = None):
    """Three squats whose trunk lean changes by `early_change_deg` over the first half of each way up."""
    motion = squat_motion(PHASE, lean_deg=trunk_lean_deg(PHASE, early_change_deg))
    if yaw is not None:
        return render_camera(motion, yaw, noise_px=noise_px, seed=1)
    return render(motion, view, FPS, noise_px=noise_px, seed=1)


def expected_ratio(early_change_deg: float, bottom_deg: float = 45.0) -> float:
    """Shoulder rise / hip rise over the first half of the way up, from the synthetic geometry."""
    hip_rise = 0.5 * HIP_TRAVEL
    drop = TRUNK * (np.cos(np.radians(bottom_deg + early_change_deg)) - np.cos(np.radians(bottom_deg)))
    return (hip_rise + drop) / hip_rise


def test_trunk_lean_and_hip_angle_on_known_geometry():
    lean = trunk_lean_deg(PHASE, 20.0)
    tracks = squat(20.0)
    body = Body.from_tracks(tracks, min_score=0.5)
    m = compute_measures(body, np.full((tracks.n_frames, 2), 300.0))
    np.testing.assert_allclose(m.trunk_lean.lr, np.stack([lean, lean], axis=1), atol=1e-9)
    # side view: trunk forward of vertical by the lean, thigh below horizontal by the thigh angle
    thigh = thigh_angle(body.hip, body.knee)
    np.testing.assert_allclose(m.hip_angle.lr, 90.0 - lean[:, None] + thigh, atol=1e-9)
    assert m.hip_angle.lr[0, 0] == pytest.approx(170.0, abs=0.5)  # standing: 10° lean, thigh vertical
    # the far side (score 0.9) is less sure than the near one (1.0)
    assert np.all(m.trunk_lean.lr_sd[:, 1] > m.trunk_lean.lr_sd[:, 0])


def test_rep_reports_trunk_at_the_bottom_with_sd():
    a = analyze_tracks(squat(0.0, noise_px=2.0))
    assert a.reps == 3
    for rep in a.repetitions:
        assert rep.trunk_lean_bottom == pytest.approx(45.0, abs=2.0)
        assert 0 < rep.trunk_lean_bottom_sd < 3
        assert 0 < rep.hip_angle_bottom_sd < 5
    hip, knee = (a.raw.xy[a.repetitions[0].bottom_frame, a.raw.index(n)] for n in ("left_hip", "left_knee"))
    assert a.repetitions[0].hip_angle_bottom == pytest.approx(45.0 + float(thigh_angle(hip, knee)), abs=3.0)
    summary = json.loads(json.dumps(a.to_summary(), allow_nan=False))
    assert summary["trunk"]["shoulders"] is True and summary["trunk"]["hips_rise_first_reps"] == []
    assert summary["repetitions"][0]["trunk_lean_bottom"] == pytest.approx(45.0, abs=2.0)


def test_hips_rising_first_is_flagged():
    a = analyze_tracks(squat(30.0, noise_px=2.0))
    assert a.reps == 3
    for rep in a.repetitions:
        assert rep.shoulder_rise_ratio == pytest.approx(expected_ratio(30.0), abs=0.1)  # smoothing lag
        assert rep.early_hip_rise == pytest.approx(0.5 * HIP_TRAVEL, abs=0.03)
        assert HIPS_FIRST in rep.flags
    texts = [f.text for f in a.feedback if f.kind == "trunk"]
    assert len(texts) == 1 and texts[0].startswith("Your hips rose before your chest on reps 1, 2 and 3:")
    assert texts[0].endswith("drive the chest up with the hips.")
    why = next(f.why for f in a.feedback if f.kind == "trunk")
    assert why[0].startswith("early in the way up the shoulders rose only ")
    assert a.to_summary()["trunk"]["hips_rise_first_reps"] == [1, 2, 3]


@pytest.mark.parametrize("change", [0.0, -10.0])
def test_a_trunk_that_keeps_its_angle_or_comes_up_is_not_flagged(change):
    a = analyze_tracks(squat(change, noise_px=2.0))
    assert a.reps == 3
    for rep in a.repetitions:
        assert rep.shoulder_rise_ratio == pytest.approx(expected_ratio(change), abs=0.05)
        assert rep.shoulder_rise_ratio >= 0.95 and HIPS_FIRST not in rep.flags
    assert not [f for f in a.feedback if f.kind == "trunk"]


def test_rise_ratio_is_the_same_obliquely_and_not_given_from_the_front():
    side = [r.shoulder_rise_ratio for r in analyze_tracks(squat(30.0, yaw=90, noise_px=2.0)).repetitions]
    oblique = analyze_tracks(squat(30.0, yaw=45, noise_px=2.0))
    assert oblique.reps == 3 and oblique.view.is_side
    # the first part ends where the hips covered half their rise, found in each view's own tracks
    assert [r.shoulder_rise_ratio for r in oblique.repetitions] == pytest.approx(side, abs=0.05)
    assert all(HIPS_FIRST in r.flags for r in oblique.repetitions)
    front = analyze_tracks(squat(30.0, yaw=0, noise_px=2.0))
    assert front.reps == 3 and not front.view.is_side
    for rep in front.repetitions:  # lean and hip angle are side-view angles; the hips hide at the bottom
        assert rep.trunk_lean_bottom is None and "side view" in rep.notes["trunk_lean_bottom"]
        assert rep.shoulder_rise_ratio is None and "thighs hide the hips" in rep.notes["shoulder_rise_ratio"]
        assert HIPS_FIRST not in rep.flags


def test_the_flag_needs_the_ratio_clearly_below_the_limit():
    rep = analyze_tracks(squat(0.0)).repetitions[0]
    limit = AnalysisConfig().trunk.min_shoulder_rise_ratio
    below = dataclasses.replace(rep, shoulder_rise_ratio=limit - 0.1, shoulder_rise_ratio_sd=0.05)
    unsure = dataclasses.replace(below, shoulder_rise_ratio_sd=0.2)
    assert hips_rose_first(below, AnalysisConfig().trunk) and not hips_rose_first(unsure, AnalysisConfig().trunk)


def test_less_sure_joints_give_a_larger_sd():
    sure, unsure = squat(30.0), squat(30.0)
    sure.score[:], unsure.score[:] = 1.0, 0.8  # the joints' sd grows as 1 / score: x 1.25
    sure_rep, unsure_rep = (analyze_tracks(t).repetitions[0] for t in (sure, unsure))
    assert unsure_rep.shoulder_rise_ratio == pytest.approx(sure_rep.shoulder_rise_ratio)
    assert unsure_rep.shoulder_rise_ratio_sd == pytest.approx(1.25 * sure_rep.shoulder_rise_ratio_sd)
    assert unsure_rep.trunk_lean_bottom_sd == pytest.approx(1.25 * sure_rep.trunk_lean_bottom_sd)


def test_tracks_without_shoulders_leave_the_trunk_out():
    a = analyze_tracks(squat(30.0).select(LOWER6))
    assert a.reps == 3
    for rep in a.repetitions:
        for key in ("trunk_lean_bottom", "hip_angle_bottom", "shoulder_rise_ratio", "max_trunk_lean"):
            assert getattr(rep, key) is None and rep.notes[key] == NO_SHOULDERS
        assert HIPS_FIRST not in rep.flags
    assert not [f for f in a.feedback if f.kind == "trunk"]
    trunk = a.to_summary()["trunk"]
    assert trunk["shoulders"] is False and trunk["trunk_lean_bottom"] is None and trunk["note"] == NO_SHOULDERS
    header, *rows = angles_csv(a).splitlines()
    columns = header.split(",")
    for name in ("trunk_lean", "hip_angle", "hip_angle_sd"):
        assert all(row.split(",")[columns.index(name)] == "" for row in rows)


def test_an_unfinished_repetition_has_no_early_rise():
    cut = squat(30.0)
    end = int(np.flatnonzero(PHASE >= 1.0)[-1]) + 3  # just after the last bottom
    a = analyze_tracks(dataclasses.replace(cut, xy=cut.xy[:end], score=cut.score[:end]))
    last = a.partial[-1]
    assert last.shoulder_rise_ratio is None and "unfinished" in last.notes["shoulder_rise_ratio"]
    assert last.trunk_lean_bottom == pytest.approx(45.0, abs=2.0)
