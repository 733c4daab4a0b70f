"""The original project's experiment at a fixed budget: five architectures, three data arms, ImageNet
init vs none, two seeds for the leading two, all evaluated on one held-out split, in one table.

    python benchmarks/model_comparison/compare_models.py [--minutes 20 | --steps 1500] [--out runs/compare]
        [--resnet-weights resnet18.pth] [--config compare_cpu] [--mini 20000]

Every run trains through `fit` with one shared config (data, augmentation, resolution, optimiser,
schedule) and differs only in model, init, seed and data arm. The budget is a number of optimizer
steps: the cosine schedule needs its end in advance, and a step count reproduces on any machine.
`--minutes M` is the wall-clock alternative (fair to slow models): it times a few steps of each run
and fixes that run's step count in its run.json, so a resumed run keeps the same schedule.
Rerunning the command skips finished runs (done.json) and resumes unfinished ones from last.pt; the
Markdown table and the plot are rewritten after every run (`--report-only` just rewrites them).
Start the same command several times (one per core or GPU) to train runs side by side: each process
claims a run no other holds (compare_claim.py) and waits when only the others' runs are left.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from compare_claim import Claim, try_claim
from compare_doc import write_report
from compare_report import leaders
from compare_run import (
    Run,
    execute,
    fill_epochs,
    make_run,
    run_config,
    seconds_per_step,
)
from squatpose import atomic
from squatpose.config import from_dict
from squatpose.config import to_dict as config_to_dict
from squatpose.joints import get_joint_set
from squatpose.pose.data.dataset import load_records, read_coco_json
from squatpose.pose.data.subsets import make_subset
from squatpose.pose.training.config import Config, DatasetSpec, load_config

MODELS = ("resnet18", "resnet18_fpn", "dilated_cnn", "resnet18_fpn_attn", "efflite0")
RESNETS = ("resnet18", "resnet18_fpn", "resnet18_fpn_attn")
WAIT_S = 30.0  # how often an idle worker looks again while other workers' runs decide the rest of the plan
REPO = Path(__file__).resolve().parents[2]
log = logging.getLogger("compare_models")


def first_plan(models: tuple[str, ...], seed: int, resnet_weights: str | None) -> dict[str, list[Run]]:
    """Runs known before any result: every architecture from scratch on all data, and ImageNet init."""
    imagenet = []
    for model in models:
        if model == "efflite0":
            imagenet.append(make_run(model, "imagenet", "all", seed))
        elif model in RESNETS:
            imagenet.append(make_run(model, "imagenet", "all", seed,
                                     None if resnet_weights else "not run: no ImageNet file "
                                                                 "(--resnet-weights)"))
    return {"architecture": [make_run(m, "none", "all", seed) for m in models], "imagenet": imagenet}


def second_plan(first: dict[str, list[Run]], done: dict[str, dict], seed: int) -> dict[str, list[Run]] | None:
    """The data arms for the leading run and a second seed for the leading two; None until they are known."""
    candidates = [r for r in first["architecture"] + first["imagenet"] if r.skip is None]
    if any(r.run_id not in done for r in candidates):
        return None
    top = leaders([done[r.run_id] for r in candidates], 2)
    best = top[0]["run"]
    data = [make_run(best["model"], best["init"], arm, best["seed"]) for arm in ("all", "lower", "random")]
    seeds = [make_run(r["run"]["model"], r["run"]["init"], "all", seed + 1) for r in top]
    return {"data": data, "seeds": seeds}


def _write_eligible(spec: DatasetSpec, out: Path, config: Config) -> int:
    """The persons `fit` would train on from this file (enough labelled joints), as a COCO JSON."""
    joint_set = get_joint_set(config.data.joint_set)
    keep = {r.ann_id for r in load_records(spec.annotations, spec.images, joint_set,
                                           min_joints=config.data.min_joints,
                                           include_crowd=config.data.include_crowd)}
    data = read_coco_json(Path(spec.annotations))
    persons = [a for a in data["annotations"] if a["id"] in keep]
    image_ids = {a["image_id"] for a in persons}
    atomic.write_text(out, json.dumps({**data, "annotations": persons,
                                       "images": [i for i in data["images"] if i["id"] in image_ids]}))
    return len(persons)


def prepare_arms(config: Config, data_dir: Path, mini: int | None, seed: int) -> dict:
    """Training specs of the three arms: (a) all, (b) lower-body visible, (c) random, same size as (b) per
    file.

    (b) comes from `make_subset(lower="visible")` (all six joints visible, v = 2, as the original); (c) is
    drawn per source file among the persons training would use, so (b) and (c) differ in cleanliness, not size
    or mix. Written once under data_dir (deterministic) and reused on resume.
    """
    summary_path = data_dir / "arms.json"
    source = {"train": [vars(s) for s in config.data.train], "mini": mini, "seed": seed,
              "min_joints": config.data.min_joints, "joint_set": config.data.joint_set}
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary["source"] != source:
            raise SystemExit(f"{summary_path}: made from other data ({summary['source']}); choose a new "
                             "--out")
        return {arm: tuple(DatasetSpec(**s) for s in specs) for arm, specs in summary["specs"].items()} | {
            "persons": summary["persons"]}
    data_dir.mkdir(parents=True, exist_ok=True)
    joint_set = get_joint_set(config.data.joint_set)
    specs: dict[str, list[DatasetSpec]] = {"all": [], "lower": [], "random": []}
    persons = {"all": 0, "lower": 0, "random": 0}
    for i, spec in enumerate(config.data.train):
        stem = f"{i}_{Path(spec.annotations).stem}"
        pool = spec
        if mini:
            make_subset(spec.annotations, data_dir / f"{stem}_mini.json", joint_set, mini=mini, seed=seed)
            pool = replace(spec, annotations=str(data_dir / f"{stem}_mini.json"))
        eligible = data_dir / f"{stem}_eligible.json"
        persons["all"] += _write_eligible(pool, eligible, config)
        specs["all"].append(pool)
        lower = make_subset(eligible, data_dir / f"{stem}_lower.json", joint_set, lower="visible")
        if lower["persons"] == 0:
            continue
        make_subset(eligible, data_dir / f"{stem}_random.json", joint_set, mini=lower["persons"], seed=seed)
        for arm in ("lower", "random"):
            specs[arm].append(replace(spec, annotations=str(data_dir / f"{stem}_{arm}.json")))
            persons[arm] += lower["persons"]
    summary = {"source": source, "specs": {arm: [vars(s) for s in v] for arm, v in specs.items()},
               "persons": persons}
    atomic.write_text(summary_path, json.dumps(summary, indent=1))
    return {arm: tuple(v) for arm, v in specs.items()} | {"persons": persons}


def requested_budget(args: argparse.Namespace) -> dict:
    kind, value = ("minutes", args.minutes) if args.minutes else ("steps", args.steps)
    return {"kind": kind, "requested": value, "evals": args.evals}


def check_budget(where: Path, budget: dict, args: argparse.Namespace) -> dict:
    """Refuse to mix budgets in one table: a run started or finished under another budget stops the
    command."""
    wanted = requested_budget(args)
    if any(budget.get(k) != v for k, v in wanted.items()):
        raise SystemExit(f"{where}: started with budget {budget}, now asked for {wanted}; "
                         "rerun with the same budget or choose a new --out")
    return budget


def budget_for(run_dir: Path, args: argparse.Namespace, probe: Callable[[], float],
               sibling: dict | None = None) -> dict:
    """The run's step budget: from its run.json when it was started before, else the step count of `sibling`
    (the finished run of the same model and init on all data), else from --steps/--minutes.

    Data arms and second seeds take their sibling's steps so they differ from it in data or seed only: a
    timing probe is noisier (a few steps, under whatever else the machine runs) than those differences.
    """
    if (run_dir / "run.json").exists():
        return check_budget(run_dir / "run.json",
                            json.loads((run_dir / "run.json").read_text())["budget"], args)
    wanted = requested_budget(args)
    if sibling is not None:
        return {**sibling["budget"], **wanted, "steps_of": sibling["run"]["run_id"]}
    if args.minutes:
        wanted["seconds_per_step"] = round(probe(), 4)
        steps = args.minutes * 60 / wanted["seconds_per_step"]
    else:
        steps = args.steps
    wanted["steps"] = max(1, math.ceil(steps / args.evals)) * args.evals
    return wanted


def check_recipe(path: Path, base: Config) -> None:
    """One table, one recipe: refuse to add runs made with another config (or --set) to the same --out."""
    def as_json(config: Config) -> dict:
        return json.loads(json.dumps(config_to_dict(config)))

    recipe = as_json(base)
    # read back through the config classes: options added since the runs began enter at their defaults
    if path.exists() and as_json(from_dict(Config, json.loads(path.read_text()))) != recipe:
        raise SystemExit(f"{path}: the runs here used another recipe; rerun with the same config or a new "
                         "--out")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(recipe, indent=1))


def claim_next(pending: list[Run], runs_dir: Path) -> tuple[Run, Claim] | None:
    """The first pending run no other worker holds, claimed for this process."""
    for run in pending:
        claim = try_claim(runs_dir / run.run_id)
        if claim is not None:
            return run, claim
    return None


def run_all(args: argparse.Namespace, command: str) -> int:
    """Run (or resume) every pending run of the plan; returns the number of runs finished now.

    Other processes running the same command on the same --out share the work: each takes a run no one
    else holds, and one with nothing to take waits while the others' runs still decide the rest of the plan.
    """
    base = load_config(args.config, args.set)
    check_recipe(args.out / "recipe.json", base)
    arms = prepare_arms(base, args.out / "data", args.mini, args.seed)
    first = first_plan(tuple(args.models), args.seed, args.resnet_weights)
    finished = 0
    while True:
        done = load_done(args.out)
        for run_id, d in done.items():
            check_budget(args.out / "runs" / run_id / "done.json", d["budget"], args)
        second = second_plan(first, done, args.seed)
        plan = first | (second or {})
        pending = [r for runs in plan.values() for r in runs if r.skip is None and r.run_id not in done]
        write_report(args, plan, done, arms["persons"], command)
        if not pending or args.report_only or (args.max_runs is not None and finished >= args.max_runs):
            return finished
        claimed = claim_next(pending, args.out / "runs")
        if claimed is None:
            if second is not None:
                return finished  # the plan is complete and every pending run has a worker
            log.info("all %d pending run(s) are taken by other workers; waiting for their results",
                     len(pending))
            time.sleep(WAIT_S)
            continue
        run, claim = claimed
        try:
            if (args.out / "runs" / run.run_id / "done.json").exists():
                continue  # finished by another worker between listing and claiming
            run_dir = args.out / "runs" / run.run_id

            def config_for(steps: int, evals: int, run: Run = run) -> Config:
                return fill_epochs(run_config(base, run, arms[run.data], steps, evals, args.resnet_weights))

            sibling = done.get(make_run(run.model, run.init, "all", args.seed).run_id)
            budget = budget_for(run_dir, args, lambda: seconds_per_step(config_for(8, 1)), sibling)
            config = config_for(budget["steps"], args.evals)
            log.info("run %s: %d steps", run.run_id, budget["steps"])
            execute(run, run_dir, config, budget)
            finished += 1
        finally:
            claim.release()


def load_done(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/done.json"))}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=1500, help="optimizer steps per run (default 1500)")
    budget.add_argument("--minutes", type=float, default=None,
                        help="training minutes per run, fixed as steps")
    parser.add_argument("--config", default="compare_cpu",
                        help="recipe name or YAML file (default compare_cpu)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "compare", help="runs and derived data")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seed", type=int, default=0, help="seed of every run; the second seed is seed+1")
    parser.add_argument("--evals", type=int, default=10,
                        help="held-out evaluations per run (the plot's points)")
    parser.add_argument("--resnet-weights", default=None, metavar="PATH",
                        help="torchvision resnet18 ImageNet file for the ResNet models' ImageNet rows")
    parser.add_argument("--mini", type=int, default=None, metavar="N",
                        help="first draw N random persons per training file (COCO 2017: the original's "
                             "20000)")
    parser.add_argument("--max-runs", type=int, default=None,
                        help="stop after this many runs (run in slices)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the table and plot, train nothing")
    parser.add_argument("--bootstrap", type=int, default=2000,
                        help="bootstrap resamples of the held-out persons")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "model-comparison.md")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "model-comparison.png")
    args = parser.parse_args(argv)
    if args.resnet_weights and not Path(args.resnet_weights).is_file():
        parser.error(f"--resnet-weights {args.resnet_weights}: file not found")
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # the command as it reproduces the table: without the flags that only slice or skip the work
    kept, skip_next = [], False
    for arg in argv:
        if skip_next or arg == "--report-only":
            skip_next = False
            continue
        skip_next = arg == "--max-runs"
        if not skip_next and not arg.startswith("--max-runs="):
            kept.append(arg)
    command = "python benchmarks/model_comparison/compare_models.py " + shlex.join(kept)
    n = run_all(args, command)
    print(f"{n} run(s) finished now; table {args.doc}, plot {args.plot}")


if __name__ == "__main__":
    main()
