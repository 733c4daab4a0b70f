"""Score calibration: isotonic fit, the stored map, and the release file that carries it."""
import numpy as np
import pytest

from squatpose.cli import main
from squatpose.pose.calibration import ScoreCalibration, fit_calibration, isotonic
from squatpose.pose.checkpoint import load_model, read_checkpoint
from squatpose.pose.predictor import default_checkpoint
from squatpose.pose.release import write_release


def test_isotonic_pools_violations_and_keeps_monotone_input() -> None:
    np.testing.assert_allclose(isotonic(np.array([0.1, 0.5, 0.3, 0.9]), np.ones(4)), [0.1, 0.4, 0.4, 0.9])
    np.testing.assert_allclose(isotonic(np.array([1.0, 0.0]), np.array([3.0, 1.0])), [0.75, 0.75])
    np.testing.assert_allclose(isotonic(np.arange(5.0), np.ones(5)), np.arange(5.0))


def test_fit_recovers_a_known_reliability_curve() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 40000)
    correct = rng.uniform(0, 1, raw.size) < np.sqrt(raw)  # under-confident raw scores, as the heatmap peak is
    calibration = fit_calibration(raw, correct)
    grid = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(calibration(grid), np.sqrt(grid), atol=0.04)
    assert (np.diff(calibration(np.linspace(0, 1, 101))) >= 0).all()
    again = ScoreCalibration.from_dict(calibration.to_dict())
    np.testing.assert_array_equal(again(grid), calibration(grid))


def test_bad_calibrations_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing raw knots"):
        ScoreCalibration((0.5, 0.2), (0.1, 0.9))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        ScoreCalibration((0.1, 0.2), (0.1, 1.5))
    with pytest.raises(ValueError, match="at least 48 scored joints"):
        fit_calibration(np.zeros(10), np.zeros(10))


def test_release_drops_training_state_and_keeps_the_calibration(tmp_path) -> None:
    calibration = ScoreCalibration((0.1, 0.5, 0.9), (0.2, 0.7, 0.95))
    out = write_release(default_checkpoint(), tmp_path / "release.pt", calibration)
    ckpt = read_checkpoint(out)
    assert "optimizer" not in ckpt and ckpt["score_calibration"] == calibration.to_dict()
    assert load_model(out).model_name == "efflite0"


def test_release_cli_calibrates_on_labelled_persons(tmp_path, tiny_coco, capsys) -> None:
    annotations, images = tiny_coco
    code = main(["release", "--checkpoint", str(default_checkpoint()), "--calibrate-on", str(annotations),
                 "--images", str(images), "--out", str(tmp_path / "r.pt"), "--no-flip",
                 "--perturbed-per-person", "2", "--empty-per-person", "1"])
    assert code == 0
    text = capsys.readouterr().out
    assert "fitted on 8 gt, 16 shifted, " in text and "raw scores" in text and "calibrated scores" in text
    calibration = ScoreCalibration.from_dict(read_checkpoint(tmp_path / "r.pt")["score_calibration"])
    assert len(calibration.raw) >= 2 and calibration.raw[0] < 0.2  # the crops off the person reach low scores


def test_predictor_reports_calibrated_scores(tmp_path) -> None:
    from squatpose.pose.predictor import Predictor

    calibration = ScoreCalibration((0.0, 1.0), (0.5, 0.5))  # every joint: "a coin flip"
    release = write_release(default_checkpoint(), tmp_path / "flat.pt", calibration)
    image = np.random.default_rng(0).integers(0, 255, (200, 160, 3), dtype=np.uint8)
    box = np.array([[10.0, 10.0, 120.0, 180.0]])
    raw = Predictor.from_checkpoint(default_checkpoint(), backend="torch").predict(image, box)
    calibrated = Predictor.from_checkpoint(release, backend="torch").predict(image, box)
    np.testing.assert_allclose(calibrated.score, 0.5)
    np.testing.assert_allclose(calibrated.xy, raw.xy)
    assert not np.allclose(raw.score, 0.5)
