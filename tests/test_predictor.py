"""Predictor: the same crop as evaluation, the checkpoint's box padding, ONNX files and strides checked."""
import numpy as np
import pytest
import torch

from squatpose.joints import get_joint_set
from squatpose.media.images import read_image_rgb
from squatpose.pose.checkpoint import CheckpointError, atomic_save, load_model, make_checkpoint
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import load_records
from squatpose.pose.evaluation.evaluate import predict_records
from squatpose.pose.models import build_model
from squatpose.pose.predictor import Predictor

LOWER6 = get_joint_set("lower6")


def _checkpoint(path, stride: int = 4, **extra) -> str:
    torch.manual_seed(0)
    model = build_model("dilated_cnn", LOWER6.num_joints)
    codec = HeatmapCodec((64, 64), 4, 1.5)
    ckpt = make_checkpoint(model, "dilated_cnn", LOWER6, codec, **extra)
    ckpt["codec"]["stride"] = stride
    atomic_save(ckpt, path)
    return str(path)


def test_evaluation_and_inference_crop_alike(tmp_path, tiny_coco):
    loaded = load_model(_checkpoint(tmp_path / "m.pt", box_padding=1.4))
    predictor = Predictor(loaded, backend="torch")
    assert predictor.box_padding == 1.4
    records = load_records(*tiny_coco, LOWER6)[:3]
    xy, score = predict_records(predictor.runner, records, loaded.codec, LOWER6, loaded.input_mean,
                                loaded.input_std, box_padding=predictor.box_padding, progress=False)
    for record, want_xy, want_score in zip(records, xy, score):
        got = predictor.predict(read_image_rgb(record.image_path), record.bbox[None])
        np.testing.assert_allclose(got.xy[0], want_xy, atol=1e-3)  # batch size changes the last bits
        np.testing.assert_allclose(got.score[0], want_score, atol=1e-4)
    # Another padding crops another region, so the same evaluation gives other points.
    other, _ = predict_records(predictor.runner, records, loaded.codec, LOWER6, loaded.input_mean,
                               loaded.input_std, box_padding=1.0, progress=False)
    assert np.abs(other - xy).max() > 0.5


def test_box_padding_of_older_checkpoints_is_125(tmp_path):
    assert load_model(_checkpoint(tmp_path / "old.pt")).box_padding == 1.25
    padded = load_model(_checkpoint(tmp_path / "new.pt", box_padding=1.5))
    assert Predictor(padded, backend="torch").box_padding == 1.5


def test_codec_stride_must_match_the_model(tmp_path):
    with pytest.raises(ValueError, match="stride 8"):
        build_model("dilated_cnn", 6, stride=8)
    with pytest.raises(CheckpointError, match="s8.pt: codec stride 8"):
        load_model(_checkpoint(tmp_path / "s8.pt", stride=8))


def test_onnx_file_of_another_checkpoint_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from squatpose.pose.export import export_onnx

    loaded = load_model(_checkpoint(tmp_path / "m.pt"))
    onnx_path = export_onnx(loaded, tmp_path / "m.onnx")
    assert not list(tmp_path.glob(".*partial*"))
    assert Predictor(loaded, backend="onnx", onnx_path=onnx_path).backend == "onnx"
    eight = load_model(_checkpoint(tmp_path / "m.pt"))
    eight.joint_set = get_joint_set("lower8")
    with pytest.raises(ValueError, match=r"m\.onnx: ONNX model does not match the checkpoint: joint_set "
                                         r"'lower6'"):
        Predictor(eight, backend="onnx", onnx_path=onnx_path)


def test_onnx_export_folds_same_padding_into_the_convs(tmp_path):
    """EfficientNet's stride-2 'SAME' pads become conv pads: no Pad node left, the same heatmaps."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from squatpose.pose.export import export_onnx
    from squatpose.pose.predictor import OnnxRunner

    torch.manual_seed(0)
    model = build_model("efflite0", LOWER6.num_joints)
    for module in model.modules():  # trained-like statistics, so the outputs are not near zero
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.running_mean.uniform_(-0.2, 0.2)
    atomic_save(make_checkpoint(model, "efflite0", LOWER6, HeatmapCodec((96, 128), 4, 2.0)),
                tmp_path / "e.pt")
    loaded = load_model(tmp_path / "e.pt")
    path = export_onnx(loaded, tmp_path / "e.onnx")
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert "Pad" not in ops and "Conv" in ops
    x = np.random.default_rng(0).normal(size=(2, 3, 128, 96)).astype(np.float32)
    with torch.no_grad():
        want = loaded.model.eval()(torch.from_numpy(x)).numpy()
    got = OnnxRunner(path, 1)(x)
    assert want.std() > 1e-3
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_onnx_runner_threads_sleep_between_calls_unless_asked_to_spin():
    """A video's next crop waits for decoding and tracking; spin-waiting threads would take their CPU."""
    from squatpose.pose.predictor import OnnxRunner
    from squatpose.pose.runtime_choice import VNNI_FILE, shipped_file

    def spinning(runner: OnnxRunner) -> str:
        options = runner.session.get_session_options()
        return options.get_session_config_entry("session.intra_op.allow_spinning")

    assert spinning(OnnxRunner(shipped_file(VNNI_FILE), 2)) == "0"
    assert spinning(OnnxRunner(shipped_file(VNNI_FILE), 2, spin=True)) == "1"
