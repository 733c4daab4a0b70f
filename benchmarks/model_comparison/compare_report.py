"""The model comparison's statistics, Markdown report and plot, from the finished runs' done.json.

Intervals are percentile bootstraps over the held-out persons (a person's joints stay together); a
difference between two runs resamples the same persons for both (paired), so it is tighter than the
two intervals side by side.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from squatpose import atomic
from squatpose.media.figures import figure_png

ORIGINAL = ("The original project reported a rough PCK@0.05 between 0.17 and 0.50 for its models (ResNet18 + "
            "deconv on a 20K COCO subset, ResNet18-FPN on full COCO and on a \"lower body fully visible\" "
            "subset, a small dilated CNN), averaged per batch in crop space with bugs in its crops and "
            "targets, and concluded that \"a smaller but cleaner lower-body subset beats the huge dataset\" "
            "and that \"a lightweight, leg-specialised model can be competitive\". Its numbers are not "
            "comparable with the ones here (image pixels, box-normalised, pooled over labelled joints of "
            "held-out persons).")


# ------------------------------------------------------------------------------------------ statistics
def _arrays(done: dict, alpha: str, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    scores = done["eval"]["flip" if flip else "plain"]
    return np.asarray(scores["hits"][alpha], float), np.asarray(scores["labelled"], float)


def bootstrap(hits: np.ndarray, labelled: np.ndarray, hits_b: np.ndarray | None = None, n_boot: int = 2000,
              seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Pooled PCK % (or the difference to run b, paired) and its percentile interval over resampled persons.

    hits, hits_b, labelled: `(N,)` correct and labelled joints per person.
    """
    def pooled(h: np.ndarray, lab: np.ndarray) -> np.ndarray:
        return 100.0 * h.sum(-1) / np.maximum(lab.sum(-1), 1)

    def stat(idx):
        value = pooled(hits[idx], labelled[idx])
        return value if hits_b is None else value - pooled(hits_b[idx], labelled[idx])

    rng = np.random.default_rng(seed)
    n = len(labelled)
    draws = np.concatenate([stat(rng.integers(0, n, size=(min(500, n_boot - i), n)))
                            for i in range(0, n_boot, 500)])
    lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(stat(np.arange(n))), float(lo), float(hi)


def leaders(results: list[dict], k: int) -> list[dict]:
    """The k runs with the highest held-out PCK@0.05 (flip test)."""
    return sorted(results, key=lambda d: -d["eval"]["flip"]["pck_box"]["pooled"]["0.05"])[:k]


def interval(done: dict, n_boot: int, alpha: str = "0.05", flip: bool = True) -> tuple[float, float, float]:
    return bootstrap(*_arrays(done, alpha, flip), n_boot=n_boot)


def difference(a: dict, b: dict, n_boot: int, alpha: str = "0.05") -> tuple[float, float, float]:
    """PCK@alpha(a) − PCK@alpha(b) with flip test, paired over the same held-out persons."""
    hits_a, lab_a = _arrays(a, alpha, True)
    hits_b, lab_b = _arrays(b, alpha, True)
    if not np.array_equal(lab_a, lab_b):
        raise ValueError(f"{a['run']['run_id']} and {b['run']['run_id']} were not scored on the same persons")
    return bootstrap(hits_a, lab_a, hits_b, n_boot=n_boot)


def ci(value: tuple[float, float, float]) -> str:
    return f"{value[0]:.1f} [{value[1]:.1f}, {value[2]:.1f}]"


def signed(value: tuple[float, float, float]) -> str:
    return f"{value[0]:+.1f} points [{value[1]:+.1f}, {value[2]:+.1f}]"


def verdict(diff: tuple[float, float, float]) -> str:
    if diff[1] > 0:
        return "higher (the interval is above 0)"
    if diff[2] < 0:
        return "lower (the interval is below 0)"
    return "not separable (the interval includes 0)"


# ------------------------------------------------------------------------------------------ plot
def write_plot(done: dict[str, dict], path) -> bool:
    """PCK@0.05 on the held-out split over training minutes, one line per finished run (solid: from scratch on
    all data; dashed: ImageNet init or another data arm)."""
    if not done:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run_id, d in done.items():
        points = d["curve"]
        style = "-" if d["run"]["init"] == "none" and d["run"]["data"] == "all" else "--"
        ax.plot([p["train_s"] / 60 for p in points], [p["pck05"] for p in points], style, marker="o",
                markersize=3, label=run_id)
    ax.set(xlabel="training time (minutes, validation excluded)", ylabel="PCK@0.05 (%)",
           title="held-out PCK@0.05 during training (flip test as in the recipe's train.val_flip_test)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.92)  # fixed margins: tight_layout is slow
    png = figure_png(fig, dpi=100)
    plt.close(fig)
    atomic.write_bytes(path, png)
    return True


def fmt(value: float | None, digits: int = 1) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "n/a" if missing else f"{value:.{digits}f}"
