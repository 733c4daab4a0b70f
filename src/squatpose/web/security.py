"""What the local server refuses and the headers it adds: a Host header other than its own names (DNS
rebinding), a state-changing request from another site's page; nosniff and the content security policies."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'")
REPORT_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"


def host_name(host_header: str) -> str:
    """The host of a Host header without its port: 'localhost:8000' → 'localhost', '[::1]:80' → '::1'."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


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


def loopback_hosts(host: str) -> list[str] | None:
    """Host names allowed when bound to a loopback address (the usual names and the address itself, such
    as 127.0.0.2); None (any) otherwise."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return list(dict.fromkeys(["127.0.0.1", "localhost", "::1", host])) if loopback else None


def add_security_middleware(app: FastAPI, allowed_hosts: list[str] | None) -> None:
    """Refuse other Host headers (when `allowed_hosts` is given) and cross-site writes; add the headers."""

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
