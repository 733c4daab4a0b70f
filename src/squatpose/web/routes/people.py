"""Choosing another person of a finished video job: a new job on the same video that follows the box the
user clicked."""
from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from squatpose.geometry import box_problem
from squatpose.jsonable import loads_bounded
from squatpose.web.jobs import JobStore, read_json
from squatpose.web.routes.jobs import checked_id, start_job
from squatpose.web.runner import Runner

PERSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["box"], "properties": {
        "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                "description": "x, y, w, h of the person in the video's own pixels, as in the job summary's "
                               "`people.boxes`"}}}}}}}


def person_box(body: object, frame_wh: list[int]) -> list[float]:
    """The `box` of a person-choice body: 4 finite numbers x,y,w,h, w and h > 0, overlapping the frame
    `frame_wh` and at most twice its size (geometry.box_problem); HTTPException(400) saying what is wrong."""
    box = body.get("box") if isinstance(body, dict) else None
    if not (isinstance(box, list) and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)):
        raise HTTPException(400, 'send {"box": [x, y, w, h]}: four numbers, the person\'s box in video '
                                 'pixels')
    if problem := box_problem(box, (int(frame_wh[0]), int(frame_wh[1]))):
        raise HTTPException(400, problem)
    return [float(v) for v in box]


async def read_small_json(request: Request) -> object:
    """The request's JSON body (its size is held to limits.PERSON_BODY_BYTES as it streams in): numbers
    beyond the float range and deep nesting are a 400 like any bad JSON, never a 500."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send the box as application/json")
    raw = await request.body()
    try:
        return loads_bounded(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not valid JSON ({exc})") from exc
    except ValueError as exc:  # a number beyond the float range, too deep a nesting
        raise HTTPException(400, f"the body is refused: {exc}") from exc


def router(store: JobStore, runner: Runner) -> APIRouter:
    routes = APIRouter()

    @routes.post("/api/jobs/{job_id}/person", status_code=201, summary="Analyse another person of a video",
                 openapi_extra=PERSON_BODY,
                 responses={400: {"description": "invalid job id, or a bad box"},
                            404: {"description": "no such job"},
                            409: {"description": "not a finished video job, or its video or model is gone"},
                            413: {"description": "body over 4 kB"},
                            415: {"description": "not sent as application/json"}})
    async def choose_person(job_id: str, request: Request) -> JSONResponse:
        """When a video shows several people, a finished job's `summary.people` lists the boxes of those
        seen (`boxes`, in the video's pixels, on the frame `frame`, shown in `people.jpg`) and which one it
        followed. Send one of them (or any box around a person in the video's first frame) to analyse that
        person instead: a new job on the same video, view and model; the original job stays as it is."""
        record = store.read(checked_id(job_id))
        if record is None:
            raise HTTPException(404, "no such job")
        if record.get("kind") != "video" or record.get("state") != "done":
            raise HTTPException(409, "only a finished video analysis can follow another person")
        folder = store.jobs_dir / job_id
        frame_wh = ((read_json(folder / "out" / "summary.json") or {}).get("people") or {}).get("frame_wh")
        if not (folder / record["input"]).is_file() or not frame_wh:
            raise HTTPException(409, "this analysis no longer has its video (or predates choosing a person): "
                                     "upload the video again")
        box = person_box(await read_small_json(request), frame_wh)
        try:
            checkpoint = store.checkpoint_for(record["model"])
        except ValueError as exc:
            raise HTTPException(409, f"the analysis' model is no longer available ({exc})") from exc
        return start_job(store, runner, store.derive(record, box), checkpoint)

    return routes
