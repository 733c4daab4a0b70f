"""Evaluation, release and int8 export as the library functions `squatpose eval/release/export` call,
on a tiny COCO set written at test time and the shipped model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from squatpose.pose.checkpoint import load_model, read_checkpoint
from squatpose.pose.evaluation.run import evaluate, write_evaluation
from squatpose.pose.predictor import default_checkpoint
from squatpose.pose.release import make_release


def test_evaluate_scores_every_person_and_writes_predictions_and_metrics(tmp_path, tiny_coco) -> None:
    annotations, images = tiny_coco
    evaluation = evaluate(annotations, images, backend="torch")
    assert len(evaluation.records) == 8
    assert evaluation.xy.shape == (8, 6, 2) and evaluation.scores.shape == (8, 6)
    assert evaluation.persons.startswith("8 persons kept") and evaluation.backend == "torch"
    assert evaluation.result.n_persons == 8 and set(evaluation.result.pck_box.pooled) == {0.05, 0.1, 0.2}
    write_evaluation(evaluation, tmp_path / "preds.json", tmp_path / "metrics.json")
    predictions = json.loads((tmp_path / "preds.json").read_text())
    assert sorted(p["ann_id"] for p in predictions) == list(range(100, 108))
    # the written keypoints are the evaluated points, rounded to 0.01 px
    first = np.array(predictions[0]["keypoints"]).reshape(17, 3)[11:, :2]
    np.testing.assert_allclose(first, evaluation.xy[0], atol=0.006)
    assert json.loads((tmp_path / "metrics.json").read_text())["persons"] == 8


def test_evaluate_without_persons_names_the_file(tiny_coco) -> None:
    annotations, images = tiny_coco
    with pytest.raises(ValueError, match=f"{annotations.name}: no persons to evaluate .*fewer than 7"):
        evaluate(annotations, images, backend="torch", min_joints=7)  # the set has 6 joints


def test_release_without_calibration_copies_the_weights(tmp_path) -> None:
    path, tables = make_release(default_checkpoint(), tmp_path / "r.pt")
    assert tables is None and "score_calibration" not in read_checkpoint(path)
    assert load_model(path).model_name == load_model(default_checkpoint()).model_name


def test_release_calibration_needs_its_images(tmp_path, tiny_coco) -> None:
    with pytest.raises(ValueError, match="--calibrate-on needs --images"):
        make_release(default_checkpoint(), tmp_path / "r.pt", calibrate_on=tiny_coco[0])
    assert not (tmp_path / "r.pt").exists()


def test_export_int8_calibrates_on_the_given_persons(tmp_path, tiny_coco) -> None:
    pytest.importorskip("onnxruntime")
    import onnx

    from squatpose.pose.quantize import export_int8

    loaded = load_model(default_checkpoint())
    with pytest.raises(ValueError, match="--int8 needs --calibration"):
        export_int8(loaded, tmp_path / "m.onnx", None, None)
    path = export_int8(loaded, tmp_path / "m.int8.onnx", *tiny_coco, persons=4)
    assert {p.key: p.value for p in onnx.load(str(path)).metadata_props}["precision"] == "int8"
