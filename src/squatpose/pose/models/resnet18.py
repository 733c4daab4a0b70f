"""ResNet18 backbone (torchvision parameter names) and the SimpleBaselines pose model.

Xiao et al., "Simple Baselines for Human Pose Estimation and Tracking", ECCV 2018:
ResNet -> 3 x (deconv 4x4 stride 2, 256 ch, BN, ReLU) -> 1x1 conv to K heatmaps.
"""
from __future__ import annotations

from torch import Tensor, nn

from squatpose.pose.models.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    check_input,
    check_num_joints,
    heatmap_head,
    init_weights,
    load_backbone_weights,
)

# torchvision's ImageNet weights (ImageNet normalisation); "imagenet" is an alias for this URL.
RESNET18_IMAGENET_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: two 3x3 convs + identity (or 1x1 strided projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18Backbone(nn.Module):
    """ResNet18 without avgpool/fc. Its state_dict keys equal torchvision's resnet18 minus `fc.*`."""

    CHANNELS: tuple[int, int, int, int] = (64, 128, 256, 512)  # c2 (1/4), c3 (1/8), c4 (1/16), c5 (1/32)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        init_weights(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(B, 3, h, w) -> c2 (B, 64, h/4, w/4), c3 (.., h/8), c4 (.., h/16), c5 (B, 512, h/32, w/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5

    def load_pretrained(self, pretrained: str) -> None:
        """Load torchvision-named ResNet18 weights from a path, URL or "imagenet"; `fc.*` is ignored."""
        source = RESNET18_IMAGENET_URL if pretrained == "imagenet" else pretrained
        load_backbone_weights(self, source, ignore=lambda key: key.startswith("fc."))


def deconv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """4x4 transposed conv, stride 2, padding 1: exactly doubles h and w."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResNet18SimpleBaseline(nn.Module):
    """SimpleBaselines: ResNet18 (1/32) -> 3 deconvs (256 ch) -> 1/4 -> 1x1 head.

    forward: (B, 3, h, w) -> (B, K, h/4, w/4) raw logits; h, w divisible by 32.
    `pretrained`: None (random), "imagenet" (torchvision URL), or a path/URL of a torchvision-named
    resnet18 state_dict.
    """

    INPUT_MEAN = IMAGENET_MEAN
    INPUT_STD = IMAGENET_STD
    DECONV_CHANNELS = 256

    def __init__(self, num_joints: int, pretrained: str | None = None) -> None:
        super().__init__()
        check_num_joints(num_joints)
        self.backbone = ResNet18Backbone()
        c = self.DECONV_CHANNELS
        self.deconv = nn.Sequential(deconv_bn_relu(512, c), deconv_bn_relu(c, c), deconv_bn_relu(c, c))
        init_weights(self.deconv)
        self.head = heatmap_head(c, num_joints)
        if pretrained is not None:
            self.backbone.load_pretrained(pretrained)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x)
        c5 = self.backbone(x)[3]
        return self.head(self.deconv(c5))
