"""Builders used by the training loop: records, loaders, optimiser, schedule, distributed setup."""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from squatpose.joints import JointSet
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import (
    LoadReport,
    PersonRecord,
    PoseDataset,
    load_records,
)
from squatpose.pose.data.sampling import oversample
from squatpose.pose.training.config import Config, DatasetSpec, TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> DistInfo:
    """Under torchrun (WORLD_SIZE > 1) join the process group; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        rank, local = dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return DistInfo(rank, world, device)
    return DistInfo(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))


class EpochSampler(Sampler):
    """Seeded permutation per epoch, sharded by rank, that can start mid-epoch (for exact resume).

    Yields `(epoch, index)` so dataset workers know the epoch for their augmentation seed even
    when the workers persist between epochs.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def batches_per_epoch(self) -> int:
        return (self.n // self.world) // self.batch_size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        order = torch.randperm(self.n, generator=generator)[self.rank::self.world].tolist()
        usable = self.batches_per_epoch() * self.batch_size
        for index in order[self.start_batch * self.batch_size:usable]:
            yield (self.epoch, index)

    def __len__(self) -> int:
        return max(0, (self.batches_per_epoch() - self.start_batch) * self.batch_size)


def load_specs(specs: tuple[DatasetSpec, ...], joint_set: JointSet, min_joints: int, include_crowd: bool,
               what: str, deep_squat_repeat: int = 1) -> list[PersonRecord]:
    """Records of all specs; each spec's `repeat` and `deep_squat_repeat` oversample (training only)."""
    report = LoadReport()
    records: list[PersonRecord] = []
    for spec in specs:
        loaded = load_records(spec.annotations, spec.images, joint_set, min_joints=min_joints,
                              include_crowd=include_crowd, report=report)
        records += oversample(loaded, spec.repeat, deep_squat_repeat)
    log.info("%s data: %s; %d samples per epoch", what, report.summary(), len(records))
    return records


def _seed_worker(_worker_id: int) -> None:
    import cv2
    cv2.setNumThreads(1)  # workers share 2 cores with the model; OpenCV threads would oversubscribe
    np.random.seed(torch.initial_seed() % 2**32)


def check_distill_data(records: list[PersonRecord], distill_weight: float) -> None:
    """Distillation needs teacher keypoints in the training files: stop before training when none has any."""
    if distill_weight == 0:
        return
    carrying = sum(r.teacher is not None for r in records)
    if carrying == 0:
        raise ValueError(f"train.distill_weight={distill_weight} needs teacher keypoints, and no training "
                         "person has any: make them with `squatpose data teacher-keypoints --annotations A "
                         "--images I --teacher T --out O` and train on O (docs/training.md, Distillation)")
    log.info("distillation: %d of %d training samples carry teacher keypoints (weight %.2f)", carrying,
             len(records), distill_weight)


def make_train_loader(config: Config, records: list[PersonRecord], codec: HeatmapCodec, joint_set: JointSet,
                      mean, std, dist_info: DistInfo) -> tuple[DataLoader, EpochSampler]:
    check_distill_data(records, config.train.distill_weight)
    distill = config.train.distill_weight > 0
    dataset = PoseDataset(records, codec, joint_set, mean, std, box_padding=config.data.box_padding,
                          augment=config.data.augment, seed=config.train.seed,
                          teacher_min_score=config.train.distill_min_score if distill else None)
    sampler = EpochSampler(len(dataset), config.train.batch_size, config.train.seed, dist_info.rank,
                           dist_info.world)
    workers = config.data.num_workers
    loader = DataLoader(dataset, batch_size=config.train.batch_size, sampler=sampler, num_workers=workers,
                        drop_last=True, worker_init_fn=_seed_worker, persistent_workers=workers > 0,
                        pin_memory=dist_info.device.type == "cuda", prefetch_factor=4 if workers else None)
    return loader, sampler


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    # One group per (weight decay, lr): with decoder_lr_scale 1 that is the two groups older runs resume with.
    buckets: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lr = cfg.lr if name.startswith("backbone.") else cfg.lr * cfg.decoder_lr_scale
        # No weight decay on norms and biases: decaying BN scales hurts small pose models.
        buckets.setdefault((cfg.weight_decay if p.ndim > 1 else 0.0, lr), []).append(p)
    groups = [{"params": params, "weight_decay": wd, "lr": lr} for (wd, lr), params in buckets.items()]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adam or adamw")


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine to 1% / steps ×0.1 at milestones / constant."""
    if cfg.schedule not in ("cosine", "step", "constant"):
        raise ValueError(f"unknown schedule {cfg.schedule!r}; choose cosine, step or constant")
    warmup = max(1, cfg.warmup_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if cfg.schedule == "cosine":
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))
        if cfg.schedule == "step":
            return 0.1 ** sum(progress >= m for m in cfg.step_milestones)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
