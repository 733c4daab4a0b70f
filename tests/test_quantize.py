"""int8 export of the built-in model: self-describing, under half the size (int8 backbone, float decoder), and close to the float model."""
from pathlib import Path

import numpy as np
import pytest

from squatpose.cli import main
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import load_records
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner, default_checkpoint
from squatpose.pose.quantize import FLOAT_TAIL_CONVS, calibration_batches, float_convs, quantize_int8

pytest.importorskip("onnxruntime")


def test_int8_export_keeps_metadata_and_heatmaps(tmp_path, tiny_coco):
    import onnx

    loaded = load_model(default_checkpoint())
    records = load_records(*tiny_coco, loaded.joint_set)
    int8 = quantize_int8(loaded, tmp_path / "model.int8.onnx", calibration_batches(loaded, records, 8), persons=8)
    float_path = export_onnx(loaded, tmp_path / "model.onnx")
    assert int8.stat().st_size < float_path.stat().st_size / 2  # int8 backbone, float decoder
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


def test_the_decoder_stays_float():
    names = ["/backbone/stem/Conv", "/backbone/_blocks.0/Conv", "/up16/reduce/Conv", "/neck/Conv", "/head/Conv"]
    assert float_convs(names) == ["/up16/reduce/Conv", "/neck/Conv", "/head/Conv"]
    plain = [f"/layer{i}/Conv" for i in range(6)]  # a model without a backbone module: its tail stays float
    assert float_convs(plain) == plain[-FLOAT_TAIL_CONVS:]


def test_shipped_int8_file_is_made_from_the_shipped_weights():
    """`release` of new weights must come with a new `export --int8`; a stale file would silently go unused."""
    from importlib import resources

    from squatpose.pose.export import weights_fingerprint
    from squatpose.pose.predictor import DEFAULT_INT8

    path = Path(str(resources.files("squatpose") / "weights" / DEFAULT_INT8))
    runner = OnnxRunner(path, threads=1)
    assert runner.metadata["precision"] == "int8"
    assert runner.metadata["weights_fingerprint"] == weights_fingerprint(load_model(default_checkpoint()))


def test_auto_backend_runs_int8_only_on_cpus_it_was_measured_on(tmp_path, monkeypatch):
    from squatpose.pose import predictor
    from squatpose.pose.predictor import make_runner

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loaded = load_model(default_checkpoint())
    monkeypatch.setattr(predictor, "cpu_has_vnni", lambda: True)
    assert make_runner(loaded, "auto", None, 1)[1:] == ("onnx", "int8")
    monkeypatch.setattr(predictor, "cpu_has_vnni", lambda: False)
    assert make_runner(loaded, "auto", None, 1)[1:] == ("onnx", "float32")
