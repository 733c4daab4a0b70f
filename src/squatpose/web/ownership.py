"""Who may write a job's state and results: the worker the server gave the job to, and only until the
server settles the job otherwise.

Each submission to a worker gets a fresh owner token, written into job.json (`owner`). The server settles
a job (failed, interrupted by a restart, queued again) by replacing the token (with a new one or none);
the worker holds its token as a `Lease` and checks it before each state write and before moving its
results into place, both under the job's lock. So a worker that outlived its server, or a run replaced
by a resubmission, can never write into a job that was settled since: it stops without writing.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from squatpose import atomic

log = logging.getLogger(__name__)

RECORD = "job.json"
LOCK = ".lock"
OWNER = "owner"


class Superseded(Exception):
    """The job was settled by the server since this worker got it: the worker must not write into it."""


@contextlib.contextmanager
def job_lock(folder: Path) -> Iterator[None]:
    """The job's lock (flock on `<job>/.lock`): one reader-writer of its record at a time, across
    processes. Without fcntl (Windows) the owner check runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _read(folder: Path) -> dict:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write(folder: Path, record: dict) -> None:
    atomic.write_text(folder / RECORD, json.dumps(record, indent=1, ensure_ascii=False))


def update(folder: Path, changes: dict[str, Any], owner: str | None) -> dict:
    """Apply `changes` to the record and make `owner` its owner, under the job's lock (the server's
    writes: a submission gives a new token, settling gives none). Returns the record written."""
    with job_lock(folder):
        record = _read(folder)
        record.update(changes)
        record[OWNER] = owner
        _write(folder, record)
    return record


def claim(folder: Path, **changes: Any) -> str:
    """A fresh owner token for a job about to be handed to a worker (with `changes` to its record)."""
    token = uuid.uuid4().hex
    update(folder, changes, token)
    return token


def settle(folder: Path, **changes: Any) -> dict:
    """The server's final word on a job (state failed, ...): no worker may write into it afterwards."""
    return update(folder, changes, None)


class Lease:
    """A worker's right to write one job, as long as the job's owner is still `token`."""

    def __init__(self, folder: Path, token: str) -> None:
        self.folder, self.token = Path(folder), token

    def held(self) -> bool:
        return _read(self.folder).get(OWNER) == self.token

    def check(self) -> None:
        """Superseded when the server has settled the job since (or it was deleted)."""
        if not self.held():
            raise Superseded(f"job {self.folder.name} was settled by the server; this worker stops")

    def write(self, **changes: Any) -> dict:
        """Apply `changes` to the record if the lease still holds (checked under the job's lock)."""
        with job_lock(self.folder):
            self.check()
            record = {**_read(self.folder), **changes}
            _write(self.folder, record)
        return record

    def finish(self, changes: dict[str, Any], staged: Path | None = None, out: Path | None = None) -> dict:
        """The job's final state, and its results moved from the worker's own folder `staged` to `out`,
        together under the lock, if the lease still holds; else Superseded and `staged` is removed."""
        with job_lock(self.folder):
            if not self.held():
                if staged is not None:
                    shutil.rmtree(staged, ignore_errors=True)
                raise Superseded(f"job {self.folder.name} was settled by the server; its results are dropped")
            if staged is not None and out is not None:
                if out.exists():
                    # the job's own output folder, empty unless a run before this one failed
                    shutil.rmtree(out)
                os.replace(staged, out)
            record = {**_read(self.folder), **changes}
            _write(self.folder, record)
        return record
