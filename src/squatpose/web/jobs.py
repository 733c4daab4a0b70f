"""Jobs on disk: one folder per job under `<data dir>/jobs/<id>/`.

    job.json       the record: kind, state (queued → running → done | failed), times, view, model, error
                   (and `box`, x,y,w,h, for a job that analyses a person the user chose on another job's video)
    progress.json  written by the worker a few times per second: stage, done, total, fraction
    input.<ext>    the upload, under a name the server chose
    out/           the analysis outputs; only names in OUTPUT_FILES are ever served
    cancel         present when the job was deleted while running (the worker stops, the folder goes)
    worker.pid     the worker process that runs (or ran) the job
    .out.<owner>   the results of the worker that owns the job, while it runs (moved to out/ at the end)
    .lock          the job's lock: the server and its worker never write job.json at the same time

job.json's `owner` says which worker may write the job (ownership.py); it is not shown by the API.

A live set's result (kind 'live', input.json: the joints kept during the set) has `saved: false` until
the user saves it: such jobs are not listed and are removed at start-up and when the next set ends.

Every JSON file is replaced atomically, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from squatpose.web import ownership

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"[0-9a-f]{32}")
# Names the server itself gives to uploads being received and to job folders being made or deleted:
# at start-up only these are removed, whatever else a user keeps in the data folder stays.
UPLOAD_PART = re.compile(r"[0-9a-f]{32}\.part")
JOB_LEFTOVER = re.compile(r"\.[0-9a-f]{32}\.(new|[0-9a-f]{8}\.deleted)")
STAGED_OUT = re.compile(r"\.out\.[0-9a-f]{32}")  # a worker's results before they are moved to out/
CHOSEN_PERSON = re.compile(r" \(person at -?\d+,-?\d+\)$")  # the display name's note of a chosen person
FINAL = ("done", "failed")
INTERRUPTED = "interrupted by a server restart"
VIEWS = ("auto", "side", "front", "back")
BUILTIN_MODEL = "built-in"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,120}\.pt")

# name → media type: the only files the API serves from a job's out/ folder
OUTPUT_FILES: dict[str, str] = {
    "summary.json": "application/json", "keypoints.csv": "text/csv", "angles.csv": "text/csv",
    "timeline.png": "image/png", "depth_per_rep.png": "image/png", "report.html": "text/html",
    "annotated.mp4": "video/mp4", "annotated.webm": "video/webm",
    "pose.jpg": "image/jpeg", "heatmaps.png": "image/png", "result.json": "application/json",
    "people.jpg": "image/jpeg",
}


def write_json(path: Path, data: Any) -> None:
    """Replace `path` atomically (a temporary name unique to this process and thread, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any | None:
    """The parsed file, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shown(record: Any) -> dict | None:
    """A job record as the API shows it: without the owner token of its worker."""
    if not isinstance(record, dict):
        return None
    return {k: v for k, v in record.items() if k != ownership.OWNER}


def _regular_file(path: Path) -> bool:
    """A regular file that is not a symbolic link (a link in a job's folder is never followed)."""
    return path.is_file() and not path.is_symlink()


def new_job_id() -> str:
    return uuid.uuid4().hex


def valid_job_id(job_id: str) -> bool:
    return JOB_ID.fullmatch(job_id) is not None


def display_name(name: str) -> str:
    """The client's file name, for display only: no folders, no control characters, at most 120 chars."""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "upload"


class JobStore:
    """The job folders under `root/jobs` and the uploads being received under `root/uploads`."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.jobs_dir = self.root / "jobs"
        self.uploads_dir = self.root / "uploads"
        self.models_dir = self.root / "models"
        for folder in (self.jobs_dir, self.uploads_dir, self.models_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path | None:
        """The folder of an existing job, or None (also for ids that are not server-made)."""
        if not valid_job_id(job_id):
            return None
        folder = self.jobs_dir / job_id
        return folder if (folder / "job.json").is_file() and not (folder / "cancel").exists() else None

    def read(self, job_id: str) -> dict | None:
        folder = self.job_dir(job_id)
        return None if folder is None else _shown(read_json(folder / "job.json"))

    def update(self, job_id: str, **changes: Any) -> dict:
        """Change fields of a job's record (its owner stays as it is)."""
        folder = self.jobs_dir / job_id
        with ownership.job_lock(folder):
            record = read_json(folder / "job.json") or {}
            record.update(changes)
            write_json(folder / "job.json", record)
        return _shown(record)

    def create(self, upload: Path, kind: str, ext: str, *, view: str, model: str, upload_name: str,
               size: int, saved: bool | None = None) -> dict:
        """Move a received upload into a new job folder and write its record (state 'queued'). `saved`
        False: a live set's result, not listed and removed at start-up until it is saved."""
        extra = {} if saved is None else {"saved": saved}
        return self._add(lambda dest: os.replace(upload, dest), kind, ext, view=view, model=model,
                         upload_name=display_name(upload_name), size=size, **extra)

    def derive(self, source: dict, box: list[float]) -> dict:
        """A new job on the input of the finished job `source` (hard-linked where the file system allows,
        else copied; the source job stays as it is) that follows the person in `box` (x,y,w,h)."""
        original = self.jobs_dir / source["id"] / source["input"]

        def place(dest: Path) -> None:
            try:
                os.link(original, dest)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(original, dest)

        where = ",".join(str(round(v)) for v in box[:2])
        name = CHOSEN_PERSON.sub("", source["upload_name"])   # a choice made on a chosen person's job
        return self._add(place, source["kind"], Path(source["input"]).suffix, view=source["view"],
                         model=source["model"], upload_name=f"{name} (person at {where})",
                         size=source["size_bytes"], box=box)

    def _add(self, place_input: Callable[[Path], None], kind: str, ext: str, **fields: Any) -> dict:
        """Make a job folder with its input (`place_input(path)` puts it there) and its record. The folder
        appears under its final name only once complete."""
        job_id = new_job_id()
        staging = self.jobs_dir / f".{job_id}.new"
        (staging / "out").mkdir(parents=True)
        try:
            place_input(staging / f"input{ext}")
            record = {"id": job_id, "kind": kind, "state": "queued", "input": f"input{ext}",
                      "upload_name": fields.pop("upload_name"), "size_bytes": fields.pop("size"), **fields,
                      "created": time.time(), "started": None, "finished": None, "error": None, "reps": None}
            write_json(staging / "job.json", record)
            write_json(staging / "progress.json", {"stage": "queued", "done": 0, "total": 0, "fraction": 0.0})
            os.replace(staging, self.jobs_dir / job_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return record

    def list(self, include_unsaved: bool = False) -> list[dict]:
        """All job records, newest first (jobs being deleted, and live sets not saved, are left out)."""
        records = []
        for folder in self.jobs_dir.iterdir():
            if valid_job_id(folder.name) and not (folder / "cancel").exists():
                record = _shown(read_json(folder / "job.json"))
                if record is not None and (include_unsaved or record.get("saved") is not False):
                    records.append(record)
        return sorted(records, key=lambda r: r.get("created") or 0, reverse=True)

    def progress(self, job_id: str) -> dict | None:
        folder = self.job_dir(job_id)
        return None if folder is None else read_json(folder / "progress.json")

    def output_path(self, job_id: str, name: str) -> Path | None:
        """An output file of a job, only for names in OUTPUT_FILES, else None."""
        folder = self.job_dir(job_id)
        if folder is None or name not in OUTPUT_FILES:
            return None
        path = folder / "out" / name
        return path if _regular_file(path) else None

    def outputs(self, job_id: str) -> list[str]:
        folder = self.job_dir(job_id)
        if folder is None:
            return []
        return sorted(n for n in OUTPUT_FILES if _regular_file(folder / "out" / n))

    def delete(self, job_id: str) -> None:
        folder = self.jobs_dir / job_id
        if not valid_job_id(job_id):
            return
        trash = self.jobs_dir / f".{job_id}.{uuid.uuid4().hex[:8]}.deleted"
        try:
            os.replace(folder, trash)  # gone from listings at once, then removed
        except FileNotFoundError:  # deleted meanwhile by another thread
            return
        shutil.rmtree(trash, ignore_errors=True)

    def recover(self) -> list[str]:
        """At server start: jobs left queued or running by a server that died are marked failed;
        half-made job folders and stale uploads (server-made names only) are removed. Returns the ids
        marked failed."""
        leftovers = [p for p in self.uploads_dir.iterdir() if UPLOAD_PART.fullmatch(p.name)]
        leftovers += [p for p in self.jobs_dir.iterdir() if JOB_LEFTOVER.fullmatch(p.name)]
        for leftover in leftovers:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        failed = []
        for folder in self.jobs_dir.iterdir():
            record = read_json(folder / "job.json") if valid_job_id(folder.name) else None
            if not isinstance(record, dict):  # not a job folder of this server's
                continue
            if (folder / "cancel").exists() or record.get("saved") is False:   # deleted, or a live set not kept
                self.delete(folder.name)
                continue
            for staged in folder.iterdir():  # results of a worker that never finished
                if STAGED_OUT.fullmatch(staged.name) and staged.is_dir() and not staged.is_symlink():
                    shutil.rmtree(staged, ignore_errors=True)
            if record.get("state") not in FINAL:  # settled: a worker of the server before may not write it
                ownership.settle(folder, state="failed", error=INTERRUPTED, finished=time.time())
                failed.append(folder.name)
        if failed:
            log.warning("marked %d interrupted job(s) as failed: %s", len(failed), ", ".join(failed))
        return failed

    def models(self) -> list[str]:
        """Checkpoint file names in the models folder that may be chosen (`*.pt`, plain names)."""
        return sorted(p.name for p in self.models_dir.glob("*.pt") if p.is_file() and MODEL_NAME.fullmatch(p.name))

    def checkpoint_for(self, model: str) -> Path | None:
        """The checkpoint path for a model choice: None for the built-in model; ValueError otherwise."""
        if model == BUILTIN_MODEL:
            return None
        if model not in self.models():
            raise ValueError(f"unknown model '{model}': choose '{BUILTIN_MODEL}' or one of {self.models()}")
        return self.models_dir / model
