"""Pose models: a plain name -> class dict and a builder.

Every model: `Model(num_joints, pretrained=None)`, forward (B, 3, h, w) -> (B, K, h/4, w/4) raw heatmap
logits for h, w divisible by 32, and class attributes INPUT_MEAN / INPUT_STD (RGB, 0..255 units)
with the normalisation x = (rgb - mean) / std that the caller applies.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from squatpose.pose.models.dilated_cnn import DilatedCNN
from squatpose.pose.models.efflite0 import EffLite0Pose
from squatpose.pose.models.resnet18 import ResNet18SimpleBaseline
from squatpose.pose.models.resnet18_fpn import ResNet18FPN
from squatpose.pose.models.resnet18_fpn_attn import ResNet18FPNAttn

MODELS: dict[str, type[nn.Module]] = {
    "resnet18": ResNet18SimpleBaseline,
    "resnet18_fpn": ResNet18FPN,
    "resnet18_fpn_attn": ResNet18FPNAttn,
    "dilated_cnn": DilatedCNN,
    "efflite0": EffLite0Pose,
}


# Input pixels per heatmap pixel, the same for every model above (the codec must use it too).
OUTPUT_STRIDE = 4


def build_model(name: str, num_joints: int, pretrained: str | None = None, *, stride: int | None = None,
                **kwargs: Any) -> nn.Module:
    """Instantiate MODELS[name]; `pretrained` is None, "imagenet" (where available) or a path/URL;
    `stride`, the codec's, must be the models' output stride (else heatmaps would decode misplaced)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    if stride is not None and stride != OUTPUT_STRIDE:
        raise ValueError(f"codec stride {stride} does not fit model {name!r}, whose heatmaps are "
                         f"1/{OUTPUT_STRIDE} of the input")
    return MODELS[name](num_joints, pretrained=pretrained, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Total number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


__all__ = ["MODELS", "OUTPUT_STRIDE", "build_model", "count_parameters", "DilatedCNN", "EffLite0Pose",
           "ResNet18SimpleBaseline", "ResNet18FPN", "ResNet18FPNAttn"]
