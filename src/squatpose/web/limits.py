"""Limits on what a request may cost the server: one byte limit for the whole body, counted while it
streams in whatever its encoding (a chunked body has no Content-Length to check beforehand), and a full
disk answered as such.

`BodyLimit` (ASGI middleware): a declared Content-Length over the request's limit is refused before
anything is read; a body that grows past it is refused at the chunk that crosses it. Either way HTTP 413
with a JSON `detail`, as every API error, and at most the limit is ever read. `request_body_limits` gives
each route its limit: the upload limit plus room for the form around the file on `POST /api/jobs`, 4 kB
for a person choice, 64 kB for anything else. WebSocket messages are bounded by the server (uvicorn's
ws_max_size) instead.

`disk_full`: an exception handler that answers 507 (Insufficient Storage) when a write fails for lack of
space, instead of a 500 that says nothing.
"""
from __future__ import annotations

import errno
import re
from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_SLACK = 64 * 1024  # multipart boundaries, part headers and the small fields around the uploaded file
PERSON_BODY_BYTES = 4096   # a person choice: {"box": [x, y, w, h]}
OTHER_BODY_BYTES = 64 * 1024
PERSON_PATH = re.compile(r"/api/jobs/[^/]+/person")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

LimitFor = Callable[[Scope], tuple[int, str]]


class BodyTooLarge(HTTPException):
    """Raised while the body streams in: FastAPI passes HTTPException through its own body parsing, so
    this becomes the 413 answer wherever the body is read."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


def request_body_limits(max_upload_bytes: int) -> LimitFor:
    """(limit in bytes, message) for a request, from its method and path."""
    upload_mb = max_upload_bytes / 2**20

    def limit_for(scope: Scope) -> tuple[int, str]:
        method, path = scope.get("method", ""), scope.get("path", "")
        if method == "POST" and path == "/api/jobs":
            return max_upload_bytes + FORM_SLACK, f"the upload is larger than the limit of {upload_mb:.3g} MB"
        if method == "POST" and PERSON_PATH.fullmatch(path):
            return PERSON_BODY_BYTES, f"the body is larger than {PERSON_BODY_BYTES} bytes: send only the box"
        return OTHER_BODY_BYTES, f"the body is larger than {OTHER_BODY_BYTES // 1024} kB"

    return limit_for


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """ASGI middleware holding every HTTP request body to `limit_for(scope)` bytes."""

    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, message = self.limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:  # refused before a byte of the body is read
            await _too_large(message)(scope, receive, send)
            return
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(message)
            return event

        async def tracked_send(event: Message) -> None:
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:  # raised where no exception handler turned it into the answer
            if started:
                raise
            await _too_large(message)(scope, receive, send)


def _too_large(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=413, headers={"Connection": "close"})


async def disk_full(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for OSError: 507 when the disk (or the user's quota) is full, else raised on."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return JSONResponse({"detail": "the server's disk is full: free some space (or delete old jobs) "
                                       "and try again"}, status_code=507)
    raise exc
