"""`squatpose serve`: the local web app. FastAPI serves the static page and a JSON API; every
analysis runs in a worker process (spawn), so the server keeps answering while jobs run.

API (described by /openapi.json; no interactive docs page: it would load its script from the internet):
    GET    /api/config                    upload limit, views, models
    POST   /api/jobs                      multipart: file (+ view, model) → 201 job record
    POST   /api/jobs/{id}/person          JSON {"box": [x, y, w, h]} → 201 a new job following that person
    GET    /live, WS /api/live, POST /api/jobs/{id}/save   the Live page (web/routes/live.py)
    GET    /api/jobs                      all jobs, newest first
    GET    /api/jobs/{id}                 record + progress + output files (+ summary when done)
    GET    /api/jobs/{id}/files/{name}    an output file (names from jobs.OUTPUT_FILES only)
    DELETE /api/jobs/{id}                 remove a job (a running one stops at its next frame)
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from squatpose.analysis.config import AnalysisConfig
from squatpose.web import worker
from squatpose.web.jobs import JobStore
from squatpose.web.limits import BodyLimit, disk_full, request_body_limits
from squatpose.web.routes import jobs, live, pages, people
from squatpose.web.runner import DataDirLock, Runner
from squatpose.web.security import add_security_middleware, loopback_hosts
from squatpose.web.token import new_token, require_token

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 200


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/squatpose/web, else ~/.local/share/squatpose/web."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "squatpose" / "web"


def create_app(data_dir: str | os.PathLike | None = None, *, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
               workers: int = 1, allowed_hosts: list[str] | None = None, warm_up: bool = True,
               job_fn: Callable[[str, str | None, str], str] = worker.run_job,
               analysis_config: AnalysisConfig | None = None, token: str | None = None,
               live_hub: live.LiveHub | None = None) -> FastAPI:
    """The web app over `data_dir` (default default_data_dir()). `allowed_hosts` limits the Host
    header (against DNS rebinding); `warm_up` starts the workers at once (else at the first job);
    `job_fn(job_dir, checkpoint, owner)` runs a job in a worker process (a module-level function), with
    `analysis_config` (default: the defaults) for every analysis; `token`: every request needs it
    (web/token.py); `live_hub`: the live page's model (default: the built-in one)."""
    store = JobStore(data_dir or default_data_dir())
    runner = Runner(store, workers, job_fn, analysis_config)
    lock = DataDirLock(store.root)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        lock.acquire()
        store.recover()
        runner.start(warm_up)
        log.info("serving jobs from %s with %d worker process(es)", store.root, runner.workers)
        try:
            yield
        finally:
            runner.stop()
            lock.release()

    app = FastAPI(title="squatpose", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Local squat analysis: upload a video or photo, follow the job, read the results.")
    app.state.store, app.state.runner = store, runner
    # Added first, so it sits inside the security middleware: the routes read the body through it.
    app.add_middleware(BodyLimit, limit_for=request_body_limits(jobs.max_upload_bytes(max_upload_mb)))
    add_security_middleware(app, allowed_hosts)
    app.add_exception_handler(OSError, disk_full)
    app.include_router(pages.router(store, runner, jobs.max_upload_bytes(max_upload_mb)))
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    app.include_router(jobs.router(store, runner, max_upload_mb))
    app.include_router(people.router(store, runner))
    app.include_router(live.router(store, runner, allowed_hosts, token, live_hub))
    require_token(app, token)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, data_dir: str | os.PathLike | None = None,
          max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, workers: int = 1,
          analysis_config: AnalysisConfig | None = None, allow_network: bool = False) -> None:
    """Run the web app until Ctrl+C. Binds to 127.0.0.1 unless told otherwise: another address needs
    `allow_network`, and then every request needs the access token logged at start-up."""
    import uvicorn

    token = None
    if loopback_hosts(host) is None:
        if not allow_network:
            raise RuntimeError(f"--host {host} lets other computers reach the server: add --allow-network "
                               "(each visitor then needs the access token in the address; docs/live.md)")
        token = new_token()
        shown = host if host not in ("0.0.0.0", "::") else "<this computer's address>"
        log.warning("open http://%s:%d/?token=%s (anyone with this address can upload, see and delete results)",
                    shown if ":" not in shown else f"[{shown}]", port, token)
    probe = DataDirLock(JobStore(data_dir or default_data_dir()).root)
    probe.acquire()  # a second server on the folder: one clear error here, before uvicorn starts
    probe.release()
    app = create_app(data_dir, max_upload_mb=max_upload_mb, workers=workers, allowed_hosts=loopback_hosts(host),
                     analysis_config=analysis_config, token=token)
    log.info("squatpose web app: http://%s:%d/", host if ":" not in host else f"[{host}]", port)
    uvicorn.run(app, host=host, port=port, log_level="info")
