"""An exponential moving average of the weights (train.ema_decay): the model that is validated and saved.

Batch-norm statistics follow the augmented batches, so a single step's weights score about one point
apart from epoch to epoch on the dev split; their average over the last few hundred steps moves less, so
the selected epoch owes less to luck.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from squatpose.pose.checkpoint import unwrap


class WeightAverage:
    """`model` holds decay·average + (1 − decay)·weights after every update, buffers included."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"train.ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(unwrap(model)).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def update(self, model: nn.Module, step: int) -> None:
        """Fold in `model`'s weights after optimiser step `step` (0-based)."""
        # Early on the average would be mostly the starting weights (fresh output channels among them):
        # the effective decay ramps up over the first steps.
        decay = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            current_weights = unwrap(model).state_dict().values()
            for average, current in zip(self.model.state_dict().values(), current_weights):
                if average.dtype.is_floating_point:
                    average.lerp_(current.detach(), 1 - decay)
                else:  # batch counters
                    average.copy_(current)
