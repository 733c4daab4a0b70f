"""The web app's worker processes with real processes: they end with their server however it ends
(lifeline.py), and a worker whose job the server has settled since never writes into it (ownership.py)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from squatpose.web import worker
from squatpose.web.jobs import INTERRUPTED, JobStore, read_json
from squatpose.web.ownership import claim

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")

TESTS = str(Path(__file__).parent)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(200)


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # it exited while being read
            continue
    return found


def all_gone(pids: set[int], timeout_s: float) -> set[int]:
    """The pids still alive after up to `timeout_s` seconds."""
    end = time.monotonic() + timeout_s
    while (alive := {p for p in pids if not gone(p)}) and time.monotonic() < end:
        time.sleep(0.05)
    return alive


def python(code: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, *sys.path])}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("how", ["watchdog", pytest.param("signal", marks=pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"))])
def test_a_worker_ends_with_its_killed_parent_by_either_means(how):
    parent = python(f"""
import multiprocessing, time
from helpers import web_jobs
child = multiprocessing.get_context("spawn").Process(target=web_jobs.sleep_armed, args=({how!r},))
child.start()
print(child.pid, flush=True)
time.sleep(120)
""")
    try:
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "armed"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert all_gone({child}, 10.0) == set(), f"the {how} left process {child} running"
    finally:
        parent.kill()


def test_kill_9_of_the_server_leaves_no_worker_alive(tmp_path):
    """A real server (uvicorn) with two workers, one running a job, is killed with SIGKILL: 10 s later
    none of its processes is alive (they were reparented and ran on for minutes before)."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = python(f"""
import uvicorn
from helpers import web_jobs
from squatpose.web.server import create_app
app = create_app({str(tmp_path / 'data')!r}, workers=2, job_fn=web_jobs.slow_job)
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
""")
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 120
        while True:
            try:
                job = httpx.post(f"{url}/api/jobs", files={"file": ("a.jpg", JPEG_BYTES)}, timeout=5).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < end and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        folder = tmp_path / "data" / "jobs" / job["id"]
        while (read_json(folder / "job.json") or {}).get("state") != "running":
            assert time.monotonic() < end, "the job did not start"
            time.sleep(0.1)
        workers = children(server.pid)
        assert int((folder / worker.PID_FILE).read_text()) in workers and len(workers) >= 2
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        assert all_gone(workers, 10.0) == set()
    finally:
        server.kill()


@pytest.mark.parametrize("where", ["at its next progress write", "at its final write"])
def test_an_old_worker_never_writes_into_a_job_settled_since(tmp_path, monkeypatch, where):
    """A worker outlives its server; the next server starts on the same data folder and marks the job
    interrupted. Whatever the old worker does next is refused: state, progress and results."""
    store = JobStore(tmp_path / "data")
    part = store.uploads_dir / f"{'a' * 32}.part"
    part.write_bytes(JPEG_BYTES)
    record = store.create(part, "image", ".jpg", view="auto", model="built-in", upload_name="a.jpg", size=10)
    folder = store.jobs_dir / record["id"]
    owner = claim(folder)  # the first server hands the job to a worker

    def analysis(folder, record, checkpoint, progress, out):  # the worker's analysis, as its server dies
        (out / "pose.jpg").write_bytes(JPEG_BYTES)
        assert JobStore(tmp_path / "data").recover() == [record["id"]]  # the next server starts
        if where == "at its next progress write":
            progress.stage("writing")
        return {"reps": 3}

    monkeypatch.setattr(worker, "_run_image", analysis)
    assert worker.run_job(str(folder), None, owner) == "superseded"
    settled = read_json(folder / "job.json")
    assert (settled["state"], settled["error"], settled.get("reps")) == ("failed", INTERRUPTED, None)
    assert list((folder / "out").iterdir()) == [] and not list(folder.glob(".out.*"))
    assert read_json(folder / "progress.json")["stage"] == "starting"
    # a job settled before its worker began is not started at all
    assert worker.run_tracked(worker.run_job, str(folder), None, owner) == "superseded"
    assert read_json(folder / "job.json") == settled and not (folder / worker.PID_FILE).exists()
    assert "owner" not in store.read(record["id"])  # the token is the server's, not shown by the API
