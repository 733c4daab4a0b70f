"""Training curves from metrics.jsonl → PNG (loss and validation PCK per epoch)."""
from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure

from squatpose import atomic
from squatpose.media.figures import figure_png


def plot_curves(metrics_path: str | Path, out_path: str | Path) -> None:
    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    fig = Figure(figsize=(10, 3.8))  # no pyplot: the backend and global figure state stay untouched
    ax_loss, ax_pck = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="train loss", yscale="log", title="training loss")
    for name in [k for k in rows[-1] if isinstance(rows[-1][k], dict) and "pck_box" in rows[-1][k]]:
        for alpha in ("0.05", "0.1"):
            values = [r[name]["pck_box"]["pooled"][alpha] if name in r else None for r in rows]
            ax_pck.plot(epochs, values, marker="o", label=f"{name} PCK@{alpha}")
    ax_pck.set(xlabel="epoch", ylabel="%", title="validation PCK (box)")
    ax_pck.grid(alpha=0.3)
    if ax_pck.lines:
        ax_pck.legend(fontsize=8)
    fig.tight_layout()
    atomic.write_bytes(out_path, figure_png(fig, dpi=100))
