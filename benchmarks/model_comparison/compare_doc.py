"""docs/model-comparison.md: the model comparison's tables and conclusions, each tied to a number and its
interval. Rows of runs that have not finished say "pending"; rows that cannot run here say why.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from compare_report import (
    ORIGINAL,
    ci,
    difference,
    fmt,
    interval,
    leaders,
    signed,
    verdict,
    write_plot,
)
from squatpose import atomic

ARMS = {"all": "(a) all labelled persons", "lower": "(b) all six lower-body joints visible",
        "random": "(c) random subset, same size as (b)"}
HEADER = ("| run | params (M) | GMACs | CPU ms/crop | train img/s | steps | train min | PCK@0.05 [95% CI] | "
          "PCK@0.1 | PCK@0.2 | OKS-AP | no flip: PCK@0.05 / 0.1 / 0.2 |\n|" + "---|" * 12)
GPU_COMMAND = ("python benchmarks/model_comparison/compare_models.py --config compare_gpu --mini 20000 "
               "--steps 20000 --out runs/compare_gpu --doc docs/model-comparison-gpu.md --plot "
               "docs/model-comparison-gpu.png [--resnet-weights resnet18-f37072fd.pth]")


def _row(run, done: dict | None, n_boot: int) -> str:
    if run.skip or done is None:
        return f"| {run.run_id} | " + " | ".join([run.skip or "pending"] + [""] * 10) + " |"
    flip, plain = done["eval"]["flip"], done["eval"]["plain"]
    no_flip = " / ".join(fmt(plain["pck_box"]["pooled"][a]) for a in ("0.05", "0.1", "0.2"))
    return (f"| {run.run_id} | {done['params'] / 1e6:.2f} | {done['macs'] / 1e9:.2f} | "
            f"{done['ms_per_crop']:.1f} | {done['train_images_per_s']:.1f} | {done['steps']} | "
            f"{done['train_s'] / 60:.1f} | {ci(interval(done, n_boot))} | "
            f"{fmt(flip['pck_box']['pooled']['0.1'])} | {fmt(flip['pck_box']['pooled']['0.2'])} | "
            f"{fmt(flip['oks']['AP'])} | {no_flip} |")


def _table(runs, done: dict[str, dict], n_boot: int) -> list[str]:
    return [HEADER] + [_row(r, done.get(r.run_id), n_boot) for r in runs] + [""]


def _per_joint(done: dict[str, dict]) -> list[str]:
    if not done:
        return ["Pending: no run has finished.", ""]
    names = list(next(iter(done.values()))["eval"]["flip"]["pck_box"]["per_joint"]["0.05"])
    lines = ["PCK@0.05 / 0.1 / 0.2 per joint on the held-out split, flip test.", "",
             "| run | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for run_id, d in done.items():
        per = d["eval"]["flip"]["pck_box"]["per_joint"]
        lines.append(f"| {run_id} | " + " | ".join(
            " / ".join(fmt(per[a][n], 0) for a in ("0.05", "0.1", "0.2")) for n in names) + " |")
    return lines + [""]


def _conclusions(plan: dict, done: dict[str, dict], n_boot: int) -> list[str]:
    """One sentence per question that has its runs; each names a number and its interval."""
    out = []
    arch = [done[r.run_id] for r in plan["architecture"] if r.run_id in done]
    if len(arch) == len(plan["architecture"]) and arch:
        lead = leaders(arch, 1)[0]
        lid = lead["run"]["run_id"]
        diffs = {d["run"]["run_id"]: difference(lead, d, n_boot) for d in arch if d is not lead}
        parts = [f"{run_id} {signed(diff)}, {verdict(diff)}" for run_id, diff in diffs.items()]
        out.append(f"- **Architectures** (from scratch, same budget): {lid} leads with PCK@0.05 "
                   f"{ci(interval(lead, n_boot))}. Leader minus each other model: " + "; ".join(parts) + ".")
        small = next((d for d in arch if d["run"]["model"] == "dilated_cnn"), None)
        if small is not None and small is not lead:
            diff = difference(small, lead, n_boot)
            out.append(f"- **A lightweight, leg-specialised model** (dilated_cnn, {small['macs'] / 1e9:.2f} "
                       f"GMACs against {lead['macs'] / 1e9:.2f}): dilated_cnn minus {lid} is {signed(diff)}, "
                       f"{verdict(diff)}.")
    for run in plan.get("imagenet", []):
        scratch = done.get(run.run_id.replace("-imagenet-", "-none-"))
        if run.run_id in done and scratch is not None:
            diff = difference(done[run.run_id], scratch, n_boot)
            out.append(f"- **ImageNet init** for {run.model}: ImageNet minus none is {signed(diff)}, "
                       f"{verdict(diff)}.")
    data = {r.data: done.get(r.run_id) for r in plan.get("data", [])}
    if data and all(data.values()):
        clean, size, alone = (difference(data["lower"], data["all"], n_boot),
                              difference(data["lower"], data["random"], n_boot),
                              difference(data["random"], data["all"], n_boot))
        out.append(f"- **A smaller but cleaner subset** ({data['lower']['run']['model']}): (b) minus (a) is "
                   f"{signed(clean)}, {verdict(clean)}; at equal size, (b) minus (c) is {signed(size)} "
                   f"({verdict(size)}: cleanliness alone); (c) minus (a) is {signed(alone)} "
                   f"({verdict(alone)}: size alone).")
    for run in plan.get("seeds", []):
        first = done.get(run.run_id.rsplit("-s", 1)[0] + f"-s{run.seed - 1}")
        if run.run_id in done and first is not None:
            out.append(f"- **Seed spread** of {run.model} ({run.init}): PCK@0.05 "
                       f"{ci(interval(first, n_boot))} with seed {run.seed - 1}, "
                       f"{ci(interval(done[run.run_id], n_boot))} with seed {run.seed}.")
    return out or ["Pending: the conclusions appear when their runs have finished."]


def write_report(args: argparse.Namespace, plan: dict, done: dict[str, dict], persons: dict,
                 command: str) -> None:
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    runs = {r.run_id: r for block in plan.values() for r in block if r.skip is None}
    finished = sum(run_id in done for run_id in runs)
    shown = {run_id: d for run_id, d in done.items() if run_id in runs}
    has_plot = write_plot(shown, args.plot)
    steps = math.ceil(args.steps / args.evals) * args.evals
    budget = (f"{args.minutes:g} training minutes (equal compute time, fair to slow models; each run times a "
              "few steps at its start and fixes its step count in its run.json, so a resumed run keeps its "
              "schedule; the data arms and the second seed take the step count of the same model's run on "
              "all data, so they differ from it in data or seed only; the train min column shows the time "
              "each run really took)" if args.minutes
              else f"{steps} optimizer steps (reproducible on any machine)")
    lines = ["# Model comparison: architectures × data at a fixed budget", ""]
    if finished < len(runs) or "data" not in plan:
        lines += [(f"**Status: pending.** {finished} of the runs planned so far have finished; the data and "
                  "seed runs are planned once the architecture runs are done. Numbers appear here only from "
                  "finished runs of the command below." + _cost(plan, args)), ""]
    lines += ["## Protocol", "",
              ("Every run trains through `squatpose.pose.training.loop.fit` with one recipe "
              f"(`{_rel(args.config)}`: same data arm, augmentation, resolution, optimiser, schedule, seed) "
              f"for {budget} per run ({args.evals} evaluation(s) on the held-out split during training), "
              "then its last.pt (not best.pt, which is chosen on the same split) is evaluated on the "
              "held-out split (the config's first validation set) in image pixels: PCK normalised by the "
              "larger GT box side, pooled over labelled lower-body joints, with and without flip test, and "
              f"OKS-AP. Intervals: 95 % percentile bootstrap over held-out persons ({args.bootstrap} "
              "resamples); differences are paired. CPU ms/crop: median of batch-1 PyTorch (eager) forward "
              "passes at the run's threads; train img/s: images over training time (data loading included, "
              "validation excluded)."
              + (f" Threads: {_threads(shown)}." if shown else "")), "",
              "Training persons per data arm: "
              + ", ".join(f"{ARMS[a]} {n}" for a, n in persons.items()) + ".",
              "", "Command:", "", "```", command, "```", "",
              "## Architectures (from scratch, all data)", "",
              *_table(plan["architecture"], done, args.bootstrap),
              "## ImageNet initialisation", "", *_table(plan["imagenet"], done, args.bootstrap),
              "## Data: the original's question", "",
              "The leading run's model and init, trained on " + "; ".join(ARMS.values()) + ".", ""]
    lines += _table(plan["data"], done, args.bootstrap) if "data" in plan else ["Pending.", ""]
    lines += ["## Second seed for the leading two", ""]
    lines += _table(plan["seeds"], done, args.bootstrap) if "seeds" in plan else ["Pending.", ""]
    lines += ["## Conclusions", "", *_conclusions(plan, done, args.bootstrap), ""]
    lines += _discussion(args.doc)
    lines += ["## What the original project reported", "", ORIGINAL, "", "## Per joint", "",
              *_per_joint(shown), "## Training curves", ""]
    plot = os.path.relpath(args.plot, args.doc.parent)
    lines += [f"![PCK@0.05 over training time]({plot})", ""] if has_plot else ["Pending.", ""]
    lines += ["## With a GPU and COCO 2017", "",
              ("The same script, unchanged, at 256×192 with a larger budget; `--mini 20000` first draws the "
              "original's 20 000 random persons, arm (b) is the `--lower-visible` subset of them (the same "
              "`make_subset` as `squatpose data subset --lower-visible`), and the held-out split is COCO "
              "val2017 (without `--mini`, arm (a) is all of COCO train2017, as in the original's FPN "
              "comparison):"),
              "", "```", GPU_COMMAND, "```", ""]
    atomic.write_text(args.doc, "\n".join(lines))


def _discussion(doc: Path) -> list[str]:
    """The hand-written reading of the numbers, kept in `<doc>-discussion.md` so regenerating keeps it."""
    path = doc.with_name(doc.stem + "-discussion.md")
    if not path.is_file():
        return []
    return ["## Discussion", "", f"(Written by hand in `{path.name}`, from the numbers above.)", "",
            path.read_text().strip(), ""]


def _cost(plan: dict, args: argparse.Namespace) -> str:
    """The plan's size: known runs, plus the 2 data-arm and 2 second-seed runs (their total, when budgeted in
    time)."""
    total = sum(r.skip is None for r in plan["architecture"] + plan["imagenet"]) + 4
    hours = (f", {total * args.minutes / 60:.1f} hours of training plus the evaluations" if args.minutes
             else "")
    return f" The whole plan is {total} runs{hours}."


def _threads(done: dict[str, dict]) -> str:
    return ", ".join(sorted({str(d["threads"]) for d in done.values()}))


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[2]))
    except ValueError:
        return str(path)
