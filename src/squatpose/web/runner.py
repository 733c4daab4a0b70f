"""Worker processes for the web app: a spawn process pool whose jobs report back through their
folders, plus the lock that keeps one server per data folder.

Every worker process is started from one thread of the runner's own ("squatpose-spawner"), which lives
as long as the pool: a worker's parent-death signal (lifeline.py) follows the thread that started it,
so workers must not be started from short-lived threads (a pool's manager thread resubmitting jobs).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from squatpose.analysis.config import AnalysisConfig
from squatpose.web import ownership, worker
from squatpose.web.jobs import FINAL, JobStore, read_json, write_json

log = logging.getLogger(__name__)

MAX_TORCH_THREADS = 4  # per worker process
STOPPED = "interrupted: the server was stopped while it ran"
CRASHED = "the analysis process stopped unexpectedly (out of memory?); try a shorter or smaller video"
MAX_RESUBMITS = 2  # a job caught in another job's crash runs again, at most this often


class DataDirLock:
    """An exclusive lock on the data folder, so two servers never share (and 'recover') its jobs."""

    def __init__(self, root: Path) -> None:
        self.path = root / "server.lock"
        self._fh = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, one server per folder is up to the user
            return
        self._fh = open(self.path, "a+")  # noqa: SIM115 - held open while serving
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._fh.close()
            self._fh = None
            raise RuntimeError(f"{self.path.parent}: another squatpose server is using this data folder") from exc

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Runner:
    """The worker processes and the futures of the jobs submitted to them."""

    def __init__(self, store: JobStore, workers: int, job_fn: Callable[[str, str | None, str], str],
                 analysis_config: AnalysisConfig | None = None) -> None:
        self.store, self.workers, self.job_fn = store, max(1, workers), job_fn
        self.analysis_config = analysis_config
        self.futures: dict[str, Future] = {}
        self.checkpoints: dict[str, Path | None] = {}
        self.resubmits: dict[str, int] = {}
        self.dead_pids: set[int] = set()  # worker processes that died (their jobs fail)
        self.lock = threading.Lock()
        self.pool: ProcessPoolExecutor | None = None
        self.stopping = False
        self._spawner: ThreadPoolExecutor | None = None  # the one thread that starts worker processes

    def _new_pool(self) -> ProcessPoolExecutor:
        # One core is left to the server and video decoding: oversubscribed PyTorch threads spin
        # and can make a job 50x slower (measured on a busy 2-core machine); the model is small.
        threads = max(1, min(MAX_TORCH_THREADS, (os.cpu_count() or 1) // self.workers - 1))
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker.init_worker, initargs=(threads, self.analysis_config))

    def start(self, warm_up: bool = True) -> None:
        """Start the workers; with warm_up, they import the analysis stack at once."""
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="squatpose-spawner")
        with self.lock:
            self.pool = self._new_pool()
        if warm_up:
            for _ in range(self.workers):
                self._on_spawner(lambda pool: pool.submit(worker.warm_up))

    def _on_spawner(self, fn: Callable[[ProcessPoolExecutor], Future]) -> Future:
        """`fn(pool)` run on the spawner thread (a pool starts its worker processes in the thread that
        submits to it): its result, or RuntimeError when the workers are not running."""
        def submit() -> Future:
            with self.lock:
                if self.pool is None:
                    raise RuntimeError("the server is not running its workers")
                return fn(self.pool)
        if self._spawner is None:
            raise RuntimeError("the server is not running its workers")
        return self._spawner.submit(submit).result()

    def stop(self) -> None:
        """Stop at once: waiting jobs are dropped, running ones killed; both are marked failed
        (interrupted) here or, if the server dies first, at the next start."""
        with self.lock:
            pool, self.pool, self.stopping = self.pool, None, True
            busy = any(not f.done() for f in self.futures.values())
        if pool is not None:
            if busy:  # else the workers exit cleanly by themselves
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        if self._spawner is not None:  # after the workers: its end is their parent-death signal
            self._spawner.shutdown(wait=True)
            self._spawner = None
        self.stopping = False

    def submit(self, job_id: str, checkpoint: Path | None) -> None:
        """Hand a queued job to the workers, with a fresh owner token (ownership.py)."""
        folder = self.store.jobs_dir / job_id
        owner = ownership.claim(folder)

        def submit(pool: ProcessPoolExecutor) -> Future:
            future = pool.submit(worker.run_tracked, self.job_fn, str(folder),
                                 None if checkpoint is None else str(checkpoint), owner)
            self.futures[job_id], self.checkpoints[job_id] = future, checkpoint
            return future

        self._on_spawner(submit).add_done_callback(lambda f: self._finished(job_id, f))

    def _finished(self, job_id: str, future: Future) -> None:
        """Called in a pool thread when a job ends: clean up deleted jobs, record crashes. When a
        worker dies, the pool fails every job in it: only the job that ran in the dead process
        fails, the others run again on a new pool."""
        with self.lock:
            self.futures.pop(job_id, None)
            checkpoint = self.checkpoints.pop(job_id, None)
        folder = self.store.jobs_dir / job_id
        if (folder / "cancel").exists() or (future.cancelled() and not self.stopping):
            self.store.delete(job_id)  # deleted by the user
            return
        error = None if future.cancelled() else future.exception()
        if (error is None and not future.cancelled()) or not folder.is_dir():
            return
        broken = isinstance(error, BrokenProcessPool) and not self.stopping
        if broken:
            self._replace_broken_pool()
            if not self._ran_in_dead_worker(folder) and self._resubmit(job_id, checkpoint):
                return
        record = read_json(folder / "job.json") or {}
        if record.get("state") not in FINAL:
            if self.stopping:  # still waiting or running when the server stopped
                message = STOPPED
            elif isinstance(error, BrokenProcessPool):
                message = CRASHED
            else:
                message = f"the job could not run: {error}"
            ownership.settle(folder, state="failed", error=message, finished=time.time())
            write_json(folder / "progress.json", {"stage": "failed", "done": 0, "total": 0, "fraction": None})

    def _ran_in_dead_worker(self, folder: Path) -> bool:
        """Whether the job's worker process (worker.pid, written when it started) is one that died."""
        try:
            return int((folder / worker.PID_FILE).read_text()) in self.dead_pids
        except (OSError, ValueError):
            return False  # it never started

    def _resubmit(self, job_id: str, checkpoint: Path | None) -> bool:
        """Queue a job again that a crash elsewhere took down; False when it may not (again)."""
        count = self.resubmits.get(job_id, 0)
        if count >= MAX_RESUBMITS:
            return False
        self.resubmits[job_id] = count + 1
        ownership.settle(self.store.jobs_dir / job_id, state="queued", started=None)  # the dead run's token goes
        write_json(self.store.jobs_dir / job_id / "progress.json",
                   {"stage": "queued", "done": 0, "total": 0, "fraction": 0.0})
        try:
            self.submit(job_id, checkpoint)
        except RuntimeError:  # stopping meanwhile
            return False
        log.info("job %s was in a pool whose other worker died: running it again", job_id)
        return True

    def _replace_broken_pool(self) -> None:
        """A worker died (the pool is then unusable): swap in a new pool; called from the old
        pool's manager thread, so the old one is not waited for."""
        with self.lock:
            old = self.pool
            if old is None or not getattr(old, "_broken", False):
                return
            self.dead_pids.update(_dead_workers(old))
            self.pool = self._new_pool()
        log.warning("a worker process died; started new workers")
        old.shutdown(wait=False, cancel_futures=True)



def _dead_workers(pool: ProcessPoolExecutor, wait_s: float = 2.0) -> set[int]:
    """Process ids of the pool's workers that have exited. A broken pool fails its futures before
    it terminates the surviving workers, so these are the ones that died; the dead one may take a
    moment to be reapable after its pipe closed, hence the short wait."""
    processes = dict(getattr(pool, "_processes", None) or {})
    end = time.monotonic() + wait_s
    while True:
        dead = {pid for pid, process in processes.items() if process.exitcode is not None}
        if dead or time.monotonic() > end:
            return dead
        time.sleep(0.02)
