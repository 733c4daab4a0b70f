"""A worker process ends with the server that started it, however the server ends (SIGKILL included).

Two ways, either is enough:
- Linux: the parent-death signal (prctl PR_SET_PDEATHSIG): the kernel kills the worker when the thread
  that started it exits. The runner starts every worker from one thread that lives as long as the
  server's worker pool (runner.Runner), so a worker is never killed while its server runs.
- Everywhere: a watchdog thread waits on the pipe the parent holds open for the worker's lifetime
  (multiprocessing's parent sentinel) and checks the parent pid; when the parent is gone, it exits.
A worker that stops this way never writes into its job afterwards (it is dead); a job left running is
marked interrupted by the next server (jobs.JobStore.recover).
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL_S = 1.0


def die_with_parent() -> None:
    """Arm both: call first thing in a worker process (the pool's initializer)."""
    if multiprocessing.parent_process() is None:  # not started by multiprocessing: nobody to follow
        return
    if sys.platform.startswith("linux"):
        parent_death_signal(signal.SIGKILL)
    watch_parent()


def parent_death_signal(sig: int) -> None:
    """Linux: have the kernel send `sig` to this process when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d): the watchdog thread alone ends this worker "
                    "with its server", ctypes.get_errno())


def watch_parent() -> None:
    """Start the watchdog thread; exit at once if the parent is already gone (it may have died before the
    parent-death signal was armed)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if not _alive(parent):
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="squatpose-parent-watch", daemon=True).start()


def _alive(parent: multiprocessing.process.BaseProcess) -> bool:
    """The parent's end of the pipe is open (it closes when the parent dies) and it is still our parent
    (a POSIX orphan is adopted by another process, whose pid getppid then gives)."""
    if os.name == "posix" and os.getppid() != parent.pid:
        return False
    return parent.is_alive()


def _watch(parent: multiprocessing.process.BaseProcess) -> None:
    while True:
        parent.join(WATCH_INTERVAL_S)  # returns at once when the parent is gone
        if not _alive(parent):
            log.warning("the server (process %d) is gone: this worker (process %d) stops",
                        parent.pid, os.getpid())
            os._exit(1)
