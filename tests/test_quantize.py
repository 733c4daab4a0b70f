"""int8 export of the built-in model: self-describing, a quarter of the size, and close to the float model."""
import numpy as np
import pytest

from squatpose.cli import main
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import load_records
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner, default_checkpoint
from squatpose.pose.quantize import calibration_batches, quantize_int8

pytest.importorskip("onnxruntime")


def test_int8_export_keeps_metadata_and_heatmaps(tmp_path, tiny_coco):
    import onnx

    loaded = load_model(default_checkpoint())
    records = load_records(*tiny_coco, loaded.joint_set)
    int8 = quantize_int8(loaded, tmp_path / "model.int8.onnx", calibration_batches(loaded, records, 8), persons=8)
    float_path = export_onnx(loaded, tmp_path / "model.onnx")
    assert int8.stat().st_size < float_path.stat().st_size / 3
    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert meta["precision"] == "int8" and meta["joint_set"] == "lower6" and meta["model"] == "efflite0"
    assert not list(tmp_path.glob(".squatpose-int8-*"))  # the working folder is gone
    batch = np.concatenate(list(calibration_batches(loaded, records, 8)))
    reference, quantized = OnnxRunner(float_path, threads=1)(batch), OnnxRunner(int8, threads=1)(batch)
    corr = np.corrcoef(reference.ravel(), quantized.ravel())[0, 1]
    # Drawn stick figures are not people to the model (peaks about 0.2), so its heatmaps there are faint
    # and int8 rounding shows more than on real crops (0.88 measured); a broken quantization gives ~0.
    # Accuracy on real crops is measured by `eval --onnx` (docs/model-card.md, Speed).
    assert corr > 0.8


def test_int8_export_needs_calibration_data(tmp_path, capsys):
    assert main(["export", "--int8", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--int8 needs --calibration" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_calibration_chunk_never_divides_the_crop_count():
    from squatpose.pose.quantize import calibration_chunk

    for persons in (1, 8, 16, 250, 256, 512, 720):
        chunk = calibration_chunk(persons)
        assert chunk >= 16
        assert persons <= chunk or persons % chunk != 0
