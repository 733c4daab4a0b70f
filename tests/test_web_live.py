"""The live socket (web/routes/live.py) through FastAPI's TestClient with the real built-in model: who may
connect, bad frames, a client that floods or goes quiet, and a whole real set that becomes an unsaved job.
Frames are JPEGs of a real shared clip (skipped without shared data) or drawn at test time."""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_or_skip

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from squatpose.web.routes.live import LiveHub  # noqa: E402
from squatpose.web.server import create_app  # noqa: E402
from squatpose.web.token import COOKIE  # noqa: E402

JOB_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def hub() -> LiveHub:
    """One hub for the module: the built-in model loads once."""
    return LiveHub(idle_timeout_s=3.0)


def make_client(tmp_path: Path, hub: LiveHub, **kwargs) -> TestClient:
    return TestClient(create_app(tmp_path / "web", warm_up=False, live_hub=hub, **kwargs))


def frame_message(bgr: np.ndarray, t_ms: float, quality: int = 80) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return struct.pack("<d", t_ms) + jpeg.tobytes()


def clip_frames(name: str = "squat_13.mp4", size_wh: tuple[int, int] = (640, 360)) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(shared_or_skip("squat_videos", name)))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size_wh, interpolation=cv2.INTER_AREA))
    cap.release()
    return frames, fps


def open_set(ws) -> list[str]:
    """Read the socket's greeting: 'loading the model', then 'ready' with the joint names."""
    assert ws.receive_json() == {"type": "status", "message": "loading the model"}
    ready = ws.receive_json()
    assert ready["type"] == "ready" and "left_hip" in ready["joints"]
    return ready["joints"]


def test_socket_from_another_site_or_host_is_refused(tmp_path, hub) -> None:
    with make_client(tmp_path, hub, allowed_hosts=["127.0.0.1", "localhost"]) as client:
        for headers in ({"origin": "http://evil.example", "host": "localhost"}, {"host": "evil.example"}):
            with pytest.raises(WebSocketDisconnect) as refused, \
                    client.websocket_connect("/api/live", headers=headers) as ws:
                ws.receive_json()
            assert refused.value.code == 1008
        with client.websocket_connect("/api/live", headers={"origin": "http://localhost", "host": "localhost"}) as ws:
            open_set(ws)


def test_a_token_is_needed_where_the_server_has_one(tmp_path, hub) -> None:
    with make_client(tmp_path, hub, token="s3cret-token") as client:
        assert client.get("/").status_code == 401
        assert "access token" in client.get("/api/jobs").text
        page = client.get("/live?token=s3cret-token")
        assert page.status_code == 200 and page.cookies.get(COOKIE) == "s3cret-token"
        assert client.get("/api/jobs").status_code == 200          # the cookie carries it from now on
        with client.websocket_connect("/api/live") as ws:
            open_set(ws)
        client.cookies.clear()
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/live?token=wrong") as ws:
            ws.receive_json()
        assert refused.value.code == 1008


def test_bad_frames_get_a_clear_message_and_the_set_goes_on(tmp_path, hub) -> None:
    image = np.full((240, 320, 3), 90, np.uint8)
    with make_client(tmp_path, hub) as client, client.websocket_connect("/api/live") as ws:
        open_set(ws)
        bad = {b"hello": "8 bytes of capture time followed by a JPEG",
               struct.pack("<d", 0.0) + b"GIF89a not a jpeg": "must be a JPEG image",
               struct.pack("<d", 1.0) + b"\xff\xd8\xff" + bytes(100): "not a readable JPEG",
               struct.pack("<d", float("nan")) + b"\xff\xd8\xff": "finite number of milliseconds",
               frame_message(np.zeros((20, 30, 3), np.uint8), 2.0): "outside 64-1920 pixels",
               struct.pack("<d", 3.0) + b"\xff\xd8\xff" + bytes(3 * 2**20): "larger than the limit"}
        for message, words in bad.items():
            ws.send_bytes(message)
            reply = ws.receive_json()
            assert reply["type"] == "error" and words in reply["message"], reply
        ws.send_text("start please")
        assert "text messages must be" in ws.receive_json()["message"]
        ws.send_bytes(frame_message(image, 10.0))
        reply = ws.receive_json()
        assert reply["type"] == "frame" and reply["state"]["frame_wh"] == [320, 240]
        ws.send_bytes(frame_message(cv2.resize(image, (200, 150)), 20.0))
        assert "this set's frames are 320×240" in ws.receive_json()["message"]
        ws.send_bytes(frame_message(image, 5.0))
        assert "frame times must increase" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "stop"}))
        summary = ws.receive_json()
        assert summary["type"] == "summary" and summary["reps"] == 0 and summary["frames"] == 1
        result = ws.receive_json()
        assert result == {"type": "result", "job": None,
                          "message": "the set was too short to analyse (fewer than ten frames)"}


