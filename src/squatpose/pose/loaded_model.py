"""A pose model as the predictor runs it: the network (a PyTorch module, or None where an ONNX file runs
it) and what its file says about it: joint set, heatmap codec, input normalisation, box padding and score
calibration. Torch-free, so that running an ONNX file never loads PyTorch."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squatpose.geometry import DEFAULT_BOX_PADDING
from squatpose.joints import JointSet, get_joint_set
from squatpose.pose.calibration import ScoreCalibration
from squatpose.pose.codec import HeatmapCodec


@dataclass
class LoadedModel:
    model: Any                   # torch.nn.Module; None where only an ONNX file of it runs
    model_name: str
    joint_set: JointSet
    codec: HeatmapCodec
    input_mean: tuple[float, float, float]
    input_std: tuple[float, float, float]
    meta: dict = field(default_factory=dict)
    box_padding: float = DEFAULT_BOX_PADDING   # crop size / person box size the model was trained with
    score_calibration: ScoreCalibration | None = None  # raw heatmap peak → P(joint within 0.1 of the box)

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        """The model's calibrated joint scores (the raw peaks when the file carries no calibration)."""
        return scores if self.score_calibration is None else self.score_calibration(scores)

    def description(self) -> dict:
        """Everything but the network, as plain JSON data (`from_description` reads it back)."""
        return {"model": self.model_name, "joint_set": self.joint_set.name, "codec": self.codec.to_dict(),
                "input_mean": list(self.input_mean), "input_std": list(self.input_std),
                "box_padding": self.box_padding,
                "score_calibration": None if self.score_calibration is None else self.score_calibration.to_dict()}

    @classmethod
    def from_description(cls, data: dict) -> LoadedModel:
        calibration = data["score_calibration"]
        return cls(None, data["model"], get_joint_set(data["joint_set"]), HeatmapCodec.from_dict(data["codec"]),
                   tuple(data["input_mean"]), tuple(data["input_std"]), box_padding=float(data["box_padding"]),
                   score_calibration=None if calibration is None else ScoreCalibration.from_dict(calibration))


def read_description(path: Path) -> LoadedModel | None:
    """The model described by a JSON file holding a `description()`; None when there is none."""
    try:
        return LoadedModel.from_description(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
