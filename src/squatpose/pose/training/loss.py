"""Masked heatmap MSE losses.

Both losses ignore joints with weight 0 (unlabelled, or outside the crop). They differ in the divisor:
- `masked_mse` (the original project's): the mean over all B·K maps, so a crop with fewer labelled
  joints contributes a smaller loss and the loss scale depends on how many joints are labelled.
- `visible_mse`: the mean over the labelled maps only, so every labelled joint weighs the same
  whatever the label density of the batch (LSP-extended labels only visible joints).
`distill_loss` mixes either with the same loss against the teacher's soft targets (distillation).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _per_map_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`(B,K,H,W)` × 2 → per-map mean squared error `(B,K)`, computed in float32."""
    return (pred.float() - target.float()).pow(2).mean(dim=(2, 3))


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Original loss: sum of weighted per-map MSE divided by B·K."""
    return (_per_map_mse(pred, target) * weights).sum() / weights.numel()


def visible_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted per-map MSE divided by the number of labelled maps (at least 1)."""
    return (_per_map_mse(pred, target) * weights).sum() / weights.sum().clamp(min=1.0)


def distill_loss(loss_fn: LossFn, pred: torch.Tensor, labels: tuple[torch.Tensor, torch.Tensor],
                 teacher: tuple[torch.Tensor, torch.Tensor], distill_weight: float) -> torch.Tensor:
    """`(1 - a)·loss(pred, label maps, weights) + a·loss(pred, teacher maps, weights)`, a = distill_weight.

    `labels` and `teacher` are (heatmaps `(B,K,H,W)`, weights `(B,K)`); the teacher's weights are its
    scores, so a joint it is unsure of pulls less.
    """
    return ((1 - distill_weight) * loss_fn(pred, *labels)
            + distill_weight * loss_fn(pred, *teacher))


LOSSES = {"masked_mse": masked_mse, "visible_mse": visible_mse}


def get_loss(name: str) -> LossFn:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}") from None
