"""JSON-ready numbers: NaN and infinity become None (JSON has no NaN), numpy scalars plain Python."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite_or_none(value: float, ndigits: int | None = None) -> float | None:
    """`float(value)` (rounded to `ndigits` when given), or None where it is NaN or infinite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return value if ndigits is None else round(value, ndigits)


def json_safe(value: Any, ndigits: int | None = 4) -> Any:
    """Floats rounded to `ndigits`, NaN/inf -> None, numpy integers -> int; recurses into dicts and lists."""
    if isinstance(value, dict):
        return {k: json_safe(v, ndigits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, ndigits) for v in value]
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value, ndigits)
    if isinstance(value, np.integer):
        return int(value)
    return value
