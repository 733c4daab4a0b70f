"""The built-in model's training history across its stages: one table of validation PCK per epoch (a CSV
that is committed, since run folders do not outlive the machine) and the model card's plot.

    python benchmarks/training_progress.py --stage "128×96=runs/v2_s1" --stage "256×192=runs/v2_s2" ... \
        --csv docs/model-v2-training.csv --plot docs/model-v2-progress.png
    python benchmarks/training_progress.py --csv docs/model-v2-training.csv --plot docs/model-v2-progress.png

With --stage, each run folder's metrics.jsonl is read in the given order (epochs numbered on across stages)
and the CSV is (re)written; without, the plot is redrawn from the CSV. Prints the training time per stage
(`train_s`: seconds in training steps, validation not counted; runs older than that field show "–").
"""
from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from matplotlib.figure import Figure

from squatpose import atomic
from squatpose.media.figures import figure_png

# metrics.jsonl name of a validation set → label in the plot
SETS = {"lsp_train_dev": "LSP dev split", "parse": "PARSE", "person_keypoints_val2017": "COCO sample val"}
FIELDS = ["stage", "epoch", "stage_epoch", "step", "train_min", "lr"] + [
    f"{name}_pck{alpha}" for name in SETS for alpha in ("0.05", "0.1")]


def read_stage(label: str, run_dir: Path, first_epoch: int) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        raise SystemExit(f"{path}: not found (a training run folder holds metrics.jsonl)")
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        row = {"stage": label, "epoch": first_epoch + record["epoch"], "stage_epoch": record["epoch"],
               "step": record["step"], "lr": f"{record['lr']:.3g}",
               "train_min": f"{record['train_s'] / 60:.1f}" if "train_s" in record else ""}
        for name in SETS:
            pooled = record.get(name, {}).get("pck_box", {}).get("pooled", {})
            for alpha in ("0.05", "0.1"):
                row[f"{name}_pck{alpha}"] = f"{pooled[alpha]:.2f}" if alpha in pooled else ""
        rows.append(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(path, buffer.getvalue())


def plot(rows: list[dict], reference: tuple[float, float] | None, reference_name: str) -> Figure:
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    epochs = [int(r["epoch"]) for r in rows]
    for (name, label), color in zip(SETS.items(), ("tab:blue", "tab:orange", "tab:green")):
        for alpha, style in (("0.05", "-"), ("0.1", "--")):
            values = [float(r[f"{name}_pck{alpha}"]) if r[f"{name}_pck{alpha}"] else None for r in rows]
            ax.plot(epochs, values, style, marker="o", markersize=3, color=color,
                    label=f"{label} PCK@{alpha}")
    if reference:
        for value, style in zip(reference, ("-", "--")):
            ax.axhline(value, color="grey", linestyle=style, linewidth=0.8)
        ax.text(epochs[0], reference[0] + 1.5, f"{reference_name} on the LSP dev split: "
                f"{reference[0]} / {reference[1]} (grey lines)", fontsize=7, color="grey")
    # a vertical line and a label where each stage starts; labels on three heights so neighbours don't overlap
    starts = [row for i, row in enumerate(rows) if i == 0 or row["stage"] != rows[i - 1]["stage"]]
    for n, row in enumerate(starts):
        epoch = int(row["epoch"])
        if n:
            ax.axvline(epoch - 0.5, color="black", linewidth=0.5, linestyle=":")
        ax.text(epoch - 0.4, 17 + 5 * (n % 3), row["stage"], fontsize=6)
    ax.set(xlabel="epoch (all stages)", ylabel="% (flip test)", ylim=(15, 100),
           title="Built-in model v2: validation per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    fig.tight_layout()
    return fig


def stage_minutes(rows: list[dict]) -> dict[str, str]:
    """Training minutes per stage: the last epoch's cumulative train_s."""
    minutes: dict[str, str] = {}
    for row in rows:
        minutes[row["stage"]] = row["train_min"] or "–"
    return minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", action="append", default=[], metavar="LABEL=RUN_DIR",
                        help="a training stage, in order (repeat); rewrites --csv from the run folders")
    parser.add_argument("--csv", type=Path, required=True,
                        help="the per-epoch table (written with --stage, else read)")
    parser.add_argument("--plot", type=Path, help="write the plot here (PNG)")
    parser.add_argument("--reference", default="88.1,94.4",
                        help="PCK@0.05,PCK@0.1 of the reference model on the LSP dev split (flip), drawn as "
                             "lines")
    parser.add_argument("--reference-name", default="MoveNet Thunder")
    args = parser.parse_args()

    if args.stage:
        rows: list[dict] = []
        for spec in args.stage:
            label, sep, run_dir = spec.partition("=")
            if not sep:
                parser.error(f"--stage {spec!r}: expected LABEL=RUN_DIR")
            rows += read_stage(label, Path(run_dir), len(rows))
        write_csv(rows, args.csv)
    else:
        if not args.csv.exists():
            parser.error(f"{args.csv}: not found; give --stage LABEL=RUN_DIR to write it")
        with args.csv.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    for stage, minutes in stage_minutes(rows).items():
        print(f"{stage}: {minutes} min of training")
    if args.plot:
        reference = tuple(float(v) for v in args.reference.split(",")) if args.reference else None
        atomic.write_bytes(args.plot, figure_png(plot(rows, reference, args.reference_name), dpi=90))
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
