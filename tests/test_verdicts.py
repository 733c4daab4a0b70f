"""Per-repetition verdicts on hand-made per-frame values: what each rule says and what it refuses to say."""
from __future__ import annotations

import numpy as np
import pytest

from squatpose.analysis.angles import Measure
from squatpose.analysis.config import FeedbackConfig
from squatpose.analysis.thigh import ThighElevation
from squatpose.analysis.verdicts import HIPS_OVERLAP, NO_THIGH, depth_verdict, knees_verdict

FPS = 30.0
CFG = FeedbackConfig()


def thigh_track(values: list[float], sd: float = 4.0) -> ThighElevation:
    value = np.asarray(values, dtype=float)
    both = np.stack([value, value], axis=1)
    return ThighElevation(both, np.full_like(both, sd), value, np.where(np.isfinite(value), sd, np.nan))


def dip(bottom_deg: float, n: int = 60) -> list[float]:
    """A thigh going from standing (80°) down to `bottom_deg` and back."""
    return list(80 + (bottom_deg - 80) * np.sin(np.linspace(0, np.pi, n)))


@pytest.mark.parametrize(("bottom_deg", "verdict"), [(-12.0, "below"), (2.0, "parallel"), (-3.0, "parallel"),
                                                     (12.0, "above")])
def test_depth_verdict_is_about_parallel_where_the_range_includes_it(bottom_deg, verdict):
    thigh = thigh_track(dip(bottom_deg))
    frames = np.arange(60)
    said = depth_verdict(thigh, frames, frames[28:33], FPS, CFG)
    assert said.verdict == verdict and said.thigh_angle == pytest.approx(bottom_deg, abs=0.5) and said.sd == 4.0


def test_one_bad_frame_is_not_the_bottom():
    values = dip(10.0)
    values[20] = -40.0  # a pose glitch for one frame
    frames = np.arange(60)
    said = depth_verdict(thigh_track(values), frames, frames[28:33], FPS, CFG)
    assert said.verdict == "above" and said.thigh_angle == pytest.approx(10.0, abs=0.5)


def test_an_unmeasured_bottom_still_allows_below_but_nothing_shallower():
    frames = np.arange(60)
    for bottom_deg, verdict in ((-20.0, "below"), (5.0, None), (15.0, None)):
        values = dip(bottom_deg)
        values[25:36] = [np.nan] * 11  # the deepest frames hidden
        said = depth_verdict(thigh_track(values), frames, frames[28:33], FPS, CFG)
        assert said.verdict == verdict
        if verdict is None:
            assert said.note == NO_THIGH and said.thigh_angle is None


def test_too_uncertain_a_thigh_gets_no_verdict():
    frames = np.arange(60)
    said = depth_verdict(thigh_track(dip(-15.0), sd=13.0), frames, frames[28:33], FPS, CFG)
    assert said.verdict is None and said.thigh_angle == pytest.approx(-15.0, abs=0.5) and "too uncertain" in said.note


def knees(left: float, right: float, n: int = 20, score: float = 0.9) -> Measure:
    lr = np.tile([left, right], (n, 1)) / 100
    return Measure.from_sides("leg", lr, np.full((n, 2), score))


def test_an_oblique_camera_is_not_a_knee_caving_in():
    """Knees travelling forward, seen from 30°: one reads inside its line, the other outside by as much."""
    frames = np.arange(20)
    depth = np.full(20, 0.5)
    said = knees_verdict(knees(25.0, -25.0), np.full(20, 0.2), frames, frames[:5], depth, 0.5, 0.01, CFG)
    assert said.caving is False and said.inward_pct == pytest.approx(0.0, abs=1e-6)
    caved = knees_verdict(knees(9.0, 7.0), np.full(20, 0.2), frames, frames[:5], depth, 0.5, 0.01, CFG)
    assert caved.caving is True and caved.inward_pct == pytest.approx(8.0) and caved.sd_pct < 2


def test_knees_are_not_judged_where_the_hips_overlap():
    frames = np.arange(20)
    said = knees_verdict(knees(9.0, 7.0), np.full(20, 0.03), frames, frames[:5], np.full(20, 0.5), 0.5, 0.01, CFG)
    assert said.caving is None and said.note == HIPS_OVERLAP
