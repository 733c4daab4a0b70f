"""The Live page: the browser's camera over a WebSocket, counted and judged as the person squats.

    GET  /live                  the page (static/live.html)
    WS   /api/live?view=auto    binary frames in (web/live_session.py), JSON messages out:
                                {"type": "frame", "state", "events", "dropped", "latency_ms"} per frame
                                analysed, {"type": "error", "message"} for a frame that cannot be used,
                                and after the text message {"type": "stop"}: {"type": "summary", ...} then
                                {"type": "result", "job": id or null, "message"}
    POST /api/jobs/{id}/save    keep a live set's result (otherwise it goes at the next set or restart)

The socket is refused (closed before it opens) when its Origin is another site's or its Host is not
the server's own name, like the state-changing HTTP routes, and without the access token where the
server has one. One live set runs at a time; the model is loaded at the first one.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse

from squatpose.web.jobs import BUILTIN_MODEL, VIEWS, JobStore, new_job_id, valid_job_id, write_json
from squatpose.web.live_session import BrowserSet, FrameError, LatestSlot, parse_frame
from squatpose.web.runner import Runner
from squatpose.web.security import host_name
from squatpose.web.token import has_token

log = logging.getLogger(__name__)

STATIC = Path(__file__).parents[1] / "static"
IDLE_TIMEOUT_S = 20.0   # no message for this long: the set ends (a stalled or forgotten page)
SEND_TIMEOUT_S = 10.0   # a browser that does not read its messages for this long is disconnected
POLICY = 1008           # WebSocket close code: policy violation
TRY_LATER = 1013


class LiveHub:
    """What the live sets of one server share: the model (loaded once, at the first set) and the rule
    of one set at a time."""

    def __init__(self, session_factory: Callable[[str], Any] | None = None,
                 idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.busy = False
        self.idle_timeout_s = idle_timeout_s
        self._factory = session_factory
        self._predictor = None

    def new_session(self, view: str):  # noqa: ANN201 - a LiveSession (video tier, imported lazily)
        if self._factory is not None:
            return self._factory(view)
        from squatpose.pose.predictor import Predictor
        from squatpose.video.live import LiveSession

        if self._predictor is None:
            self._predictor = Predictor.from_checkpoint(None)
        return LiveSession(self._predictor, view=view)


def refused(websocket: WebSocket, allowed_hosts: list[str] | None, token: str | None) -> str | None:
    """Why a live socket is not accepted, or None."""
    host = websocket.headers.get("host", "")
    if allowed_hosts and host_name(host) not in allowed_hosts:
        return "invalid host header"
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        return f"the page of another origin may not use the camera socket ({origin[:100]})"
    if not has_token(websocket, token):
        return "the access token is missing or wrong"
    return None


class LiveConnection:
    """One socket: a receiver that keeps only the newest frame, a processor that analyses it off the
    event loop, and at Stop the summary and the result job."""

    def __init__(self, websocket: WebSocket, browser_set: BrowserSet, store: JobStore, runner: Runner,
                 view: str, idle_timeout_s: float) -> None:
        self.ws, self.set, self.store, self.runner, self.view = websocket, browser_set, store, runner, view
        self.idle_timeout_s = idle_timeout_s
        self.slot = LatestSlot()
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.stopping = False

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await asyncio.wait_for(self.ws.send_text(json.dumps(message)), SEND_TIMEOUT_S)

    async def run(self) -> None:
        processor = asyncio.create_task(self.process_frames())
        ending = "gone"
        try:
            ending = await self.receive()
        finally:
            self.stopping = True
            self.wake.set()
            if ending != "stop":   # at Stop the frame being analysed is finished first
                processor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await processor
            self.slot.discard()
        if ending == "stop":
            await self.stop()
        elif ending == "idle":
            await self.send({"type": "error", "message": f"no frame for {self.idle_timeout_s:.0f} s: the live set "
                                                         "was ended (nothing was saved)"})
            await self.ws.close(code=1000)

    async def receive(self) -> str:
        """Read messages until Stop ('stop'), silence ('idle') or the browser leaving ('gone')."""
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), self.idle_timeout_s)
            except asyncio.TimeoutError:
                return "idle"
            if message["type"] == "websocket.disconnect":
                return "gone"
            if message.get("bytes") is not None:
                try:
                    self.slot.put(parse_frame(message["bytes"]))
                    self.wake.set()
                except FrameError as exc:
                    await self.send({"type": "error", "message": str(exc)})
            elif _is_stop(message.get("text")):
                return "stop"
            else:
                await self.send({"type": "error", "message": 'text messages must be {"type": "stop"}; frames '
                                                             "are sent as binary messages"})

    async def process_frames(self) -> None:
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            item = self.slot.take()
            if item is None or self.stopping:
                continue
            try:
                reply = await asyncio.to_thread(self.set.process, item)
            except FrameError as exc:
                reply = {"type": "error", "message": str(exc)}
            reply.update(dropped=self.slot.dropped, latency_ms=round(1000 * (time.monotonic() - item.arrived), 1))
            await self.send(reply)

    async def stop(self) -> None:
        events = await asyncio.to_thread(self.set.session.finish, self.slot.dropped)
        await self.send({"type": "summary", **events[-1], "events": events[:-1]})
        job, why = await asyncio.to_thread(self.result_job)
        await self.send({"type": "result", "job": job, "message": why})
        await self.ws.close(code=1000)

    def result_job(self) -> tuple[str | None, str]:
        """An unsaved job analysing the set's joints (the previous unsaved one goes), or None and why."""
        try:
            data = self.set.result_json()
        except ValueError as exc:
            return None, f"the set could not be analysed: {exc}"
        if data is None:
            return None, "the set was too short to analyse (fewer than ten frames)"
        for record in self.store.list(include_unsaved=True):
            if record.get("saved") is False:
                self.store.delete(record["id"])
        part = self.store.uploads_dir / f"{new_job_id()}.part"
        write_json(part, data)
        name = time.strftime("live set %Y-%m-%d %H:%M")
        try:
            record = self.store.create(part, "live", ".json", view=self.view, model=BUILTIN_MODEL, upload_name=name,
                                       size=part.stat().st_size, saved=False)
        finally:
            part.unlink(missing_ok=True)
        self.runner.submit(record["id"], None)
        return record["id"], "analysing the set; it is kept only if you save it"


