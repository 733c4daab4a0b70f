"""The access token of a server reachable beyond this computer (`squatpose serve --allow-network`).

The start-up message gives the address with `?token=...`; the first page load with it sets a cookie
(HttpOnly, SameSite=Strict), so the page's own requests and its WebSocket carry it from then on.
Without the token (in the query or the cookie) every request is refused with 401.
"""
from __future__ import annotations

import hmac
import secrets

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.requests import HTTPConnection

COOKIE = "squatpose_token"
REFUSED = ("this server needs its access token: open the address with ?token=... that `squatpose serve` "
           "printed when it started")


def new_token() -> str:
    return secrets.token_urlsafe(18)


def has_token(connection: HTTPConnection, token: str | None) -> bool:
    """Whether a request or WebSocket carries `token` (always True when the server has none)."""
    if token is None:
        return True
    given = connection.query_params.get("token") or connection.cookies.get(COOKIE) or ""
    return hmac.compare_digest(given.encode(), token.encode())


def require_token(app: FastAPI, token: str | None) -> None:
    """Refuse HTTP requests without the token; remember a token given in the URL in a cookie."""
    if token is None:
        return

    @app.middleware("http")
    async def check_token(request: Request, call_next):  # noqa: ANN202
        if not has_token(request, token):
            return PlainTextResponse(REFUSED, status_code=401)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response
