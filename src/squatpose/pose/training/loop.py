"""fit(): the training loop. Setup lives in setup.py, validation in evaluation/evaluate.py."""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from squatpose import atomic
from squatpose.config import to_dict
from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import (
    atomic_save,
    load_state,
    load_state_across_joint_sets,
    make_checkpoint,
    read_checkpoint,
    unwrap,
)
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.evaluation.evaluate import predict_records, score_predictions
from squatpose.pose.models import build_model
from squatpose.pose.predictor import TorchRunner
from squatpose.pose.training.config import Config
from squatpose.pose.training.curves import plot_curves
from squatpose.pose.training.loss import LossFn, distill_loss, get_loss
from squatpose.pose.training.setup import (
    load_specs,
    make_optimizer,
    make_schedule,
    make_train_loader,
    setup_distributed,
)
from squatpose.pose.training.weight_average import WeightAverage

log = logging.getLogger(__name__)


class TrainingState:
    """Everything a resumed run needs besides the weights."""

    def __init__(self) -> None:
        self.epoch, self.batch_in_epoch, self.step, self.best = 0, 0, 0, -math.inf
        self.train_s = 0.0  # seconds in training steps (data loading included, validation not), over resumes
        # The epoch's loss so far: a run resumed mid-epoch logs the mean over the whole epoch, not its rest.
        self.loss_sum, self.loss_batches = 0.0, 0

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "step": self.step,
                "best": self.best,
                "train_s": self.train_s, "loss_sum": self.loss_sum, "loss_batches": self.loss_batches}

    def next_epoch(self) -> None:
        self.epoch, self.batch_in_epoch, self.loss_sum, self.loss_batches = self.epoch + 1, 0, 0.0, 0


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def build_for_training(config: Config, device: torch.device):
    joint_set = get_joint_set(config.data.joint_set)
    codec = HeatmapCodec(tuple(config.codec.input_wh), config.codec.stride, config.codec.sigma)
    model = build_model(config.model.name, joint_set.num_joints, pretrained=config.model.pretrained,
                        stride=codec.stride)
    if config.train.init_from:
        ckpt = read_checkpoint(config.train.init_from)
        new_joints = load_state_across_joint_sets(model, ckpt["state_dict"],
                                                  get_joint_set(ckpt["joint_set"]).names,
                                                  joint_set.names, config.train.init_from)
        log.info("initialised weights from %s%s", config.train.init_from,
                 f" (new joints, freshly initialised: {', '.join(new_joints)})" if new_joints else "")
    model.to(device)
    if config.train.channels_last:
        model.to(memory_format=torch.channels_last)
    return model, joint_set, codec


def validate(model, config: Config, val_sets, joint_set, codec) -> dict:
    """PCK/OKS on each validation set in image pixels; `score` is what picks the best checkpoint."""
    was_training = model.training
    runner = TorchRunner(unwrap(model))
    out, scores = {}, []
    for name, records in val_sets:
        xy, conf = predict_records(runner, records, codec, joint_set, model.INPUT_MEAN, model.INPUT_STD,
                                   flip_test=config.train.val_flip_test, box_padding=config.data.box_padding)
        result = score_predictions(name, records, xy, conf, joint_set)
        out[name] = result.to_dict()
        scores.append((name, 0.5 * (result.pck_box.pooled[0.05] + result.pck_box.pooled[0.1])))
        log.info("\n%s", result.tables())
    model.train(was_training)
    selected = [s for name, s in scores if config.train.select_on in (None, name)]
    out["score"] = float(np.mean(selected)) if selected else float("nan")
    return out


