"""Frame times from the container: phone videos often have a variable frame rate, where frame index ÷
fps drifts from the real time by seconds. Joint tracks sampled at the true times are resampled onto
evenly spaced times (as many as frames, over the same span), which is what the analysis assumes."""
from __future__ import annotations

import numpy as np


def is_variable(times: np.ndarray, tolerance: float = 0.25) -> bool:
    """Whether frame gaps `(T,)` seconds differ from their median by more than `tolerance` of it."""
    gaps = np.diff(np.asarray(times, np.float64))
    if len(gaps) < 2 or not np.all(np.isfinite(gaps)) or np.any(gaps <= 0):
        return False  # no usable timestamps: index ÷ fps is all there is
    median = float(np.median(gaps))
    return bool(np.any(np.abs(gaps - median) > tolerance * median))


def resample_uniform(times: np.ndarray, xy: np.ndarray, score: np.ndarray
                     ) -> tuple[float, np.ndarray, np.ndarray]:
    """Tracks xy `(T,K,2)`, score `(T,K)` at increasing `times` `(T,)` → (fps, xy, score) on T evenly
    spaced times from the first to the last; linear between the two frames around each time, and
    missing (NaN / 0) where either of them is."""
    times = np.asarray(times, np.float64)
    n = len(times)
    fps = (n - 1) / (times[-1] - times[0])
    grid = times[0] + np.arange(n) / fps
    left = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, n - 2)
    w = np.clip((grid - times[left]) / (times[left + 1] - times[left]), 0.0, 1.0)
    missing = ~(np.isfinite(xy).all(axis=-1) & (score > 0))
    out_xy = (1 - w)[:, None, None] * np.nan_to_num(xy[left]) + w[:, None, None] * np.nan_to_num(xy[left + 1])
    out_score = (1 - w)[:, None] * score[left] + w[:, None] * score[left + 1]
    gone = (missing[left] & (w < 1)[:, None]) | (missing[left + 1] & (w > 0)[:, None])
    out_xy[gone], out_score[gone] = np.nan, 0.0
    return float(fps), out_xy, out_score
