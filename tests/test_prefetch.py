"""Frames decoded ahead on a thread: same items in order, errors reach the caller, closing stops it."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from squatpose.media.video_reader import prefetch


def test_prefetch_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))


def test_prefetch_raises_the_producers_error_after_its_items() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("decoder broke")

    got: list[int] = []
    with pytest.raises(OSError, match="decoder broke"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]


def test_closing_stops_the_producer_before_returning() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    frames = prefetch(endless(), depth=2)
    assert next(frames) == 0
    frames.close()
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count  # nothing read after close: the capture may be released now
    assert count <= 4              # never more than depth + the item in hand + the one being put
    assert not any(t.name == "squatpose-prefetch" for t in threading.enumerate())


def test_decoding_overlaps_the_consumers_work() -> None:
    def slow_source() -> Iterator[int]:
        for i in range(6):
            time.sleep(0.05)  # stands in for decoding, which releases the GIL like sleep does
            yield i

    start = time.perf_counter()
    for _ in prefetch(slow_source()):
        time.sleep(0.05)      # stands in for the model
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5      # run one after the other it takes 0.6 s; overlapped about 0.35 s
