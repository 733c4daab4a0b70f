"""One run of the model comparison: its config, its step budget, training through `fit`, and its measures.

A run lives in its own folder: `run.json` (what it is and its budget, fixed at its first start), the files
`fit` writes (config.yaml, metrics.jsonl, last.pt, best.pt) and `done.json` (its results, written last:
its presence marks the run finished).
"""
from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from squatpose import atomic
from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import load_records
from squatpose.pose.evaluation.evaluate import predict_records, score_predictions
from squatpose.pose.evaluation.metrics import bbox_norm, pck
from squatpose.pose.models import count_parameters
from squatpose.pose.predictor import TorchRunner
from squatpose.pose.training.config import Config, DatasetSpec
from squatpose.pose.training.loop import build_for_training, fit
from squatpose.pose.training.loss import get_loss
from squatpose.pose.training.setup import (
    DistInfo,
    load_specs,
    make_optimizer,
    make_train_loader,
)


def median_ms(fn, repeats: int) -> float:
    """Median wall time of `fn()` in milliseconds over `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


ALPHAS = (0.05, 0.1, 0.2)


@dataclass(frozen=True)
class Run:
    """One cell of the plan. `skip` says why it cannot run here (it stays a row of the table)."""

    run_id: str
    model: str
    init: str                  # "none" | "imagenet"
    data: str                  # "all" | "lower" | "random"
    seed: int
    skip: str | None = None


def make_run(model: str, init: str, data: str, seed: int, skip: str | None = None) -> Run:
    return Run(f"{model}-{init}-{data}-s{seed}", model, init, data, seed, skip)


def run_config(base: Config, run: Run, train: tuple[DatasetSpec, ...], steps: int, evals: int,
               resnet_weights: str | None) -> Config:
    """The base recipe with this run's model, init, seed, data arm, and `evals` epochs of steps/evals
    steps."""
    pretrained = None
    if run.init == "imagenet":
        pretrained = "imagenet" if run.model == "efflite0" else resnet_weights
    return replace(base, model=replace(base.model, name=run.model, pretrained=pretrained),
                   data=replace(base.data, train=train),
                   train=replace(base.train, seed=run.seed, epochs=evals, max_steps_per_epoch=steps // evals))


def fill_epochs(config: Config) -> Config:
    """Repeat the training data so one epoch holds max_steps_per_epoch batches (fit caps an epoch at the
    data).

    Without it a small data arm would train fewer steps than a large one and the budget would not hold.
    """
    joint_set = get_joint_set(config.data.joint_set)
    n = len(load_specs(config.data.train, joint_set, config.data.min_joints,
                       config.data.include_crowd, "train"))
    if n == 0:
        raise ValueError(f"run {config.model.name}: no training persons in "
                         f"{[s.annotations for s in config.data.train]}")
    need = config.train.max_steps_per_epoch * config.train.batch_size
    factor = math.ceil(need / n)
    if factor <= 1:
        return config
    train = tuple(replace(spec, repeat=spec.repeat * factor) for spec in config.data.train)
    return replace(config, data=replace(config.data, train=train))


def seconds_per_step(config: Config, warmup: int = 2, timed: int = 6) -> float:
    """Measure one optimizer step (data loading included) of this run's model and data."""
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.set_flush_denormal(True)  # as `fit` does: freshly initialised layers make slow denormals otherwise
    model, joint_set, codec = build_for_training(config, torch.device("cpu"))
    records = load_specs(config.data.train, joint_set, config.data.min_joints,
                         config.data.include_crowd, "train")
    loader, _ = make_train_loader(config, records, codec, joint_set, model.INPUT_MEAN,
                                  model.INPUT_STD, DistInfo())
    optimizer, loss_fn = make_optimizer(model, config.train), get_loss(config.train.loss)
    batches = iter(loader)
    start = 0.0
    for i in range(warmup + timed):
        if i == warmup:
            start = time.perf_counter()
        batch = next(batches)
        loss = loss_fn(model(batch["image"]), batch["heatmaps"], batch["weights"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / timed


def count_macs(model: nn.Module, input_chw: tuple[int, int, int]) -> int:
    """Multiply-accumulates of one forward pass over Conv2d, ConvTranspose2d and Linear layers."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels // module.groups * math.prod(module.kernel_size)
        else:
            total += output.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_chw))
    finally:
        for handle in handles:
            handle.remove()
    return total


def person_hits(records: list, xy: np.ndarray) -> dict:
    """Per person: labelled joints and correct joints at each alpha (PCK's own rule), for the bootstrap."""
    gt = np.stack([r.keypoints for r in records])
    labelled = gt[..., 2] > 0
    norm = bbox_norm(np.stack([r.bbox for r in records]))
    hits = {f"{a:g}": [] for a in ALPHAS}
    for i in range(len(gt)):
        one = pck(xy[i:i + 1], gt[i:i + 1, :, :2], labelled[i:i + 1], norm[i:i + 1], alphas=ALPHAS)
        for a in ALPHAS:
            hits[f"{a:g}"].append(int(one.correct[a].sum()))
    return {"labelled": labelled.sum(axis=1).astype(int).tolist(), "hits": hits}


def evaluate_run(run_dir: Path, config: Config) -> dict:
    """Held-out PCK/OKS of last.pt (± flip test), per-person hits, parameters, MACs and ms/crop."""
    loaded = load_model(run_dir / "last.pt")
    spec = config.data.val[0]
    records = load_records(spec.annotations, spec.images, loaded.joint_set, min_joints=1)
    runner = TorchRunner(loaded.model)
    scores = {}
    for flip in (False, True):
        xy, conf = predict_records(runner, records, loaded.codec, loaded.joint_set, loaded.input_mean,
                                   loaded.input_std, flip_test=flip, box_padding=config.data.box_padding,
                                   progress=False)
        result = score_predictions(Path(spec.annotations).stem, records, xy, conf, loaded.joint_set)
        scores["flip" if flip else "plain"] = {**result.to_dict(), **person_hits(records, xy)}
    w, h = loaded.codec.input_wh
    crop = torch.zeros(1, 3, h, w)
    with torch.no_grad():
        ms = median_ms(lambda: loaded.model(crop), repeats=20)
    return {"held_out": str(spec.annotations), "eval": scores, "params": count_parameters(loaded.model),
            "macs": count_macs(loaded.model, (3, h, w)), "ms_per_crop": ms}


def curve(run_dir: Path, val_name: str) -> list[dict]:
    """PCK@0.05 (flip test as configured) on the held-out split after each epoch, with training time."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{"step": r["step"], "train_s": r["train_s"], "pck05": r[val_name]["pck_box"]["pooled"]["0.05"]}
            for r in rows if val_name in r]


def execute(run: Run, run_dir: Path, config: Config, budget: dict) -> dict:
    """Train (resuming from last.pt) and evaluate one run; writes run.json first and done.json last."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "run.json").exists():
        atomic.write_text(run_dir / "run.json", json.dumps({"run": asdict(run), "budget": budget}, indent=1))
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    fit(config, run_dir, resume=True)
    points = curve(run_dir, Path(config.data.val[0].annotations).stem)
    last = points[-1] if points else {"step": 0, "train_s": float("nan")}
    done = {"run": asdict(run), "budget": budget, "steps": last["step"], "train_s": last["train_s"],
            "train_images_per_s": last["step"] * config.train.batch_size / last["train_s"],
            "threads": config.train.threads or torch.get_num_threads(), "curve": points,
            **evaluate_run(run_dir, config)}
    atomic.write_text(run_dir / "done.json", json.dumps(done))
    return done
