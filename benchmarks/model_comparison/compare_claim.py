"""Which worker trains which run: a run is claimed with an exclusive lock on `run_dir/claim.lock`.

Several `compare_models.py` processes can share one `--out` (one per core or per GPU): each trains the
first pending run no other live process holds. The lock is the kernel's (`flock`), so it is released when
its holder exits, however it exits, and a resumed command takes over an interrupted run without stale
claims to clean up.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # not POSIX: one worker per --out, every run counts as free
    fcntl = None


class Claim:
    """An open, locked claim file; `release()` (or process exit) frees the run for other workers."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()  # closing the descriptor drops the flock


def try_claim(run_dir: Path) -> Claim | None:
    """Lock `run_dir` for this process, or None when another live process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / "claim.lock", "a+")  # noqa: SIM115 - held open: the lock lives as long as it
    if fcntl is None:
        return Claim(handle)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # for a person looking: which process trains this run
    handle.flush()
    return Claim(handle)
