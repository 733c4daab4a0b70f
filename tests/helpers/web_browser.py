"""The browser tests' server and Chromium: `squatpose.web.server.serve` in a subprocess on a free port, and
a headless Chromium through Playwright, skipped with a reason where either is not installed."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENS = REPO / "derived" / "web_screens"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVE = ("import logging, sys; logging.basicConfig(level=logging.INFO); from squatpose.web.server import "
         "serve; serve('127.0.0.1', int(sys.argv[1]), sys.argv[2], 50, 1)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def web_server(data: Path, log_path: Path, ready_path: str = "/", timeout_s: float = 90.0) -> Iterator[str]:
    """The server on a free port with `data` as its data folder, its output in `log_path`; yields its URL
    once `ready_path` answers, and stops it afterwards. Fails the test with the log if it exits early."""
    pytest.importorskip("uvicorn")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", SERVE, str(port), str(data)], stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited early:\n{log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url + ready_path, timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def playwright_or_skip() -> Iterator:
    """Playwright's sync API session, or a skip naming what is missing; screenshots go to SCREENS."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright, extra_args: tuple[str, ...] = ()):  # noqa: ANN001, ANN201 - Playwright
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS + list(extra_args))
