"""JSON-ready numbers: NaN and infinity become None (JSON has no NaN), numpy scalars plain Python; and
JSON read from others' files and requests with its numbers and nesting bounded (`loads_bounded`)."""
from __future__ import annotations

import json
import math
import sys
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


def _bounded_int(text: str) -> int:
    value = int(text)  # Python refuses more than 4300 digits itself (a ValueError)
    if abs(value) > sys.float_info.max:
        raise ValueError(f"the number {text[:12]}… ({len(text)} digits) is beyond the range of "
                         "floating-point numbers")
    return value


def _bounded_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # '1e400': Python would read it as infinity without a word
        raise ValueError(f"the number {text[:24]} is beyond the range of floating-point numbers")
    return value


def loads_bounded(text: str | bytes) -> Any:
    """json.loads for files and requests made by others: a number beyond the float range (10^400, 1e400)
    and nesting deeper than Python's recursion limit (about 1000) are a ValueError saying so, not an
    OverflowError or RecursionError later. The constants NaN and Infinity are read as Python reads them."""
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
