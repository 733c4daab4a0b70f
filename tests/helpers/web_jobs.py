"""Stand-ins that run in the web app's worker processes during tests: module-level, so a spawned process
imports them by name (the tests put this folder on its path)."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from squatpose.web import lifeline
from squatpose.web.ownership import Lease


def sleep_armed(how: str) -> None:
    """Arm one way of ending with the parent ('signal': the parent-death signal, 'watchdog': the thread),
    say so on stdout, then sleep."""
    if how == "signal":
        lifeline.parent_death_signal(signal.SIGKILL)
    else:
        lifeline.watch_parent()
    print("armed", flush=True)
    time.sleep(120)
    sys.exit(3)


def slow_job(job_dir: str, checkpoint: str | None, owner: str) -> str:
    """A job that runs for two minutes as its owner, then finishes."""
    lease = Lease(Path(job_dir), owner)
    lease.write(state="running")
    time.sleep(120)
    lease.finish({"state": "done"})
    return "done"
