"""HeatmapCodec: keypoints ↔ Gaussian heatmaps. The only module that knows the heatmap pixel convention.

Convention: pixel centres at integer coordinates in both the input crop and the heatmap, so
    x_hm = (x_in + 0.5) / stride - 0.5        x_in = (x_hm + 0.5) * stride - 0.5
Targets are unbiased Gaussians drawn on the full grid at the exact sub-pixel centre (as in the UDP and
DARK papers). Decoding takes the argmax and refines it with a second-order Taylor step on the
log-heatmap after Gaussian modulation (DARK), which is exact for a Gaussian peak. Flipping a heatmap is
an exact column reversal plus the left/right joint swap: with this convention no pixel shift is needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class HeatmapCodec:
    """Encode/decode between crop-input pixel coordinates and heatmaps of size input / stride."""

    input_wh: tuple[int, int] = (192, 256)
    stride: int = 4
    sigma: float = 2.0

    def __post_init__(self) -> None:
        w, h = self.input_wh
        if w % self.stride or h % self.stride:
            raise ValueError(f"input size {self.input_wh} is not divisible by stride {self.stride}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")

    @property
    def heatmap_wh(self) -> tuple[int, int]:
        return self.input_wh[0] // self.stride, self.input_wh[1] // self.stride

    def to_heatmap(self, points_in: np.ndarray) -> np.ndarray:
        return (np.asarray(points_in, np.float64) + 0.5) / self.stride - 0.5

    def to_input(self, points_hm: np.ndarray) -> np.ndarray:
        return (np.asarray(points_hm, np.float64) + 0.5) * self.stride - 0.5

    def encode(self, points_in: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints `(K,2)` in input px and weights `(K,)` → heatmaps `(K,H,W)` float32, weights `(K,)`.

        A joint whose centre falls outside the heatmap gets weight 0 and an empty map, so the loss
        never trains a joint outside the crop toward an empty target.
        """
        w_hm, h_hm = self.heatmap_wh
        centres = self.to_heatmap(points_in)
        weights = np.asarray(weights, np.float32).copy()
        inside = ((centres[:, 0] >= -0.5) & (centres[:, 0] <= w_hm - 0.5)
                  & (centres[:, 1] >= -0.5) & (centres[:, 1] <= h_hm - 0.5))
        weights[~inside] = 0.0
        xs = np.arange(w_hm, dtype=np.float64)
        ys = np.arange(h_hm, dtype=np.float64)
        gx = np.exp(-((xs[None, :] - centres[:, :1]) ** 2) / (2 * self.sigma ** 2))
        gy = np.exp(-((ys[None, :] - centres[:, 1:]) ** 2) / (2 * self.sigma ** 2))
        heatmaps = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
        heatmaps[weights <= 0] = 0.0
        return heatmaps, weights

    def decode(self, heatmaps: np.ndarray, refine: bool = True, modulate: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps `(..., K, H, W)` → points `(..., K, 2)` in input px and scores `(..., K)` (peak value).

        `refine` adds the sub-pixel Taylor step; `modulate` blurs predicted maps first (DARK), which
        smooths network noise but is not needed for clean Gaussian targets.
        """
        heatmaps = np.asarray(heatmaps, np.float32)
        lead, (h_hm, w_hm) = heatmaps.shape[:-2], heatmaps.shape[-2:]
        flat = heatmaps.reshape(-1, h_hm, w_hm)
        index = flat.reshape(len(flat), -1).argmax(axis=1)
        ys, xs = np.divmod(index, w_hm)
        scores = flat[np.arange(len(flat)), ys, xs].astype(np.float64)
        points = np.stack([xs, ys], axis=1).astype(np.float64)
        if refine:
            points += self._dark_offsets(flat, xs, ys, modulate)
        return self.to_input(points).reshape(*lead, 2), scores.reshape(lead)

    def _dark_offsets(self, flat: np.ndarray, xs: np.ndarray, ys: np.ndarray, modulate: bool
                      ) -> np.ndarray:
        """Newton step on the log-heatmap `(N,H,W)` around each argmax → offsets `(N,2)` in heatmap px.

        Maps are Gaussian-modulated (DARK) when the kernel fits inside the map; next to the border a
        blur would leak or mirror mass and shift the peak, so the raw map is used there. The 3×3
        stencil is moved inside the map when the argmax is on the border: a Gaussian's log is a
        quadratic, so the Newton step from a neighbouring stencil is still exact.
        """
        n, h_hm, w_hm = flat.shape
        offsets = np.zeros((n, 2))
        if w_hm < 3 or h_hm < 3:
            return offsets
        radius = int(np.ceil(2 * self.sigma))
        for i in range(n):
            peak = float(flat[i, ys[i], xs[i]])
            if not peak > 0:
                continue
            x, y = int(xs[i]), int(ys[i])
            heat = flat[i]
            if modulate and radius <= x < w_hm - radius and radius <= y < h_hm - radius:
                heat = cv2.GaussianBlur(heat, (2 * radius + 1, 2 * radius + 1), self.sigma,
                                        borderType=cv2.BORDER_CONSTANT)
            cx, cy = min(max(x, 1), w_hm - 2), min(max(y, 1), h_hm - 2)
            patch = np.log(np.maximum(heat[cy - 1:cy + 2, cx - 1:cx + 2].astype(np.float64), 1e-10))
            dx = 0.5 * (patch[1, 2] - patch[1, 0])
            dy = 0.5 * (patch[2, 1] - patch[0, 1])
            dxx = patch[1, 2] - 2 * patch[1, 1] + patch[1, 0]
            dyy = patch[2, 1] - 2 * patch[1, 1] + patch[0, 1]
            dxy = 0.25 * (patch[2, 2] - patch[2, 0] - patch[0, 2] + patch[0, 0])
            det = dxx * dyy - dxy * dxy
            if dxx >= 0 or det <= 1e-12:  # not a proper maximum: keep the argmax
                continue
            step = -np.array([dyy * dx - dxy * dy, dxx * dy - dxy * dx]) / det
            refined = np.array([cx, cy]) + step
            # A noisy map can send the step far away: stay within one cell of the argmax.
            offsets[i] = np.clip(refined - np.array([x, y]), -1.0, 1.0)
        return offsets

    @staticmethod
    def flip(heatmaps: np.ndarray, flip_perm: tuple[int, ...]) -> np.ndarray:
        """Heatmaps `(..., K, H, W)` of a horizontally flipped crop → heatmaps of the unflipped crop."""
        return np.asarray(heatmaps)[..., list(flip_perm), :, ::-1]

    def to_dict(self) -> dict:
        return {"input_wh": list(self.input_wh), "stride": self.stride, "sigma": self.sigma}

    @classmethod
    def from_dict(cls, data: dict) -> HeatmapCodec:
        return cls(input_wh=tuple(data["input_wh"]), stride=int(data["stride"]), sigma=float(data["sigma"]))