def test_a_client_sending_faster_than_the_server_only_drops_frames(tmp_path, hub) -> None:
    frames, _ = clip_frames()
    sent = 80
    with make_client(tmp_path, hub) as client, client.websocket_connect("/api/live") as ws:
        open_set(ws)
        for i in range(sent):   # all at once: far faster than the model runs
            ws.send_bytes(frame_message(frames[i % len(frames)], 1000 * i / 24))
        ws.send_text(json.dumps({"type": "stop"}))
        replies = []
        while (reply := ws.receive_json())["type"] == "frame":
            replies.append(reply)
        assert reply["type"] == "summary"
    assert reply["frames"] == len(replies) and reply["frames"] + reply["dropped"] == sent
    assert reply["dropped"] > sent // 2      # nothing queued up: most frames were replaced before their turn
    assert [r["dropped"] for r in replies] == sorted(r["dropped"] for r in replies)


def test_a_quiet_socket_is_closed(tmp_path, hub) -> None:
    with make_client(tmp_path, hub) as client, client.websocket_connect("/api/live") as ws:
        open_set(ws)
        start = time.monotonic()
        reply = ws.receive_json()
        assert reply["type"] == "error" and "no frame for 3 s" in reply["message"]
        assert 2.5 < time.monotonic() - start < 20
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_one_set_at_a_time(tmp_path, hub) -> None:
    with make_client(tmp_path, hub) as client, client.websocket_connect("/api/live") as first:
        open_set(first)
        with client.websocket_connect("/api/live") as second:
            assert "another live set is running" in second.receive_json()["message"]
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/live?view=top") as third:
            assert "unknown view 'top'" in third.receive_json()["message"]
            third.receive_json()


def wait_done(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s")


def test_a_real_set_is_counted_and_becomes_an_unsaved_job_that_can_be_saved(tmp_path, hub) -> None:
    """squat_13 (two repetitions), frame after frame as the page sends them (the next once the last is
    answered), at the clip's own times."""
    frames, fps = clip_frames()
    completed = []
    with make_client(tmp_path, hub) as client:
        with client.websocket_connect("/api/live") as ws:
            open_set(ws)
            for i, frame in enumerate(frames):
                ws.send_bytes(frame_message(frame, 1000 * i / fps))
                reply = ws.receive_json()
                assert reply["type"] == "frame", reply
                completed += [e for e in reply["events"] if e["event"] == "rep_completed"]
            assert reply["state"]["reps"] == 2 and reply["state"]["person"]
            ws.send_text(json.dumps({"type": "stop"}))
            summary, result = ws.receive_json(), ws.receive_json()
        assert summary["reps"] == 2 and summary["frames"] == len(frames) and summary["dropped"] == 0
        assert [e["rep"] for e in completed] == [1, 2] and all(e["verdict"] for e in completed)
        job_id = result["job"]
        assert result["type"] == "result" and job_id
        assert all(j["id"] != job_id for j in client.get("/api/jobs").json()["jobs"])   # not listed until saved
        job = wait_done(client, job_id)
        assert job["state"] == "done", job.get("error")
        assert job["kind"] == "live" and job["saved"] is False and job["summary"]["reps"] == 2
        assert "report.html" in job["files"] and "annotated.mp4" not in job["files"]
        assert client.post(f"/api/jobs/{job_id}/save").json()["saved"] is True
        assert any(j["id"] == job_id for j in client.get("/api/jobs").json()["jobs"])
    # no frame reached the disk: nothing in the data folder is an image or a video but the report's plots
    written = [p for p in (tmp_path / "web").rglob("*") if p.is_file()]
    assert not [p for p in written if p.read_bytes()[:3] == b"\xff\xd8\xff" or p.suffix in (".mp4", ".webm", ".jpg")]


def test_an_unsaved_set_goes_at_restart(tmp_path, hub) -> None:
    from squatpose.web.jobs import JobStore

    store = JobStore(tmp_path / "web")
    part = store.uploads_dir / "x.part"
    part.write_text("{}")
    unsaved = store.create(part, "live", ".json", view="auto", model="built-in", upload_name="live set", size=2,
                           saved=False)
    assert store.list() == [] and store.list(include_unsaved=True)[0]["id"] == unsaved["id"]
    store.recover()
    assert store.list(include_unsaved=True) == []
