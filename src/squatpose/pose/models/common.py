"""Building blocks and weight loading shared by the pose models.

Every model maps (B, 3, h, w) -> (B, K, h/4, w/4) raw heatmap logits; h and w must be multiples of 32
so that every stride-2 step halves the size exactly and skip connections line up without cropping.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

logger = logging.getLogger(__name__)

# RGB, 0..255 pixel units: x = (rgb - mean) / std.
IMAGENET_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
IMAGENET_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)

SIZE_MULTIPLE = 32
HEAD_INIT_STD = 0.001


def check_input(x: Tensor, multiple: int = SIZE_MULTIPLE) -> None:
    """Raise ValueError unless x is (B, 3, h, w) with h and w divisible by `multiple`."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected input of shape (B, 3, h, w), got {tuple(x.shape)}")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if h % multiple or w % multiple:
        raise ValueError(
            f"input height and width must be divisible by {multiple}, got h={h}, w={w} "
            f"(e.g. 256x192 or 128x96)")


def check_num_joints(num_joints: int) -> None:
    if not isinstance(num_joints, int) or num_joints < 1:
        raise ValueError(f"num_joints must be a positive int, got {num_joints!r}")


def upsample2x(x: Tensor) -> Tensor:
    # Bilinear with half-pixel centres matches the codec's pixel convention (and ONNX Resize).
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Sequential):
    """k x k conv (no bias) + BatchNorm + optional ReLU, 'same' size for stride 1."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 groups: int = 1, relu: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation,
                      groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class SeparableConvBNReLU(nn.Sequential):
    """Depthwise 3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU (MobileNet style, cheap on CPU)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(ConvBNReLU(cin, cin, 3, groups=cin), ConvBNReLU(cin, cout, 1))


def heatmap_head(cin: int, num_joints: int) -> nn.Conv2d:
    """Final 1x1 conv to K logits; tiny init so the first heatmaps are ~0 (standard for heatmap MSE)."""
    conv = nn.Conv2d(cin, num_joints, 1)
    nn.init.normal_(conv.weight, std=HEAD_INIT_STD)
    nn.init.zeros_(conv.bias)
    return conv


def init_weights(module: nn.Module) -> None:
    """He init for convs (fan_out, as torchvision / TF EfficientNet), BN = identity, Xavier for Linear."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            # fan_out per group: torch's kaiming_normal_ ignores groups, which makes depthwise convs
            # ~sqrt(C) too small and the activations of a random-init MobileNet vanish.
            fan_out = m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.ConvTranspose2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def receptive_field(layers: Iterable[tuple[int, int, int]]) -> int:
    """Theoretical receptive field (input pixels, one side) of a chain of (kernel, stride, dilation) layers.

    Each layer widens the field by (k - 1) * d * jump, where jump is the product of the earlier strides.
    """
    rf, jump = 1, 1
    for k, s, d in layers:
        rf += (k - 1) * d * jump
        jump *= s
    return rf


def read_state_dict(source: str) -> dict[str, Tensor]:
    """Load a state_dict from a local path or an http(s) URL (tensors only, on CPU)."""
    is_url = source.startswith(("http://", "https://"))
    if not is_url and not Path(source).is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {source}")
    try:
        if is_url:
            state = torch.hub.load_state_dict_from_url(source, map_location="cpu", weights_only=True)
        else:
            state = torch.load(source, map_location="cpu", weights_only=True)
    except OSError as exc:  # download or disk failure: keep the type, name the source
        raise OSError(f"cannot read pretrained weights from {source}: {exc}") from exc
    except Exception as exc:  # corrupt file, not a torch file, pickled objects
        raise ValueError(f"cannot read pretrained weights from {source}: {exc}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{source} does not hold a plain state_dict (a mapping of names to tensors)")
    return dict(state)


def load_backbone_weights(module: nn.Module, source: str,
                          ignore: Callable[[str], bool] = lambda key: False) -> None:
    """Copy `source` into `module`, strictly: every key but ignored ones must exist with the same shape.

    `num_batches_tracked` may be absent (old torchvision files lack it). Raises ValueError naming the
    file and the first offending keys.
    """
    state = {k: v for k, v in read_state_dict(source).items() if not ignore(k)}
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                  for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems = [f"{label} {keys[:5]}{' ...' if len(keys) > 5 else ''}"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("shape mismatch", mismatched)) if keys]
    if problems:
        raise ValueError(f"pretrained weights {source} do not fit {type(module).__name__}: "
                         + "; ".join(problems))
    module.load_state_dict(state, strict=False)  # strictness checked above
    logger.info("loaded %d pretrained tensors into %s from %s", len(state), type(module).__name__, source)


def sine_position_encoding(h: int, w: int, dim: int, device: torch.device,
                           dtype: torch.dtype) -> Tensor:
    """2D sine/cosine encoding (DETR style) of shape (h*w, dim) on normalised coordinates.

    Coordinates are cell centres divided by the map size, so the same relative position in the crop
    gets the same code at any input size.
    """
    if dim % 4:
        raise ValueError(f"position encoding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = 10000.0 ** (-torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h * (2 * math.pi)
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w * (2 * math.pi)
    ay = ys[:, None] * freqs[None, :]  # (h, dim/4)
    ax = xs[:, None] * freqs[None, :]  # (w, dim/4)
    ey = torch.cat([ay.sin(), ay.cos()], dim=1)[:, None, :].expand(h, w, 2 * quarter)
    ex = torch.cat([ax.sin(), ax.cos()], dim=1)[None, :, :].expand(h, w, 2 * quarter)
    return torch.cat([ey, ex], dim=2).reshape(h * w, dim).to(dtype)
