"""benchmarks/model_comparison/compare_models.py: budget, resume, arms, table and plot on a tiny synthetic
plan; its statistics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import write_tiny_coco
from torch import nn

import compare_models
from compare_claim import try_claim
from compare_models import budget_for, check_recipe, first_plan, main, parse_args
from compare_report import bootstrap, verdict
from compare_run import count_macs
from squatpose.config import to_dict as config_to_dict
from squatpose.pose.checkpoint import read_checkpoint
from squatpose.pose.training import loop
from squatpose.pose.training.config import load_config

STEPS, EVALS = 3, 2  # 3 steps round up to 4: two evaluations of 2 steps each


@pytest.fixture()
def tiny_setup(tmp_path, tiny_coco):
    """A config over tiny COCO sets; one training person lacks an ankle, so arm (b) has 7 of 8 persons."""
    train_json, images = tiny_coco
    data = json.loads(train_json.read_text())
    kps = data["annotations"][3]["keypoints"]
    kps[15 * 3 + 2] = 0
    (tmp_path / "train.json").write_text(json.dumps(data))
    val_json, val_images = write_tiny_coco(tmp_path / "val", n_images=6, seed=5)
    config = {"data": {"train": [{"annotations": str(tmp_path / "train.json"), "images": str(images)}],
                       "val": [{"annotations": str(val_json), "images": str(val_images)}],
                       "joint_set": "lower6", "min_joints": 2, "num_workers": 0},
              "codec": {"input_wh": [32, 64], "stride": 4, "sigma": 1.5},
              "train": {"batch_size": 4, "warmup_steps": 1, "threads": 1,
                        "val_flip_test": True, "amp": False}}
    (tmp_path / "compare.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _argv(root: Path, *extra: str) -> list[str]:
    return ["--config", str(root / "compare.yaml"), "--out", str(root / "out"), "--steps", str(STEPS),
            "--evals", str(EVALS), "--models", "resnet18", "dilated_cnn", "--bootstrap", "200",
            "--doc", str(root / "docs" / "comparison.md"), "--plot",
            str(root / "docs" / "comparison.png"), *extra]


def test_plan_runs_resume_and_report(tiny_setup, monkeypatch):
    root = tiny_setup
    # fit's own curves.png: slow, tested elsewhere
    monkeypatch.setattr(loop, "plot_curves", lambda *args: None)
    runs = root / "out" / "runs"
    main(_argv(root, "--max-runs", "1"))
    assert sorted(p.parent.name for p in runs.glob("*/done.json")) == ["resnet18-none-all-s0"]
    doc = (root / "docs" / "comparison.md").read_text()
    assert "Status: pending" in doc and "| dilated_cnn-none-all-s0 | pending |" in doc
    first_done = (runs / "resnet18-none-all-s0" / "done.json").stat().st_mtime_ns

    # interrupt the next run during its second validation: its last.pt holds the first epoch only
    calls = {"n": 0}
    real_validate = loop.validate

    def flaky_validate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("interrupted")
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(loop, "validate", flaky_validate)
    with pytest.raises(RuntimeError, match="interrupted"):
        main(_argv(root))
    interrupted = runs / "dilated_cnn-none-all-s0"
    assert not (interrupted / "done.json").exists()
    assert read_checkpoint(interrupted / "last.pt")["train_state"]["step"] == 2
    monkeypatch.setattr(loop, "validate", real_validate)

    (root / "docs" / "comparison-discussion.md").write_text("Read with care: a tiny run.\n")
    main(_argv(root))
    # skipped, not rerun
    assert (runs / "resnet18-none-all-s0" / "done.json").stat().st_mtime_ns == first_done
    steps = [json.loads(line)["step"] for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]  # resumed after epoch 1, not restarted

    done = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/done.json")}
    arch = ["resnet18-none-all-s0", "dilated_cnn-none-all-s0"]
    assert set(arch) <= set(done)
    lead = max((done[r] for r in arch), key=lambda d: d["eval"]["flip"]["pck_box"]["pooled"]["0.05"])["run"]
    data_runs = {f"{lead['model']}-{lead['init']}-{arm}-s0" for arm in ("lower", "random")}
    assert data_runs <= set(done) and len(done) == 6  # 2 + 2 data arms + second seed of the leading two
    arms = json.loads((root / "out" / "data" / "arms.json").read_text())
    assert arms["persons"] == {"all": 8, "lower": 7, "random": 7}
    for d in done.values():
        assert d["steps"] == 4 and d["train_s"] > 0 and d["params"] > 0 and d["macs"] > 0
        assert read_checkpoint(runs / d["run"]["run_id"] / "last.pt")["train_state"]["step"] == 4
        flip = d["eval"]["flip"]
        pooled = flip["pck_box"]["pooled"]["0.1"]
        assert 100 * sum(flip["hits"]["0.1"]) / sum(flip["labelled"]) == pytest.approx(pooled)

    doc = (root / "docs" / "comparison.md").read_text()
    assert "Status: pending" not in doc and "| pending |" not in doc
    assert "| resnet18-imagenet-all-s0 | not run: no ImageNet file (--resnet-weights) |" in doc
    for run_id in done:
        assert f"| {run_id} | " in doc
    assert "(b) minus (c)" in doc and "Seed spread" in doc
    assert "## Discussion" in doc and "Read with care: a tiny run." in doc  # the hand-written part survives
    assert "--max-runs" not in doc and f"--steps {STEPS}" in doc
    assert (root / "docs" / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with pytest.raises(SystemExit, match="started with budget"):  # one table never mixes budgets
        main(_argv(root, "--steps", "8"))
    with pytest.raises(SystemExit, match="another recipe"):
        main(_argv(root, "--set", "train.lr=0.5"))


def test_resnet_imagenet_rows_without_weights_say_why():
    plan = first_plan(("resnet18", "efflite0"), 0, None)
    assert [r.skip for r in plan["imagenet"]] == ["not run: no ImageNet file (--resnet-weights)", None]
    plan = first_plan(("resnet18", "efflite0"), 0, "resnet18.pth")
    assert [r.skip for r in plan["imagenet"]] == [None, None]


def test_minutes_budget_becomes_a_recorded_step_count(tmp_path):
    args = parse_args(["--minutes", "1", "--evals", "4"])
    budget = budget_for(tmp_path, args, probe=lambda: 0.7)  # 60 s / 0.7 s = 85.7 steps → 88 (4 evaluations)
    assert budget == {"kind": "minutes", "requested": 1.0, "evals": 4, "seconds_per_step": 0.7, "steps": 88}
    (tmp_path / "run.json").write_text(json.dumps({"run": {}, "budget": budget}))
    assert budget_for(tmp_path, args, probe=lambda: 99.0) == budget  # resumed: not timed again
    with pytest.raises(SystemExit, match="started with budget"):
        budget_for(tmp_path, parse_args(["--minutes", "2", "--evals", "4"]), probe=lambda: 0.7)


def test_data_arms_and_seeds_take_the_step_count_of_their_sibling(tmp_path):
    args = parse_args(["--minutes", "1", "--evals", "4"])
    sibling = {"run": {"run_id": "m-none-all-s0"},
               "budget": {"kind": "minutes", "requested": 1.0, "evals": 4,
                          "seconds_per_step": 0.7, "steps": 88}}

    def no_probe() -> float:
        raise AssertionError("a run with a sibling is not timed")

    budget = budget_for(tmp_path / "m-none-lower-s0", args, no_probe, sibling)
    assert budget["steps"] == 88 and budget["steps_of"] == "m-none-all-s0"


def test_bootstrap_on_known_inputs():
    labelled = np.full(400, 1.0)
    hits = (np.arange(400) < 200).astype(float)
    value, lo, hi = bootstrap(hits, labelled, n_boot=2000)
    assert value == 50.0 and 44.5 < lo < 47.0 and 53.0 < hi < 55.5  # ±1.96·√(.25/400) = ±4.9 points
    assert bootstrap(np.ones(50), np.full(50, 2.0)) == (50.0, 50.0, 50.0)
    worse = hits.copy()
    worse[:40] = 0  # b misses 40 joints a finds: a − b = 10 points, SE √(.1·.9/400) = 1.5
    diff = bootstrap(hits, labelled, worse, n_boot=2000)
    assert diff[0] == pytest.approx(10.0) and 6.5 < diff[1] < 8.5 and 11.5 < diff[2] < 13.5
    assert verdict(diff).startswith("higher")
    assert verdict(bootstrap(hits, labelled, hits)).startswith("not separable")


def test_count_macs_on_known_layers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
                          nn.Flatten(), nn.Linear(4 * 16 * 16, 2))
    conv = 8 * 8 * 8 * 3 * 9           # outputs × inputs per output
    deconv = 8 * 8 * 8 * 4 * 16        # inputs × outputs per input
    assert count_macs(model, (3, 8, 8)) == conv + deconv + 1024 * 2
    assert torch.is_grad_enabled()


def test_workers_share_the_plan_through_claims(tiny_setup, monkeypatch):
    """A run another worker holds is left to it; with only held runs left, a worker waits for their
    results."""
    root = tiny_setup
    monkeypatch.setattr(loop, "plot_curves", lambda *args: None)
    runs = root / "out" / "runs"
    held = try_claim(runs / "resnet18-none-all-s0")  # another worker trains the first run
    assert held is not None and try_claim(runs / "resnet18-none-all-s0") is None

    main(_argv(root, "--max-runs", "1"))
    assert sorted(p.parent.name for p in runs.glob("*/done.json")) == ["dilated_cnn-none-all-s0"]

    waits = []

    def other_worker_finishes(seconds: float) -> None:
        waits.append(seconds)
        held.release()  # the other worker stopped: its run is free again and this one resumes it

    monkeypatch.setattr(compare_models.time, "sleep", other_worker_finishes)
    main(_argv(root, "--max-runs", "1"))
    assert waits == [compare_models.WAIT_S]
    assert (runs / "resnet18-none-all-s0" / "done.json").exists()
    assert try_claim(runs / "resnet18-none-all-s0") is not None  # released when the run ended


def test_a_recipe_from_before_a_new_config_option_still_matches(tmp_path):
    """Runs made before an option existed used its default: adding the option must not orphan them."""
    base = load_config("compare_cpu")
    recipe = json.loads(json.dumps(config_to_dict(base)))
    del recipe["train"]["distill_weight"]
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    check_recipe(tmp_path / "recipe.json", base)
    recipe["train"]["lr"] = 0.5
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    with pytest.raises(SystemExit, match="another recipe"):
        check_recipe(tmp_path / "recipe.json", base)