def _is_stop(text: str | None) -> bool:
    try:
        return isinstance(text, str) and json.loads(text) == {"type": "stop"}
    except ValueError:
        return False


def router(store: JobStore, runner: Runner, allowed_hosts: list[str] | None = None, token: str | None = None,
           hub: LiveHub | None = None) -> APIRouter:
    routes = APIRouter()
    hub = hub or LiveHub()

    @routes.get("/live", include_in_schema=False)
    def live_page() -> FileResponse:
        return FileResponse(STATIC / "live.html", headers={"Cache-Control": "no-cache"})

    @routes.websocket("/api/live")
    async def live_socket(websocket: WebSocket, view: str = "auto") -> None:
        why = refused(websocket, allowed_hosts, token)
        if why:
            log.info("live socket refused: %s", why)
            await websocket.close(code=POLICY, reason=why)
            return
        await websocket.accept()
        if view not in VIEWS or hub.busy:
            message = (f"unknown view '{view}': choose one of {', '.join(VIEWS)}" if view not in VIEWS else
                       "another live set is running on this server (one at a time): stop it first")
            await websocket.send_text(json.dumps({"type": "error", "message": message}))
            await websocket.close(code=POLICY if view not in VIEWS else TRY_LATER)
            return
        hub.busy = True
        try:
            await websocket.send_text(json.dumps({"type": "status", "message": "loading the model"}))
            session = await asyncio.to_thread(hub.new_session, view)
            await websocket.send_text(json.dumps({"type": "ready", "joints": list(session.predictor.joint_set.names)}))
            await LiveConnection(websocket, BrowserSet(session), store, runner, view, hub.idle_timeout_s).run()
        except (WebSocketDisconnect, asyncio.TimeoutError, RuntimeError) as exc:
            # the browser left, stopped reading (a stalled socket), or the socket closed under us
            log.info("live set ended: %s", type(exc).__name__)
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=1000)
        finally:
            hub.busy = False

    @routes.post("/api/jobs/{job_id}/save", summary="Keep a live set's result",
                 responses={400: {"description": "invalid job id"}, 404: {"description": "no such job"},
                            409: {"description": "not a live set"}})
    def save(job_id: str) -> JSONResponse:
        """A live set's result is made at Stop as an unsaved job: not listed, and removed at the next live set
        or server start. Saving it keeps it like any other analysis."""
        if not valid_job_id(job_id):
            raise HTTPException(400, "invalid job id")
        record = store.read(job_id)
        if record is None:
            raise HTTPException(404, "no such job")
        if record.get("kind") != "live":
            raise HTTPException(409, "only a live set's result needs saving")
        return JSONResponse(store.update(job_id, saved=True))

    return routes
