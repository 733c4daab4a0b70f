"""`squatpose eval` as a function: predict on every ground-truth person box of a COCO keypoints file,
calibrate the scores as the model file says, score them, and write the predictions and metrics."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squatpose import atomic
from squatpose.pose.data.dataset import LoadReport, PersonRecord, load_records
from squatpose.pose.evaluation.evaluate import (
    EvalResult,
    coco_results,
    predict_records,
    score_predictions,
    write_results,
)
from squatpose.pose.predictor import Predictor


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on a COCO keypoints file and their scores."""

    records: list[PersonRecord]
    xy: np.ndarray          # (N,K,2) image pixels
    scores: np.ndarray      # (N,K) as the model file reports them (calibrated where it is)
    result: EvalResult
    persons: str            # LoadReport.summary(): persons kept and skipped
    backend: str
    precision: str


def evaluate(annotations: str | Path, images: str | Path, *, checkpoint: str | Path | None = None,
             backend: str = "auto", onnx_path: str | Path | None = None, flip_test: bool = False,
             min_joints: int = 1, batch_size: int = 32) -> Evaluation:
    """Evaluate the model (`checkpoint`, default the built-in one; `onnx_path` runs that ONNX file of it)
    on every person of `annotations` with at least `min_joints` labelled joints of its set."""
    predictor = Predictor.from_checkpoint(checkpoint, backend="onnx" if onnx_path else backend,
                                          onnx_path=onnx_path)
    loaded = predictor.loaded
    report = LoadReport()
    records = load_records(annotations, images, loaded.joint_set, min_joints=min_joints, report=report)
    if not records:
        raise ValueError(f"{annotations}: no persons to evaluate ({report.summary()})")
    xy, scores = predict_records(predictor.runner, records, loaded.codec, loaded.joint_set, loaded.input_mean,
                                 loaded.input_std, flip_test=flip_test, batch_size=batch_size,
                                 box_padding=predictor.box_padding)
    scores = loaded.calibrate(scores)
    result = score_predictions(Path(annotations).stem, records, xy, scores, loaded.joint_set)
    return Evaluation(records, xy, scores, result, report.summary(), predictor.backend, predictor.precision)


def write_evaluation(evaluation: Evaluation, predictions_out: str | Path | None = None,
                     metrics_out: str | Path | None = None) -> None:
    """The predictions in COCO results format and the metrics as JSON, each where a path is given."""
    if predictions_out:
        write_results(predictions_out, coco_results(evaluation.records, evaluation.xy, evaluation.scores,
                                                    evaluation.result.joint_set))
    if metrics_out:
        atomic.write_text(metrics_out, json.dumps(evaluation.result.to_dict(), indent=1))
