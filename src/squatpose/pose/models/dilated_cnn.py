"""A small pose CNN trained from scratch: strided stem to 1/4, then dilated residual blocks.

Receptive field (theoretical, for a chain of convs): stem 7x7/2 + 3x3/2 gives 11 px at a jump of 4;
each residual block (two 3x3 convs, dilation d) adds 2 * 2 * d * 4 = 16d; the 3x3 head conv adds 8.
With the classic dilations 1-2-4-1 that is 11 + 128 + 8 = 147 px, less than the 256 px crop height,
so a fifth block with dilation 8 is added: 1-2-4-8-1 gives 11 + 256 + 8 = 275 px >= 256, i.e. the
centre output sees the whole 256x192 crop. The last block has dilation 1 to undo the gridding of the
large dilations (Yu et al., "Dilated Residual Networks", 2017).
"""
from __future__ import annotations

from torch import Tensor, nn

from squatpose.pose.models.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ConvBNReLU,
    check_input,
    check_num_joints,
    heatmap_head,
    init_weights,
    load_backbone_weights,
    receptive_field,
)


class DilatedResBlock(nn.Module):
    """Two 3x3 convs with dilation d + identity shortcut (size preserving)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(channels, channels, 3, dilation=dilation)
        self.conv2 = ConvBNReLU(channels, channels, 3, dilation=dilation, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(x + self.conv2(self.conv1(x)))


class DilatedCNN(nn.Module):
    """Stem (7x7/2, 3x3/2) -> dilated residual blocks 1-2-4-8-1 at 1/4 (64 ch) -> 3x3 + 1x1 head.

    forward: (B, 3, h, w) -> (B, K, h/4, w/4) raw logits; h, w divisible by 32 (kept for a uniform
    contract across models; this net only needs 4). Theoretical receptive field: 275 px.
    `pretrained`: None, or a path/URL of a full state_dict of this model (there are no ImageNet weights).
    """

    INPUT_MEAN = IMAGENET_MEAN
    INPUT_STD = IMAGENET_STD
    CHANNELS = 64
    DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 1)

    def __init__(self, num_joints: int, pretrained: str | None = None) -> None:
        super().__init__()
        check_num_joints(num_joints)
        c = self.CHANNELS
        self.stem = nn.Sequential(ConvBNReLU(3, c // 2, 7, stride=2), ConvBNReLU(c // 2, c, 3, stride=2))
        self.blocks = nn.Sequential(*(DilatedResBlock(c, d) for d in self.DILATIONS))
        self.neck = ConvBNReLU(c, c, 3)
        init_weights(self)
        self.head = heatmap_head(c, num_joints)
        if pretrained == "imagenet":
            raise ValueError("dilated_cnn is trained from scratch: there are no 'imagenet' weights")
        if pretrained is not None:
            load_backbone_weights(self, pretrained)

    def receptive_field(self) -> int:
        """Theoretical receptive field in input pixels; valid because the main path is a conv chain
        (convs are registered in execution order, shortcuts are identities)."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        return receptive_field((m.kernel_size[0], m.stride[0], m.dilation[0]) for m in convs)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x)
        return self.head(self.neck(self.blocks(self.stem(x))))
