"""Fixed-size windows over the recent past of a stream: what a causal analysis may look at.

Every statistic of the online analysis (leg length, standing thigh/shin ratio, highest hip, where the
feet stand) is taken over a window of the last few seconds held in a ring buffer of fixed capacity,
so an endless stream uses constant memory. When samples come faster than `capacity / window_s`
per second the oldest are overwritten first (the window then covers less time); `min_interval_s`
keeps at most one sample per interval (a long window needs no more).
"""
from __future__ import annotations

import numpy as np

DEFAULT_CAPACITY = 512  # 8.5 s at 60 frames/s


def column_percentile(values: np.ndarray, q: float, min_count: int = 3) -> np.ndarray:
    """(C,) the q-th percentile of each column of (N, C), ignoring NaN (numpy's 'linear' method,
    as np.nanpercentile, without its per-column loop); NaN for a column with fewer than `min_count`
    values."""
    return sorted_percentile(np.sort(values, axis=0), np.isfinite(values).sum(axis=0), q, min_count)


def sorted_percentile(ordered: np.ndarray, count: np.ndarray, q: float, min_count: int) -> np.ndarray:
    """`column_percentile` of columns already sorted (NaN last) with `count` (C,) finite values each."""
    if not len(ordered):
        return np.full(ordered.shape[1], np.nan)
    pos = q / 100.0 * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    cols = np.arange(ordered.shape[1])
    frac = pos - lo
    p = ordered[lo, cols] * (1 - frac) + ordered[hi, cols] * frac
    return np.where(count >= max(min_count, 1), p, np.nan)


class RecentWindow:
    """The samples of the last `window_s` seconds, each a row of `columns` numbers (NaN = none)."""

    def __init__(self, window_s: float, columns: int, capacity: int = DEFAULT_CAPACITY,
                 min_interval_s: float = 0.0) -> None:
        if window_s <= 0 or capacity < 1:
            raise ValueError("a window needs a positive length and capacity")
        self.window_s, self.min_interval_s = window_s, min_interval_s
        self._values = np.full((capacity, columns), np.nan)
        self._times = np.full(capacity, -np.inf)
        self._next = 0
        self._last = -np.inf
        self._pushes = 0
        self._cache: tuple[int, float, np.ndarray, np.ndarray] | None = None   # pushes, since, sorted, counts

    @property
    def pushes(self) -> int:
        """Samples added (or clears) so far: changes whenever the window's content does by a push."""
        return self._pushes

    def due(self, t: float) -> bool:
        """Whether a sample of time `t` would be kept (`min_interval_s` after the last one)."""
        return t - self._last >= self.min_interval_s

    def push(self, t: float, values: np.ndarray) -> bool:
        """Add the sample of time `t` (seconds; non-decreasing from call to call); False when it came
        sooner than `min_interval_s` after the last one and was left out."""
        if not self.due(t):
            return False
        self._values[self._next] = values
        self._times[self._next] = self._last = t
        self._next = (self._next + 1) % len(self._times)
        self._pushes += 1
        return True

    def clear(self) -> None:
        self._values[:] = np.nan
        self._times[:] = -np.inf
        self._last = -np.inf
        self._pushes += 1

    def since(self, start: float) -> np.ndarray:
        """(N, columns) the samples later than time `start`, in no particular order."""
        return self._values[self._times > start - 1e-9]

    def between(self, start: float, end: float) -> np.ndarray:
        """(N, columns) the samples later than `start` and earlier than `end`, in no particular order."""
        return self._values[(self._times > start - 1e-9) & (self._times < end - 1e-9)]

    def recent(self, now: float) -> np.ndarray:
        """(N, columns) the samples of the window ending at `now`, in no particular order."""
        return self.since(now - self.window_s)

    def percentile(self, now: float, q: float, min_count: int = 3) -> np.ndarray:
        """(columns,) the q-th percentile of each column over the window (`column_percentile`). The
        window is sorted again only when a sample came, or 10 % of the window's time passed since the
        last sort: several percentiles of one frame, or of frames between two samples, sort once."""
        cache = self._cache
        if cache is None or cache[0] != self._pushes or now - cache[1] > 0.1 * self.window_s:
            values = self.recent(now)
            cache = self._cache = (self._pushes, now, np.sort(values, axis=0), np.isfinite(values).sum(axis=0))
        return sorted_percentile(cache[2], cache[3], q, min_count)
