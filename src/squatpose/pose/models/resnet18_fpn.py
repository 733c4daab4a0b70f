"""ResNet18 + FPN multi-scale fusion pose model.

c3 (1/8), c4 (1/16), c5 (1/32) -> lateral 1x1 -> top-down upsample + add (FPN, Lin et al. 2017)
-> 3x3 smoothing -> all levels resized to 1/8, concatenated and fused by a 1x1 conv
-> deconv to 1/4 + c2 skip (cheap, helps sub-pixel precision) -> 3x3 refine -> 1x1 head.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from squatpose.pose.models.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ConvBNReLU,
    check_input,
    check_num_joints,
    heatmap_head,
    init_weights,
    upsample2x,
)
from squatpose.pose.models.resnet18 import ResNet18Backbone


class FPNFusion(nn.Module):
    """(c2, c3, c4, c5) -> fused features (B, C, h/8, w/8) and the c2 skip (B, C, h/4, w/4)."""

    def __init__(self, in_channels: tuple[int, int, int, int], channels: int) -> None:
        super().__init__()
        c2, c3, c4, c5 = in_channels
        # No bias: every path continues through conv + BN, which would cancel it.
        self.lateral3 = nn.Conv2d(c3, channels, 1, bias=False)
        self.lateral4 = nn.Conv2d(c4, channels, 1, bias=False)
        self.lateral5 = nn.Conv2d(c5, channels, 1, bias=False)
        # 3x3 after the sums removes the aliasing of upsample+add (as in FPN).
        self.smooth3 = ConvBNReLU(channels, channels, 3)
        self.smooth4 = ConvBNReLU(channels, channels, 3)
        self.smooth5 = ConvBNReLU(channels, channels, 3)
        self.fuse = ConvBNReLU(3 * channels, channels, 1)
        self.lateral2 = ConvBNReLU(c2, channels, 1, relu=False)

    def forward(self, feats: tuple[Tensor, Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        c2, c3, c4, c5 = feats
        p5 = self.lateral5(c5)
        p4 = self.lateral4(c4) + upsample2x(p5)
        p3 = self.lateral3(c3) + upsample2x(p4)
        s5 = F.interpolate(self.smooth5(p5), scale_factor=4.0, mode="bilinear", align_corners=False)
        s4 = upsample2x(self.smooth4(p4))
        fused = self.fuse(torch.cat([self.smooth3(p3), s4, s5], dim=1))
        return fused, self.lateral2(c2)


class ResNet18FPN(nn.Module):
    """ResNet18 backbone + FPN fusion at 1/8 + deconv to 1/4 + head.

    forward: (B, 3, h, w) -> (B, K, h/4, w/4) raw logits; h, w divisible by 32.
    `pretrained` as for `resnet18`: None, "imagenet", or a path/URL of a torchvision resnet18 state_dict.
    """

    INPUT_MEAN = IMAGENET_MEAN
    INPUT_STD = IMAGENET_STD
    CHANNELS = 128

    def __init__(self, num_joints: int, pretrained: str | None = None) -> None:
        super().__init__()
        check_num_joints(num_joints)
        c = self.CHANNELS
        self.backbone = ResNet18Backbone()
        self.neck = FPNFusion(ResNet18Backbone.CHANNELS, c)
        # Deconv + BN, ReLU after adding the c2 skip (as in a residual block).
        self.up = nn.Sequential(nn.ConvTranspose2d(c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c))
        self.refine = ConvBNReLU(c, c, 3)
        init_weights(self.neck)
        init_weights(self.up)
        init_weights(self.refine)
        self.head = heatmap_head(c, num_joints)
        if pretrained is not None:
            self.backbone.load_pretrained(pretrained)

    def context(self, fused: Tensor) -> Tensor:
        """Hook on the fused 1/8 features; identity here, self-attention in the subclass."""
        return fused

    def forward(self, x: Tensor) -> Tensor:
        check_input(x)
        fused, skip = self.neck(self.backbone(x))
        y = F.relu(self.up(self.context(fused)) + skip)
        return self.head(self.refine(y))
