"""Jobs: upload a video or photo to start one, list them, read one with its progress and results, fetch
its output files, delete it."""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.requests import ClientDisconnect

from squatpose.web import ownership
from squatpose.web.jobs import (
    BUILTIN_MODEL,
    OUTPUT_FILES,
    VIEWS,
    JobStore,
    new_job_id,
    read_json,
    valid_job_id,
)
from squatpose.web.runner import Runner
from squatpose.web.sniff import HEAD_BYTES, sniff
from squatpose.web.upload import UploadError, receive

log = logging.getLogger(__name__)

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "a video (MP4, MOV, WebM, MKV, AVI) or photo (JPEG, PNG, BMP, WebP), "
                                "recognised by its content"},
        "view": {"type": "string", "enum": list(VIEWS), "default": "auto"},
        "model": {"type": "string", "default": BUILTIN_MODEL,
                  "description": "'built-in' or a *.pt file name from GET /api/config"}}}}}}}


def job_view(store: JobStore, record: dict) -> dict:
    """A job record with its progress, output URLs and (when finished) its results."""
    job_id = record["id"]
    out = {**record, "progress": store.progress(job_id),
           "files": {name: f"/api/jobs/{job_id}/files/{name}" for name in store.outputs(job_id)}}
    folder = store.jobs_dir / job_id / "out"
    out["summary"] = read_json(folder / "summary.json") if record.get("state") == "done" else None
    out["result"] = read_json(folder / "result.json") if record.get("state") == "done" else None
    return out


def checked_id(job_id: str) -> str:
    if not valid_job_id(job_id):
        raise HTTPException(400, "invalid job id")
    return job_id


def start_job(store: JobStore, runner: Runner, record: dict, checkpoint: Path | None) -> JSONResponse:
    """Queue a new job; answer 201 with it (503 when the server is shutting down)."""
    try:
        runner.submit(record["id"], checkpoint)
    except RuntimeError as exc:  # the server is shutting down
        ownership.settle(store.jobs_dir / record["id"], state="failed", error=f"could not start: {exc}")
        raise HTTPException(503, str(exc)) from exc
    return JSONResponse(job_view(store, record), status_code=201,
                        headers={"Location": f"/api/jobs/{record['id']}"})


def max_upload_bytes(max_upload_mb: float) -> int:
    return int(max_upload_mb * 2**20)


async def receive_job(request: Request, store: JobStore, max_upload_mb: float) -> tuple[dict, Path | None]:
    """The upload in `request` stored as a new job and the checkpoint of its model; HTTPException saying
    what is wrong with the form, the size or the file's content otherwise."""
    max_bytes = max_upload_bytes(max_upload_mb)  # the file's; the whole body's is limits.BodyLimit's
    part = store.uploads_dir / f"{new_job_id()}.part"
    try:
        fields, size = await receive(request.stream(), request.headers.get("content-type", ""),
                                     part, max_bytes)
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
        raise HTTPException(400, "upload interrupted") from None
    finally:
        part.unlink(missing_ok=True)
    return record, checkpoint


def delete(store: JobStore, runner: Runner, job_id: str) -> JSONResponse:
    """Delete a job; a running one is told to stop (202) and goes when it has."""
    record = store.read(job_id)
    if record is None:
        raise HTTPException(404, "no such job")
    future = runner.futures.get(job_id)
    if future is not None and not future.done() and not future.cancel():
        (store.jobs_dir / job_id / "cancel").touch()  # the worker stops at its next progress write
        if not future.done():  # else it ended meanwhile: delete it here
            return JSONResponse({"deleted": job_id, "pending": True}, status_code=202)
    store.delete(job_id)
    return JSONResponse({"deleted": job_id, "pending": False})


def router(store: JobStore, runner: Runner, max_upload_mb: float) -> APIRouter:
    routes = APIRouter()

    @routes.post("/api/jobs", status_code=201, summary="Upload a video or photo and start its analysis",
                 openapi_extra=UPLOAD_BODY,
                 responses={400: {"description": "bad form"}, 413: {"description": "file too large"},
                            415: {"description": "not a supported video or image (judged by content)"},
                            422: {"description": "unknown view or model"}})
    async def create_job(request: Request) -> JSONResponse:
        """Multipart form: `file` (required), `view` (auto/side/front/back), `model`. The type is
        judged from the file's first bytes; the server stores it under its own name."""
        record, checkpoint = await receive_job(request, store, max_upload_mb)
        return start_job(store, runner, record, checkpoint)

    @routes.get("/api/jobs", summary="All jobs, newest first")
    def list_jobs() -> dict:
        return {"jobs": store.list()}

    @routes.get("/api/jobs/{job_id}", summary="A job: state, progress, output files and results",
                responses={400: {"description": "invalid job id"}, 404: {"description": "no such job"}})
    def get_job(job_id: str) -> dict:
        """`state` is queued, running, done or failed (`error` says why); `progress` has the stage
        and frames done of total; when done, `summary` (video) or `result` (photo) and `files`."""
        record = store.read(checked_id(job_id))
        if record is None:
            raise HTTPException(404, "no such job")
        return job_view(store, record)

    @routes.get("/api/jobs/{job_id}/files/{name}", summary="An output file of a job",
                description=f"Only these names exist (when the job made them): {', '.join(OUTPUT_FILES)}.",
                responses={400: {"description": "invalid job id"}, 404: {"description": "no such file"}})
    def get_file(job_id: str, name: str) -> FileResponse:
        path = store.output_path(checked_id(job_id), name)
        if path is None:
            raise HTTPException(404, "no such file")
        return FileResponse(path, media_type=OUTPUT_FILES[name])

    @routes.delete("/api/jobs/{job_id}", summary="Delete a job and its files",
                   responses={202: {"description": "running: it stops at its next frame, then goes"},
                              404: {"description": "no such job"}})
    def delete_job(job_id: str) -> JSONResponse:
        return delete(store, runner, checked_id(job_id))

    return routes
