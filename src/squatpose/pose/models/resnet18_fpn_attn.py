"""ResNet18 + FPN + a transformer encoder layer on the fused 1/8 features.

Global self-attention lets every location see the whole body (e.g. the other knee, the hips) which
helps left/right disambiguation and occluded joints. At 256x192 the 1/8 map has 32x24 = 768 tokens.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from squatpose.pose.models.common import init_weights, sine_position_encoding
from squatpose.pose.models.resnet18_fpn import ResNet18FPN


class SelfAttention2d(nn.Module):
    """Post-norm transformer encoder layer over a feature map, shape preserved (B, C, H, W).

    Position: fixed 2D sine encoding on normalised coordinates, added to queries and keys (DETR);
    it is computed from H, W at run time, so any input size works.
    """

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: int = 2) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim, bias=False)  # a key bias shifts each query's logits equally: no-op
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))
        self.norm2 = nn.LayerNorm(dim)
        init_weights(self)

    def _split(self, t: Tensor) -> Tensor:
        # (B, N, C) -> (B, heads, N, C/heads)
        return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        _, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, N, C)
        pos = sine_position_encoding(h, w, c, x.device, x.dtype)
        qk_in = tokens + pos
        q, k, v = (self._split(f(t)) for f, t in ((self.q, qk_in), (self.k, qk_in), (self.v, tokens)))
        att = F.scaled_dot_product_attention(q, k, v)
        tokens = self.norm1(tokens + self.proj(att.transpose(1, 2).flatten(2)))
        tokens = self.norm2(tokens + self.mlp(tokens))
        return tokens.transpose(1, 2).unflatten(2, (h, w))


class ResNet18FPNAttn(ResNet18FPN):
    """resnet18_fpn with self-attention (4 heads, 128 ch) on the fused 1/8 map before upsampling.

    forward: (B, 3, h, w) -> (B, K, h/4, w/4) raw logits; h, w divisible by 32.
    """

    def __init__(self, num_joints: int, pretrained: str | None = None) -> None:
        super().__init__(num_joints, pretrained)
        self.attention = SelfAttention2d(self.CHANNELS, heads=4)

    def context(self, fused: Tensor) -> Tensor:
        return self.attention(fused)
