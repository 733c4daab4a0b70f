"""Score thresholds read calibrated scores: the defaults, where they come from, and the raw-score warning."""
import logging

import numpy as np
import pytest
from conftest import write_video

from squatpose.analysis.config import load_analysis_config
from squatpose.api import analyze
from squatpose.config import ConfigError
from squatpose.pose.calibration import ScoreCalibration
from squatpose.pose.predictor import default_checkpoint
from squatpose.pose.release import write_release
from squatpose.video.extract import NoPersonError
from squatpose.video.tracker import TrackerConfig

# The first built-in model's raw thresholds, and the calibrated values its calibration mapped them to
# (docs/analysis.md, 'Joint scores'): the defaults, kept as probabilities for every calibrated model.
RAW_TO_DEFAULT = {
    "tracker.min_score": (0.2, 0.32), "tracker.start_score": (0.35, 0.59), "min_joint_score": (0.3, 0.53),
    "reps.min_confidence": (0.15, 0.2), "feedback.min_confidence": (0.5, 0.77),
}


def defaults(tmp_path) -> dict[str, float]:
    path = tmp_path / "empty.yaml"
    path.write_text("{}\n")
    cfg, tracker = load_analysis_config(path), TrackerConfig()
    assert tracker.joint_score == cfg.min_joint_score  # one floor: the tracker's default is the analysis'
    return {"tracker.min_score": tracker.min_score, "tracker.start_score": tracker.start_score,
            "min_joint_score": cfg.min_joint_score, "reps.min_confidence": cfg.reps.min_confidence,
            "feedback.min_confidence": cfg.feedback.min_confidence}


def test_defaults_load_as_calibrated_thresholds(tmp_path) -> None:
    assert defaults(tmp_path) == {k: new for k, (_, new) in RAW_TO_DEFAULT.items()}


@pytest.mark.parametrize("old", ["smoothing.min_score=0.4", "measures.min_score=0.4"])
def test_the_replaced_score_floors_name_the_one_that_replaced_them(old) -> None:
    with pytest.raises(ConfigError, match=f"--set: {old.split('=')[0]} is no longer a setting: use min_joint_score"):
        load_analysis_config(None, [old])


def test_analyzing_with_an_uncalibrated_model_says_its_scores_are_raw(tmp_path, caplog) -> None:
    raw = write_release(default_checkpoint(), tmp_path / "raw.pt", None)
    video = write_video(tmp_path / "empty.mp4", [np.full((96, 128, 3), 20, np.uint8)] * 3)
    with caplog.at_level(logging.WARNING, logger="squatpose.api"), pytest.raises(NoPersonError):
        analyze(video, checkpoint=raw, backend="torch", progress=False)
    assert any("raw.pt: the model file carries no score calibration" in r.message for r in caplog.records)
    caplog.clear()
    calibrated = write_release(default_checkpoint(), tmp_path / "cal.pt", ScoreCalibration((0.0, 1.0), (0.0, 1.0)))
    with caplog.at_level(logging.WARNING, logger="squatpose.api"), pytest.raises(NoPersonError):
        analyze(video, checkpoint=calibrated, backend="torch", progress=False)
    assert not any("score calibration" in r.message for r in caplog.records)
