"""`squatpose serve`: the local web app. FastAPI serves the static page and a JSON API; every
analysis runs in a worker process (spawn), so the server keeps answering while jobs run.

API (documented at /docs):
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
import ipaddress
import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from squatpose.web import worker
from squatpose.web.jobs import (
    BUILTIN_MODEL,
    OUTPUT_FILES,
    VIEWS,
    JobStore,
    new_job_id,
    read_json,
    valid_job_id,
)
from squatpose.web.routes import live
from squatpose.web.runner import DataDirLock, Runner
from squatpose.web.sniff import HEAD_BYTES, sniff
from squatpose.web.token import new_token, require_token
from squatpose.web.upload import UploadError, receive

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
BUILTIN_WEIGHTS = Path(__file__).parents[1] / "weights" / "default.pt"  # predict.default_checkpoint(), without torch
DEFAULT_MAX_UPLOAD_MB = 200
BODY_SLACK = 64 * 1024  # multipart headers and the small fields around the file
MAX_JSON_BYTES = 4096   # a person choice: {"box": [x, y, w, h]}
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'")
REPORT_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "a video (MP4, MOV, WebM, MKV, AVI) or photo (JPEG, PNG, BMP, WebP), "
                                "recognised by its content"},
        "view": {"type": "string", "enum": list(VIEWS), "default": "auto"},
        "model": {"type": "string", "default": BUILTIN_MODEL,
                  "description": "'built-in' or a *.pt file name from GET /api/config"}}}}}}}


PERSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["box"], "properties": {
        "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                "description": "x, y, w, h of the person in the video's own pixels, as in the job summary's "
                               "`people.boxes`"}}}}}}}


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/squatpose/web, else ~/.local/share/squatpose/web."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "squatpose" / "web"


def _job_view(store: JobStore, record: dict) -> dict:
    """A job record with its progress, output URLs and (when finished) its results."""
    job_id = record["id"]
    out = {**record, "progress": store.progress(job_id),
           "files": {name: f"/api/jobs/{job_id}/files/{name}" for name in store.outputs(job_id)}}
    folder = store.jobs_dir / job_id / "out"
    out["summary"] = read_json(folder / "summary.json") if record.get("state") == "done" else None
    out["result"] = read_json(folder / "result.json") if record.get("state") == "done" else None
    return out


def host_name(host_header: str) -> str:
    """The host of a Host header without its port: 'localhost:8000' → 'localhost', '[::1]:80' → '::1'."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def cross_site(request: Request) -> str | None:
    """Why a state-changing request comes from another site's page, or None. Browsers send
    `Origin` (and `Sec-Fetch-Site`) with such requests; scripts and curl send neither and pass.
    A multipart POST is a 'simple' request: without this check any page could start jobs here."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "the browser marks it as coming from another site"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        return f"it comes from the page of another origin ({origin[:100]})"
    return None


def person_box(body: object, frame_wh: list[int]) -> list[float]:
    """The `box` of a person-choice body: 4 finite numbers x,y,w,h, w and h > 0, overlapping the
    frame `frame_wh`; HTTPException(400) saying what is wrong otherwise."""
    box = body.get("box") if isinstance(body, dict) else None
    if not (isinstance(box, list) and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)):
        raise HTTPException(400, 'send {"box": [x, y, w, h]}: four numbers, the person\'s box in video pixels')
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise HTTPException(400, "the box must hold finite numbers")
    if w <= 0 or h <= 0:
        raise HTTPException(400, f"the box must have a positive width and height, got {w:g} × {h:g}")
    width, height = frame_wh
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise HTTPException(400, f"the box {x:g},{y:g},{w:g},{h:g} lies outside the {width}×{height} video")
    return [x, y, w, h]


def _checked_id(job_id: str) -> str:
    if not valid_job_id(job_id):
        raise HTTPException(400, "invalid job id")
    return job_id


def create_app(data_dir: str | os.PathLike | None = None, *, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
               workers: int = 1, allowed_hosts: list[str] | None = None, warm_up: bool = True,
               job_fn: Callable[[str, str | None], str] = worker.run_job, token: str | None = None,
               live_hub: live.LiveHub | None = None) -> FastAPI:
    """The web app over `data_dir` (default default_data_dir()). `allowed_hosts` limits the Host
    header (against DNS rebinding); `warm_up` starts the workers at once (else at the first job);
    `job_fn(job_dir, checkpoint)` runs a job in a worker process (a module-level function); `token`:
    every request needs it (web/token.py); `live_hub`: the live page's model (default: the built-in one)."""
    store = JobStore(data_dir or default_data_dir())
    max_bytes = int(max_upload_mb * 2**20)
    runner = Runner(store, workers, job_fn)
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

    app = FastAPI(title="squatpose", version="0.1.0", lifespan=lifespan,
                  description="Local squat analysis: upload a video or photo, follow the job, read the results.")
    app.state.store, app.state.runner = store, runner
    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN202
        if allowed_hosts and host_name(request.headers.get("host", "")) not in allowed_hosts:
            return PlainTextResponse("Invalid host header", status_code=400)
        if request.method not in SAFE_METHODS and (why := cross_site(request)):
            return JSONResponse({"detail": f"cross-site request refused: {why}"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.url.path.endswith("/report.html"):
            response.headers["Content-Security-Policy"] = REPORT_CSP
        elif response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(live.router(store, runner, allowed_hosts, token, live_hub))
    require_token(app, token)

    @app.get("/api/config", summary="Upload limit, views and models")
    def config() -> dict:
        """What the upload form offers: the size limit, the views and the models (the built-in one
        and the `*.pt` checkpoints in the data folder's `models/`)."""
        return {"max_upload_bytes": max_bytes, "views": list(VIEWS), "default_model": BUILTIN_MODEL,
                "models": [{"name": BUILTIN_MODEL, "available": BUILTIN_WEIGHTS.is_file()}]
                + [{"name": n, "available": True} for n in store.models()],
                "workers": runner.workers}

    def start(record: dict, checkpoint: Path | None) -> JSONResponse:
        """Queue a new job; answer 201 with it (503 when the server is shutting down)."""
        try:
            runner.submit(record["id"], checkpoint)
        except RuntimeError as exc:  # the server is shutting down
            store.update(record["id"], state="failed", error=f"could not start: {exc}")
            raise HTTPException(503, str(exc)) from exc
        return JSONResponse(_job_view(store, record), status_code=201,
                            headers={"Location": f"/api/jobs/{record['id']}"})

    @app.post("/api/jobs", status_code=201, summary="Upload a video or photo and start its analysis",
              openapi_extra=UPLOAD_BODY,
              responses={400: {"description": "bad form"}, 413: {"description": "file too large"},
                         415: {"description": "not a supported video or image (judged by content)"},
                         422: {"description": "unknown view or model"}})
    async def create_job(request: Request) -> JSONResponse:
        """Multipart form: `file` (required), `view` (auto/side/front/back), `model`. The type is
        judged from the file's first bytes; the server stores it under its own name."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes + BODY_SLACK:
            raise HTTPException(413, f"the file is larger than the limit of {max_upload_mb:g} MB")
        part = store.uploads_dir / f"{new_job_id()}.part"
        try:
            fields, size = await receive(request.stream(), request.headers.get("content-type", ""), part, max_bytes)
            view, model = fields.get("view") or "auto", fields.get("model") or BUILTIN_MODEL
            if view not in VIEWS:
                raise UploadError(422, f"unknown view '{view}': choose one of {', '.join(VIEWS)}")
            try:
                checkpoint = store.checkpoint_for(model)
            except ValueError as exc:
                raise UploadError(422, str(exc)) from exc
            with open(part, "rb") as fh:
                ftype = sniff(fh.read(HEAD_BYTES))
            if ftype is None:
                raise UploadError(415, "not a supported video (MP4, MOV, WebM, MKV, AVI) or photo "
                                       "(JPEG, PNG, BMP, WebP): the file's content says otherwise")
            record = store.create(part, ftype.kind, ftype.ext, view=view, model=model,
                                  upload_name=fields.get("filename", ""), size=size)
        except UploadError as exc:
            raise HTTPException(exc.status, exc.message) from exc
        except ClientDisconnect:
            log.info("client went away during an upload")
            return JSONResponse({"detail": "upload interrupted"}, status_code=400)
        finally:
            part.unlink(missing_ok=True)
        return start(record, checkpoint)

    @app.post("/api/jobs/{job_id}/person", status_code=201, summary="Analyse another person of a video",
              openapi_extra=PERSON_BODY,
              responses={400: {"description": "invalid job id, or a bad box"}, 404: {"description": "no such job"},
                         409: {"description": "not a finished video job, or its video or model is gone"},
                         413: {"description": "body over 4 kB"}, 415: {"description": "not sent as application/json"}})
    async def choose_person(job_id: str, request: Request) -> JSONResponse:
        """When a video shows several people, a finished job's `summary.people` lists the boxes of those
        seen (`boxes`, in the video's pixels, on the frame `frame`, shown in `people.jpg`) and which one it
        followed. Send one of them (or any box around a person in the video's first frame) to analyse that
        person instead: a new job on the same video, view and model; the original job stays as it is."""
        record = store.read(_checked_id(job_id))
        if record is None:
            raise HTTPException(404, "no such job")
        if record.get("kind") != "video" or record.get("state") != "done":
            raise HTTPException(409, "only a finished video analysis can follow another person")
        folder = store.jobs_dir / job_id
        frame_wh = ((read_json(folder / "out" / "summary.json") or {}).get("people") or {}).get("frame_wh")
        if not (folder / record["input"]).is_file() or not frame_wh:
            raise HTTPException(409, "this analysis no longer has its video (or predates choosing a person): "
                                     "upload the video again")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise HTTPException(415, "send the box as application/json")
        raw = b""
        async for chunk in request.stream():  # a box is a few bytes: a big body is not read into memory
            raw += chunk
            if len(raw) > MAX_JSON_BYTES:
                raise HTTPException(413, f"the body is larger than {MAX_JSON_BYTES} bytes: send only the box")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"the body is not valid JSON ({exc})") from exc
        box = person_box(body, frame_wh)
        try:
            checkpoint = store.checkpoint_for(record["model"])
        except ValueError as exc:
            raise HTTPException(409, f"the analysis' model is no longer available ({exc})") from exc
        return start(store.derive(record, box), checkpoint)

    @app.get("/api/jobs", summary="All jobs, newest first")
    def list_jobs() -> dict:
        return {"jobs": store.list()}

    @app.get("/api/jobs/{job_id}", summary="A job: state, progress, output files and results",
             responses={400: {"description": "invalid job id"}, 404: {"description": "no such job"}})
    def get_job(job_id: str) -> dict:
        """`state` is queued, running, done or failed (`error` says why); `progress` has the stage
        and frames done of total; when done, `summary` (video) or `result` (photo) and `files`."""
        record = store.read(_checked_id(job_id))
        if record is None:
            raise HTTPException(404, "no such job")
        return _job_view(store, record)

    @app.get("/api/jobs/{job_id}/files/{name}", summary="An output file of a job",
             description=f"Only these names exist (when the job made them): {', '.join(OUTPUT_FILES)}.",
             responses={400: {"description": "invalid job id"}, 404: {"description": "no such file"}})
    def get_file(job_id: str, name: str) -> FileResponse:
        path = store.output_path(_checked_id(job_id), name)
        if path is None:
            raise HTTPException(404, "no such file")
        return FileResponse(path, media_type=OUTPUT_FILES[name])

    @app.delete("/api/jobs/{job_id}", summary="Delete a job and its files",
                responses={202: {"description": "running: it stops at its next frame, then goes"},
                           404: {"description": "no such job"}})
    def delete_job(job_id: str) -> JSONResponse:
        record = store.read(_checked_id(job_id))
        if record is None:
            raise HTTPException(404, "no such job")
        future = runner.futures.get(job_id)
        if future is not None and not future.done() and not future.cancel():
            (store.jobs_dir / job_id / "cancel").touch()  # the worker stops at its next progress write
            if not future.done():  # else it ended meanwhile: delete it here
                return JSONResponse({"deleted": job_id, "pending": True}, status_code=202)
        store.delete(job_id)
        return JSONResponse({"deleted": job_id, "pending": False})

    return app


def _loopback_hosts(host: str) -> list[str] | None:
    """Host names allowed when bound to a loopback address; None (any) otherwise."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return ["127.0.0.1", "localhost", "::1"] if loopback else None


def serve(host: str = "127.0.0.1", port: int = 8000, data_dir: str | os.PathLike | None = None,
          max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, workers: int = 1, allow_network: bool = False) -> None:
    """Run the web app until Ctrl+C. Binds to 127.0.0.1 unless told otherwise: another address needs
    `allow_network`, and then every request needs the access token printed at start-up."""
    import uvicorn

    token = None
    if _loopback_hosts(host) is None:
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
    app = create_app(data_dir, max_upload_mb=max_upload_mb, workers=workers, allowed_hosts=_loopback_hosts(host),
                     token=token)
    log.info("squatpose web app: http://%s:%d/", host if ":" not in host else f"[{host}]", port)
    uvicorn.run(app, host=host, port=port, log_level="info")
