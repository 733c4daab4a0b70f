"""What a request may cost the local server (web/limits.py, web/upload.py, web/security.py): one byte limit
for the whole body whatever its encoding, bounded form fields, a full disk answered 507, the bound
address's own Host header, hostile JSON in a person choice answered 400."""
from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from squatpose.web import upload  # noqa: E402
from squatpose.web.security import loopback_hosts  # noqa: E402
from squatpose.web.server import create_app  # noqa: E402

JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(200)
BOUNDARY = "limitsboundary"


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


def chunked_post(port: int, path: str, chunks: Iterable[bytes]) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked (no Content-Length) over a raw socket, reading the answer while
    sending: a server that refuses early answers and closes before the body is all sent."""
    sock = socket.create_connection(("127.0.0.1", port))
    answer = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: "
                     "close\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; "
                     f"boundary={BOUNDARY}\r\n\r\n".encode())
        for chunk in chunks:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    except OSError:  # refused: the server closed the connection
        pass
    reader.join(timeout=60)
    sock.close()
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body or b"{}")


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_chunked_bodies_cannot_bypass_the_limit_on_a_real_server(tmp_path):
    """40 MB sent chunked (no Content-Length) as text fields before a small photo, or after a complete
    form: refused early (400 / 413), the server's peak memory does not grow, nothing is stored."""
    pytest.importorskip("uvicorn")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-c", f"""
import uvicorn
from squatpose.web.server import create_app
uvicorn.run(create_app({str(data)!r}, max_upload_mb=1, warm_up=False), host="127.0.0.1", port={port},
            log_level="warning")
"""], env=env)
    try:
        end = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                assert time.monotonic() < end and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        before = peak_rss_kb(server.pid)
        fields = (part(f"field{i}", b"x" * 1000) for i in range(40_000))  # each under the 1 kB field limit
        status, answer = chunked_post(port, "/api/jobs", [*fields, part("file", JPEG_BYTES, "a.jpg"), END])
        assert status == 400 and "too many form fields" in answer["detail"]
        # an epilogue
        padded = [part("file", JPEG_BYTES, "a.jpg"), END, *(b"y" * 100_000 for _ in range(400))]
        status, answer = chunked_post(port, "/api/jobs", padded)
        assert status == 413 and "larger than the limit of 1 MB" in answer["detail"]
        assert peak_rss_kb(server.pid) - before < 16_000, "the server read the body into memory"
        assert not any((data / "jobs").iterdir()) and not any((data / "uploads").iterdir())
    finally:
        server.kill()
        server.wait()


def test_form_fields_are_bounded_in_count_and_header_size(tmp_path):
    with TestClient(create_app(tmp_path / "data", warm_up=False)) as client:
        many = client.post("/api/jobs", files={"file": ("a.jpg", JPEG_BYTES)},
                           data={f"f{i}": "v" for i in range(upload.MAX_PARTS)})
        assert many.status_code == 400 and "too many form fields" in many.json()["detail"]
        # three headers of 3 kB: within the multipart parser's own limits (recent versions: 8 of 4 kB each)
        padding = "".join(f"X-Pad-{i}: {'p' * 3000}\r\n" for i in range(3))
        long_headers = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                        f"{padding}\r\n").encode() + JPEG_BYTES + b"\r\n" + END
        response = client.post("/api/jobs", content=long_headers,
                               headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
        assert response.status_code == 400 and "headers are longer than 8 kB" in response.json()["detail"]
        assert client.post("/api/jobs", files={"file": ("a.jpg", JPEG_BYTES)}, data={"view": "side"},
                           headers={"origin": "http://testserver"}).status_code == 201


def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path):
    with TestClient(create_app(tmp_path / "data", max_upload_mb=0.01, warm_up=False)) as client:
        response = client.post("/api/jobs", content=bytes(100), headers={
            "content-type": f"multipart/form-data; boundary={BOUNDARY}", "content-length": str(50 * 2**20)})
        assert response.status_code == 413 and "limit of 0.01 MB" in response.json()["detail"]
        other = client.request("DELETE", f"/api/jobs/{'0' * 32}", content=b"z" * 70_000)
        assert other.status_code == 413 and "larger than 64 kB" in other.json()["detail"]  # 64 kB elsewhere


def test_a_full_disk_answers_507_and_keeps_nothing(tmp_path, monkeypatch):
    class FullDisk:
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    monkeypatch.setattr(upload, "open", lambda *args, **kwargs: FullDisk(), raising=False)
    with TestClient(create_app(tmp_path / "data", warm_up=False)) as client:
        response = client.post("/api/jobs", files={"file": ("a.jpg", JPEG_BYTES)})
        assert response.status_code == 507 and "disk is full" in response.json()["detail"]
        assert client.get("/api/jobs").json()["jobs"] == []
    assert not any((tmp_path / "data" / "uploads").iterdir())


def test_the_bound_loopback_address_is_its_own_host(tmp_path):
    """`serve --host 127.0.0.2`: the page at http://127.0.0.2:8000/ works, other names are still refused."""
    assert loopback_hosts("127.0.0.2") == ["127.0.0.1", "localhost", "::1", "127.0.0.2"]
    assert loopback_hosts("0.0.0.0") is None
    app = create_app(tmp_path / "data", allowed_hosts=loopback_hosts("127.0.0.2"), warm_up=False)
    with TestClient(app, base_url="http://127.0.0.2:8000") as client:
        assert client.get("/api/config").status_code == 200
        own = client.post("/api/jobs", files={"file": ("a.jpg", b"not an image")},
                          headers={"origin": "http://127.0.0.2:8000"})
        assert own.status_code == 415  # past the host and origin checks, judged by its content
        assert client.get("/api/config", headers={"host": "127.0.0.3:8000"}).status_code == 400
