"""The built-in model: it loads, both inference backends agree, predict works on a real photo."""
import json

import numpy as np
import pytest
from conftest import shared_or_skip

from squatpose.cli import main
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import (
    OnnxRunner,
    Predictor,
    TorchRunner,
    default_checkpoint,
)

pytest.importorskip("onnxruntime")


def test_builtin_model_loads_and_is_small():
    path = default_checkpoint()
    assert path.stat().st_size < 25 * 2**20
    loaded = load_model(path)
    assert loaded.joint_set.name == "lower6" and loaded.model_name == "efflite0"
    w, h = loaded.codec.input_wh
    assert w % 32 == 0 and h % 32 == 0 and w / h == pytest.approx(0.75)
    assert loaded.score_calibration is not None  # the default thresholds read calibrated scores


def test_onnx_runtime_matches_pytorch(tmp_path):
    loaded = load_model(default_checkpoint())
    onnx_path = export_onnx(loaded, tmp_path / "model.onnx")
    w, h = loaded.codec.input_wh
    batch = np.random.default_rng(0).normal(size=(3, 3, h, w)).astype(np.float32)
    torch_out, onnx_out = TorchRunner(loaded.model)(batch), OnnxRunner(onnx_path, threads=1)(batch)
    assert np.abs(torch_out - onnx_out).max() < 1e-4 * max(1.0, np.abs(torch_out).max())
    image = (np.random.default_rng(1).uniform(0, 255, (240, 200, 3))).astype(np.uint8)
    boxes = np.array([[20.0, 10.0, 120.0, 200.0], [0.0, 0.0, 200.0, 240.0]])
    a = Predictor(loaded, backend="torch").predict(image, boxes)
    b = Predictor(loaded, backend="onnx", onnx_path=onnx_path).predict(image, boxes)
    np.testing.assert_allclose(a.xy, b.xy, atol=0.05)
    np.testing.assert_allclose(a.score, b.score, atol=1e-4)


def test_predict_cli_on_a_real_photo(tmp_path, capsys):
    image = shared_or_skip("parse", "images", "im0001.jpg")
    assert main(["predict", str(image), "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["joints"]) == set(load_model(default_checkpoint()).joint_set.names)
    assert (tmp_path / "im0001_pose.jpg").stat().st_size > 0 and (tmp_path / "im0001_heatmaps.png").exists()
    # PARSE im0001: the right knee is labelled at (76.62, 159.31); the model should land near it.
    knee = result["joints"]["right_knee"]
    assert np.hypot(knee["x"] - 76.62, knee["y"] - 159.31) < 10


def test_predict_rejects_a_bad_image_and_box(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    assert main(["predict", str(broken), "--out", str(tmp_path)]) == 2
    assert "broken.jpg: cannot read image" in capsys.readouterr().err
    assert main(["predict", str(broken), "--box", "1,2,0,5"]) == 2
    assert "--box: the box must have a positive width and height" in capsys.readouterr().err
