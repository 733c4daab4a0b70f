"""The original project's sanity check: the loss must fall near zero on one fixed batch."""
from __future__ import annotations

import torch
from tqdm import tqdm

from squatpose.pose.data.dataset import PoseDataset
from squatpose.pose.training.config import Config
from squatpose.pose.training.loop import build_for_training, seed_everything
from squatpose.pose.training.loss import get_loss
from squatpose.pose.training.setup import load_specs


def overfit_one_batch(config: Config, steps: int = 300, progress: bool = True) -> list[float]:
    """Train on one un-augmented batch for `steps` steps; returns the loss per step."""
    seed_everything(config.train.seed)
    torch.set_flush_denormal(True)
    model, joint_set, codec = build_for_training(config, torch.device("cpu"))
    records = load_specs(config.data.train, joint_set, config.data.min_joints,
                         config.data.include_crowd, "train")
    dataset = PoseDataset(records[:config.train.batch_size], codec, joint_set, model.INPUT_MEAN,
                          model.INPUT_STD,
                          box_padding=config.data.box_padding)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr)
    loss_fn = get_loss(config.train.loss)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="overfit one batch", disable=not progress):
        loss = loss_fn(model(batch["image"]), batch["heatmaps"], batch["weights"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