def fit(config: Config, out_dir: str | Path, resume: bool = True) -> Path:
    """Train, validating each epoch; writes last.pt, best.pt, metrics.jsonl, curves.png, config.yaml."""
    out_dir = Path(out_dir)
    dist_info = setup_distributed()
    seed_everything(config.train.seed + dist_info.rank)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.set_flush_denormal(True)  # freshly initialised layers produce denormals that are slow on CPU
    model, joint_set, codec = build_for_training(config, dist_info.device)
    train_records = load_specs(config.data.train, joint_set, config.data.min_joints,
                               config.data.include_crowd,
                               "train", config.data.deep_squat_repeat)
    val_sets = [(Path(s.annotations).stem, load_specs((s,), joint_set, 1, False, "val"))
                for s in config.data.val]
    if config.train.select_on is not None and config.train.select_on not in [name for name, _ in val_sets]:
        raise ValueError(f"train.select_on={config.train.select_on!r} names no validation set; the sets are "
                         f"{[name for name, _ in val_sets]}")
    loader, sampler = make_train_loader(config, train_records, codec, joint_set, model.INPUT_MEAN,
                                        model.INPUT_STD, dist_info)
    steps_per_epoch = min(sampler.batches_per_epoch(), config.train.max_steps_per_epoch or 10**9)
    optimizer = make_optimizer(model, config.train)
    schedule = make_schedule(optimizer, config.train, steps_per_epoch * config.train.epochs)
    state = TrainingState()
    average = WeightAverage(model, config.train.ema_decay) if config.train.ema_decay > 0 else None
    if resume and (out_dir / "last.pt").exists():
        _resume(out_dir / "last.pt", model, optimizer, schedule, state, config, average)
    evaluated = average.model if average else model  # what is validated, selected and saved
    if dist_info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out_dir / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))
        _trim_metrics(out_dir / "metrics.jsonl", state.epoch)
    net = DistributedDataParallel(model) if dist_info.world > 1 else model
    loss_fn = get_loss(config.train.loss)
    save = _saver(evaluated, model if average else None, config, joint_set, codec, optimizer, schedule, state,
                  out_dir, dist_info)
    while state.epoch < config.train.epochs:
        train_loss = _train_epoch(net, loader, sampler, optimizer, schedule, loss_fn, state, steps_per_epoch,
                                  config, dist_info, save, average)
        state.next_epoch()
        if not dist_info.is_main:
            continue
        metrics = (validate(evaluated, config, val_sets, joint_set, codec) if val_sets
                   else {"score": -state.epoch})
        record = {"epoch": state.epoch, "step": state.step, "train_s": round(state.train_s, 2),
                  "train_loss": train_loss,
                  "lr": optimizer.param_groups[0]["lr"], **metrics}
        with open(out_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if metrics["score"] > state.best:
            state.best = metrics["score"]
            save("best.pt", metrics)
        save("last.pt", metrics)
        plot_curves(out_dir / "metrics.jsonl", out_dir / "curves.png")
    if dist_info.world > 1:
        torch.distributed.destroy_process_group()
    return out_dir / "best.pt"


def _train_epoch(net, loader, sampler, optimizer, schedule, loss_fn, state, steps_per_epoch,
                 config, dist_info, save, average: WeightAverage | None) -> float:
    sampler.set_epoch(state.epoch, state.batch_in_epoch)
    device = dist_info.device
    use_amp = config.train.amp and device.type == "cuda"
    last_save = tick = time.monotonic()
    bar = tqdm(total=steps_per_epoch, initial=state.batch_in_epoch, desc=f"epoch {state.epoch + 1}",
               unit="batch", disable=not dist_info.is_main, dynamic_ncols=True)
    for batch in loader:
        if state.batch_in_epoch >= steps_per_epoch:
            break
        images = batch["image"].to(device, non_blocking=True)
        if config.train.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = net(images)
        loss = _batch_loss(loss_fn, pred, batch, device, config.train.distill_weight)
        if not torch.isfinite(loss):
            ids = [loader.dataset.records[i].ann_id for i in batch["index"].tolist()]
            raise FloatingPointError(f"loss became {loss.item()} at step {state.step} (annotation ids "
                                     f"{ids[:8]}...); the last checkpoint is untouched — lower the learning "
                                     "rate or check the data")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if average is not None:
            average.update(net, state.step)
        state.step += 1
        state.batch_in_epoch += 1
        # .item() waits for the device: time the step after it
        state.loss_sum, state.loss_batches = state.loss_sum + loss.item(), state.loss_batches + 1
        state.train_s, tick = state.train_s + time.monotonic() - tick, time.monotonic()
        bar.update(1)
        bar.set_postfix(loss=f"{state.loss_sum / state.loss_batches:.2e}",
                        lr=f"{optimizer.param_groups[0]['lr']:.1e}",
                        skipped=int(batch["substituted"].sum()))
        if time.monotonic() - last_save > 60 * config.train.checkpoint_minutes:
            save("last.pt", None)
            last_save = time.monotonic()
    bar.close()
    return state.loss_sum / max(state.loss_batches, 1)


def _batch_loss(loss_fn: LossFn, pred: torch.Tensor, batch: dict, device: torch.device,
                distill_weight: float) -> torch.Tensor:
    """The loss against the labels, mixed with the teacher's soft targets when train.distill_weight > 0."""
    labels = (batch["heatmaps"].to(device), batch["weights"].to(device))
    if distill_weight == 0:
        return loss_fn(pred, *labels)
    teacher = (batch["teacher_heatmaps"].to(device), batch["teacher_weights"].to(device))
    return distill_loss(loss_fn, pred, labels, teacher, distill_weight)


def _saver(model, trained, config, joint_set, codec, optimizer, schedule, state, out_dir, dist_info):
    """`model`'s weights are the checkpoint's; with a weight average, `trained` holds the raw weights that
    training resumes from (`train_weights`, which a release drops)."""
    def save(name: str, metrics: dict | None) -> None:
        if not dist_info.is_main:
            return
        extra = {} if trained is None else {
            "train_weights": {k: v.detach().cpu() for k, v in unwrap(trained).state_dict().items()}}
        ckpt = make_checkpoint(model, config.model.name, joint_set, codec, config=to_dict(config),
                               box_padding=float(config.data.box_padding),
                               epoch=state.epoch, metrics=metrics, train_state=state.to_dict(),
                               optimizer=optimizer.state_dict(), schedule=schedule.state_dict(), **extra)
        atomic_save(ckpt, out_dir / name)
    return save


# What may change when a run is resumed: how long and how it runs, not what it learns.
RESUMABLE_CHANGES = {"train.epochs", "train.checkpoint_minutes", "train.threads", "data.num_workers",
                     "train.val_flip_test"}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_same_config(path: Path, saved: dict | None, config: Config) -> None:
    """Refuse to resume a run under a config that changes what it learns: the recorded config
    would no longer describe the weights."""
    if saved is None:
        return
    # A key the saved config lacks was added to squatpose later: the run used its default.
    before = {**_flatten(to_dict(Config())), **_flatten(saved)}
    now = _flatten(to_dict(config))
    changed = [k for k in sorted(before.keys() | now.keys())
               if k not in RESUMABLE_CHANGES and before.get(k) != now.get(k)]
    if changed:
        listed = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
        raise ValueError(f"{path}: the run was trained with a different config ({listed}); resume with "
                         "the same config (only train.epochs and run settings may change), or start over "
                         "with --no-resume or another --out")


def _trim_metrics(path: Path, epoch: int) -> None:
    """Keep the metrics of epochs up to `epoch` (the checkpoint's): an epoch logged just before a
    kill, but not saved, runs again and must not be listed twice."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line).get("epoch", 0) <= epoch]
    if len(kept) != len(lines):
        atomic.write_text(path, "".join(line + "\n" for line in kept))


def _resume(path: Path, model, optimizer, schedule, state: TrainingState, config: Config,
            average: WeightAverage | None) -> None:
    ckpt = read_checkpoint(path)
    _check_same_config(path, ckpt.get("config"), config)
    load_state(model, ckpt.get("train_weights", ckpt["state_dict"]), path)
    if average is not None:
        load_state(average.model, ckpt["state_dict"], path)
    optimizer.load_state_dict(ckpt["optimizer"])
    schedule.load_state_dict(ckpt["schedule"])
    for key, value in ckpt["train_state"].items():
        setattr(state, key, value)
    log.info("resumed from %s at epoch %d, batch %d", path, state.epoch + 1, state.batch_in_epoch)
