"""The web app's JSON API (FastAPI TestClient): uploads, jobs in worker processes, outputs, bad input,
deletion and restarts. Jobs run the real analysis on a short real clip (skipped without shared data)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_or_skip

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from squatpose.web.jobs import INTERRUPTED, JobStore, read_json, write_json  # noqa: E402
from squatpose.web.ownership import claim  # noqa: E402
from squatpose.web.server import create_app  # noqa: E402
from squatpose.web.sniff import sniff  # noqa: E402

JOB_TIMEOUT_S = 150


def cut_clip(dest: Path, n_frames: int, step: int, size_wh: tuple[int, int]) -> Path:
    """Every `step`-th of the first n_frames frames of squat_13.mp4, resized, written by OpenCV."""
    source = shared_or_skip("squat_videos", "squat_13.mp4")
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps / step, size_wh)
    for i in range(n_frames):
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            writer.write(cv2.resize(frame, size_wh, interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    return dest


def still_frame(dest: Path, index: int = 0) -> Path:
    """One frame of squat_13.mp4 as a JPEG."""
    cap = cv2.VideoCapture(str(shared_or_skip("squat_videos", "squat_13.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok
    cv2.imwrite(str(dest), cv2.resize(frame, (640, 360)))
    return dest


def upload(client: TestClient, path: Path, name: str | None = None, **fields: str):
    with open(path, "rb") as fh:
        return client.post("/api/jobs", files={"file": (name or path.name, fh, "application/octet-stream")},
                           data=fields)


def wait_for(client: TestClient, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s: {job}")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("web_media")
    return {"clip": cut_clip(root / "clip.mp4", n_frames=40, step=2, size_wh=(320, 180)),
            "photo": still_frame(root / "photo.jpg")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One app (one worker process) shared by the tests that run jobs."""
    data = tmp_path_factory.mktemp("web_data")
    (data / "models").mkdir()
    (data / "models" / "mine.pt").write_bytes(b"not really a checkpoint")
    with TestClient(create_app(data, workers=1)) as client:
        yield client, data


@pytest.fixture(scope="module")
def finished_video(server, media) -> dict:
    client, _ = server
    response = upload(client, media["clip"], name="my squat.mp4", view="auto")
    assert response.status_code == 201, response.text
    return wait_for(client, response.json()["id"])


# ---------- content sniffing (no server) ----------

@pytest.mark.parametrize("head, kind, ext", [
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video", ".mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video", ".mov"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", "video", ".webm"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska", "video", ".mkv"),
    (b"RIFF\x10\x00\x00\x00AVI LIST", "video", ".avi"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image", ".jpg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image", ".png"),
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image", ".bmp"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image", ".webp"),
])
def test_sniff_recognises_supported_types(head: bytes, kind: str, ext: str) -> None:
    found = sniff(head)
    assert found is not None and (found.kind, found.ext) == (kind, ext)


@pytest.mark.parametrize("head", [b"just some text, not a video at all", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
                                  b"GIF89a\x01\x00\x01\x00\x80\x00\x00", b"\x00\x00\x00\x18ftypavif\x00\x00", b"short"])
def test_sniff_rejects_other_content(head: bytes) -> None:
    assert sniff(head) is None


# ---------- the worker side, in this process ----------

def test_worker_stops_a_deleted_job(tmp_path) -> None:
    from squatpose.web import worker

    store = JobStore(tmp_path)
    upload_file = store.uploads_dir / "x.part"
    upload_file.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    record = store.create(upload_file, "video", ".mp4", view="auto", model="built-in", upload_name="a.mp4", size=112)
    folder = store.jobs_dir / record["id"]
    (folder / "cancel").touch()
    assert worker.run_job(str(folder), None, claim(folder)) == "cancelled"
    assert store.read(record["id"]) is None and store.list() == []


def test_progress_moves_on_through_the_writing_stages(tmp_path) -> None:
    """The bar fills to 80 % while joints are found, then moves on while the results are written
    (the annotated video frame by frame) instead of sitting at 100 %."""
    from squatpose.web import worker
    from squatpose.web.ownership import Lease, claim

    progress = worker.Progress(tmp_path, Lease(tmp_path, claim(tmp_path)))

    def fraction() -> float | None:
        return read_json(tmp_path / "progress.json")["fraction"]

    progress.stage("loading the model")
    assert fraction() is None  # no frames yet: shown as busy, not as a share
    progress.stage("finding the joints in each frame", span=worker.POSE_SPAN)
    progress.frame(50, 50)
    assert fraction() == pytest.approx(0.8)
    progress.stage("measuring the squats and drawing the plots", span=(worker.POSE_SPAN[1], worker.VIDEO_SPAN[0]))
    assert fraction() == pytest.approx(0.8)
    progress.stage("drawing the annotated video", 25, 50, worker.VIDEO_SPAN)
    assert fraction() == pytest.approx(0.895)
    progress.frame(50, 50)
    assert fraction() == pytest.approx(0.97) and read_json(tmp_path / "progress.json")["stage"] == "drawing the annotated video"


def test_people_frame_is_the_frame_asked_for_at_most_960_px_wide(tmp_path) -> None:
    from squatpose.web.worker import write_people_frame

    video = tmp_path / "wide.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (1280, 360))
    for value in (0, 60, 120, 180):
        writer.write(np.full((360, 1280, 3), value, np.uint8))
    writer.release()
    write_people_frame(video, 2, tmp_path / "people.jpg")
    image = cv2.imread(str(tmp_path / "people.jpg"))
    assert image.shape == (270, 960, 3) and abs(float(image.mean()) - 120) < 4
    with pytest.raises(ValueError, match="wide.mp4: frame 9 could not be read again"):
        write_people_frame(video, 9, tmp_path / "late.jpg")
    assert not (tmp_path / "late.jpg").exists()


def test_error_messages_lose_server_paths(tmp_path) -> None:
    from squatpose.web.worker import scrub

    folder = tmp_path / "data" / "jobs" / ("a" * 32)
    message = f"{folder / 'input.mp4'}: cannot open; {tmp_path / 'data' / 'models' / 'm.pt'}: bad; {folder}"
    assert scrub(message, folder, "input.mp4", "video") == "the uploaded video: cannot open; models/m.pt: bad; the job folder"


# ---------- the API ----------

def test_page_config_and_openapi(server) -> None:
    client, _ = server
    page = client.get("/")
    assert page.status_code == 200 and "Analyse a squat" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    config = client.get("/api/config").json()
    assert [m["name"] for m in config["models"]] == ["built-in", "mine.pt"]
    assert config["views"] == ["auto", "side", "front", "back"]
    assert config["max_upload_bytes"] == 200 * 2**20
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/jobs"]["post"]["requestBody"]["content"]
    assert "file" in body["multipart/form-data"]["schema"]["properties"]
    assert {"get", "delete"} <= set(spec["paths"]["/api/jobs/{job_id}"])
    person = spec["paths"]["/api/jobs/{job_id}/person"]["post"]
    assert "box" in person["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "people.jpg" in person["description"] and {"400", "404", "409"} <= set(person["responses"])
    # no interactive docs: FastAPI's page loads its script from a CDN, which the page's CSP blocks
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert 'href="/openapi.json"' in page.text


def test_video_job_runs_to_results(server, finished_video) -> None:
    client, data = server
    job = finished_video
    assert job["state"] == "done", job["error"]
    assert job["kind"] == "video" and job["upload_name"] == "my squat.mp4" and job["input"] == "input.mp4"
    summary = job["summary"]
    assert isinstance(summary["reps"], int) and job["reps"] == summary["reps"]
    assert summary["n_frames"] == 20 and summary["source"] == "my squat.mp4"  # the user's name, not the server's
    assert job["progress"]["fraction"] == 1.0
    files = job["files"]
    for name in ("summary.json", "keypoints.csv", "angles.csv", "timeline.png", "annotated.mp4", "report.html"):
        assert files[name] == f"/api/jobs/{job['id']}/files/{name}"
    if summary["video_codec"] != "h264":  # browsers do not play mp4v: the server adds a WebM copy
        assert "annotated.webm" in files
    served = client.get(files["summary.json"])
    assert served.headers["content-type"].startswith("application/json") and served.json() == summary
    png = client.get(files["timeline.png"])
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    report = client.get(files["report.html"])
    assert report.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<title>Squat analysis — my squat.mp4</title>" in report.text
    video = client.get(files["annotated.mp4"], headers={"Range": "bytes=0-99"})
    assert video.status_code == 206 and len(video.content) == 100
    listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert listed[job["id"]]["state"] == "done" and listed[job["id"]]["reps"] == summary["reps"]
    assert not any((data / "uploads").iterdir())  # nothing left half-received


def test_photo_job(server, media) -> None:
    client, _ = server
    response = upload(client, media["photo"], name="still.jpeg")
    assert response.status_code == 201 and response.json()["kind"] == "image"
    job = wait_for(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    assert {"pose.jpg", "heatmaps.png", "result.json"} <= set(job["files"])
    assert set(job["result"]["joints"]) == {"left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"}
    jpeg = client.get(job["files"]["pose.jpg"])
    assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:3] == b"\xff\xd8\xff"


def test_wrong_type_by_content_is_415(server, tmp_path) -> None:
    client, data = server
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is a text file with a video name\n" * 10)
    before = {p.name for p in (data / "jobs").iterdir()}
    with open(fake, "rb") as fh:
        response = client.post("/api/jobs", files={"file": ("clip.mp4", fh, "video/mp4")})
    assert response.status_code == 415 and "content" in response.json()["detail"]
    assert {p.name for p in (data / "jobs").iterdir()} == before
    assert not any((data / "uploads").iterdir())


@pytest.mark.parametrize("fields, status", [({"view": "upside-down"}, 422), ({"model": "../../etc/passwd.pt"}, 422),
                                            ({"model": "missing.pt"}, 422)])
def test_bad_form_fields(server, media, fields: dict, status: int) -> None:
    client, _ = server
    assert upload(client, media["photo"], **fields).status_code == status


def test_not_multipart_or_no_file(server) -> None:
    client, _ = server
    assert client.post("/api/jobs", content=b"\xff\xd8\xff" * 10, headers={"content-type": "image/jpeg"}).status_code == 415
    assert client.post("/api/jobs", data={"view": "side"}, files={"other": ("x", b"y")}).status_code == 400


def test_too_large_is_413_while_streaming(tmp_path) -> None:
    with TestClient(create_app(tmp_path / "data", max_upload_mb=0.01, warm_up=False)) as client:
        payload = b"\xff\xd8\xff\xe0" + bytes(20_000)  # a 'JPEG' over the 10 kB limit
        assert client.post("/api/jobs", files={"file": ("a.jpg", payload)}).status_code == 413
        # no Content-Length (chunked): the limit holds while the body streams in
        boundary = "testboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
                "Content-Type: image/jpeg\r\n\r\n").encode()

        def body():
            yield head
            for _ in range(40):
                yield bytes(1000)
            yield f"\r\n--{boundary}--\r\n".encode()

        response = client.post("/api/jobs", content=body(),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        assert not any((tmp_path / "data" / "uploads").iterdir())
        assert client.get("/api/jobs").json()["jobs"] == []


@pytest.mark.parametrize("path", [
    "/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/jobs/%2e%2e", "/api/jobs/ABCDEF0123456789ABCDEF0123456789",
    "/api/jobs/0123456789abcdef0123456789abcde", "/api/jobs/0123456789abcdef0123456789abcdef0",
    "/api/jobs/..%2F..%2Fetc/files/passwd", "/api/jobs/%2e%2e/files/summary.json"])
def test_bad_job_ids_are_rejected(server, path: str) -> None:
    client, _ = server
    assert client.get(path).status_code in (400, 404)
    assert client.delete(path).status_code in (400, 404, 405)


def test_unknown_job_is_404(server) -> None:
    client, _ = server
    missing = "0123456789abcdef0123456789abcdef"
    assert client.get(f"/api/jobs/{missing}").status_code == 404
    assert client.get(f"/api/jobs/{missing}/files/summary.json").status_code == 404
    assert client.delete(f"/api/jobs/{missing}").status_code == 404


@pytest.mark.parametrize("name", ["job.json", "input.mp4", "progress.json", "..%2Fjob.json", "%2e%2e%2fjob.json",
                                  "..%2F..%2F..%2Fserver.lock", "%2E%2E%5Cjob.json", "summary.json%00.png"])
def test_file_names_outside_the_allow_list_are_404(server, finished_video, name: str) -> None:
    client, _ = server
    response = client.get(f"/api/jobs/{finished_video['id']}/files/{name}")
    assert response.status_code == 404
    assert b'"state"' not in response.content  # job.json never leaks


def test_corrupt_video_fails_readably_and_next_job_runs(server, media, tmp_path) -> None:
    client, data = server
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 40)
    response = upload(client, corrupt)
    assert response.status_code == 201  # it looks like an MP4; the analysis finds out it is not
    job = wait_for(client, response.json()["id"])
    assert job["state"] == "failed"
    assert "the uploaded video" in job["error"] and ("corrupt" in job["error"] or "frames" in job["error"])
    assert str(data) not in job["error"] and "/" not in job["error"]
    assert job["files"] == {} and job["summary"] is None
    following = upload(client, media["clip"])
    assert wait_for(client, following.json()["id"])["state"] == "done"


def test_bad_checkpoint_fails_readably(server, media) -> None:
    client, data = server
    job = wait_for(client, upload(client, media["photo"], model="mine.pt").json()["id"])
    assert job["state"] == "failed" and job["model"] == "mine.pt"
    assert job["error"].startswith("models/mine.pt:") and str(data) not in job["error"]


def test_delete_finished_and_running_jobs(server, media) -> None:
    client, data = server
    photo = upload(client, media["photo"]).json()
    wait_for(client, photo["id"])
    assert client.delete(f"/api/jobs/{photo['id']}").json() == {"deleted": photo["id"], "pending": False}
    assert client.get(f"/api/jobs/{photo['id']}").status_code == 404
    assert not (data / "jobs" / photo["id"]).exists()
    assert photo["id"] not in {j["id"] for j in client.get("/api/jobs").json()["jobs"]}
    # a job deleted while queued or running stops and its folder goes
    running = upload(client, media["clip"]).json()
    deleted = client.delete(f"/api/jobs/{running['id']}")
    assert deleted.status_code in (200, 202)
    assert running["id"] not in {j["id"] for j in client.get("/api/jobs").json()["jobs"]}
    end = time.monotonic() + 60
    while (data / "jobs" / running["id"]).exists() and time.monotonic() < end:
        time.sleep(0.2)
    assert not (data / "jobs" / running["id"]).exists()


def test_restart_keeps_finished_jobs_and_fails_interrupted_ones(finished_video, server, tmp_path) -> None:
    _, data = server
    # the finished job's folder, as a server that stopped would have left it, plus one left running
    restarted = tmp_path / "restarted"
    shutil.copytree(data / "jobs" / finished_video["id"], restarted / "jobs" / finished_video["id"])
    store = JobStore(restarted)
    running_id = "f" * 32
    (store.jobs_dir / running_id / "out").mkdir(parents=True)
    write_json(store.jobs_dir / running_id / "job.json", {**finished_video, "id": running_id, "state": "running",
                                                           "summary": None, "created": 1.0})
    (store.uploads_dir / f"{'1' * 32}.part").write_bytes(b"half an upload")
    with TestClient(create_app(restarted, warm_up=False)) as client:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
        assert jobs[finished_video["id"]]["state"] == "done"
        assert client.get(f"/api/jobs/{finished_video['id']}").json()["summary"] == finished_video["summary"]
        assert jobs[running_id]["state"] == "failed" and jobs[running_id]["error"] == INTERRUPTED
        assert not any(store.uploads_dir.iterdir())
        # a second server on the same folder refuses to start
        with (pytest.raises(RuntimeError, match="another squatpose server"),
              TestClient(create_app(restarted, warm_up=False))):
            pass
    assert read_json(store.jobs_dir / running_id / "job.json")["state"] == "failed"
    assert json.loads((store.jobs_dir / finished_video["id"] / "job.json").read_text())["state"] == "done"


def test_stopping_the_server_keeps_unfinished_jobs_as_failed(media, tmp_path) -> None:
    with TestClient(create_app(tmp_path / "data", warm_up=False)) as client:
        ids = [upload(client, media["clip"]).json()["id"] for _ in range(2)]  # one starts, one waits
    store = JobStore(tmp_path / "data")
    for job_id in ids:
        record = read_json(store.jobs_dir / job_id / "job.json")
        assert record["state"] == "failed" and record["error"].startswith("interrupted"), record


def test_host_header_is_checked_when_configured(tmp_path) -> None:
    app = create_app(tmp_path / "data", allowed_hosts=["127.0.0.1", "localhost", "::1"], warm_up=False)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/config").status_code == 200
        for host in ("localhost", "[::1]:8000"):
            assert client.get("/api/config", headers={"host": host}).status_code == 200
        for host in ("evil.example:8000", "127.0.0.1.evil.example", "[::2]:8000"):
            assert client.get("/api/config", headers={"host": host}).status_code == 400


# ---------- safety: cross-site requests, files the server did not make, crashes, links ----------

JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(200)


def test_cross_site_requests_cannot_start_or_delete_jobs(tmp_path) -> None:
    with TestClient(create_app(tmp_path / "data", warm_up=False, job_fn=quick_job)) as client:
        files = {"file": ("a.jpg", JPEG_BYTES)}
        for headers in ({"origin": "http://evil.example"}, {"origin": "null"},
                        {"origin": "http://testserver.evil.example"}, {"sec-fetch-site": "cross-site"},
                        {"origin": "http://localhost:3000", "sec-fetch-site": "same-site"}):
            response = client.post("/api/jobs", files=files, headers=headers)
            assert response.status_code == 403 and "cross-site" in response.json()["detail"], headers
        assert client.get("/api/jobs").json()["jobs"] == []
        # the page itself (same origin) and scripts without Origin (curl) work as before
        own = client.post("/api/jobs", files=files, headers={"origin": "http://testserver",
                                                             "sec-fetch-site": "same-origin"})
        assert own.status_code == 201
        job_id = own.json()["id"]
        assert client.delete(f"/api/jobs/{job_id}", headers={"origin": "http://evil.example"}).status_code == 403
        assert client.get(f"/api/jobs/{job_id}").status_code == 200
        assert client.post("/api/jobs", files=files).status_code == 201
        assert client.get("/api/config", headers={"origin": "http://evil.example"}).status_code == 200


def test_start_up_removes_only_what_the_server_made(tmp_path) -> None:
    data = tmp_path / "data"
    for folder in ("uploads", "jobs/.git", "jobs/notes"):
        (data / folder).mkdir(parents=True)
    keep = [data / "uploads" / "my video.mp4", data / "uploads" / "clip.part", data / "jobs" / ".hidden",
            data / "jobs" / ".git" / "config", data / "jobs" / "notes" / "cancel"]
    for path in keep:
        path.write_text("the user's own file")
    made = [data / "uploads" / f"{'a' * 32}.part", data / "jobs" / f".{'b' * 32}.new",
            data / "jobs" / f".{'c' * 32}.0123abcd.deleted"]
    made[0].write_bytes(b"half an upload")
    for folder in made[1:]:
        (folder / "out").mkdir(parents=True)
    with TestClient(create_app(data, warm_up=False)) as client:
        assert client.get("/api/jobs").json()["jobs"] == []
    assert all(path.read_text() == "the user's own file" for path in keep)
    assert not any(path.exists() for path in made)


def test_symlinked_output_is_not_served(tmp_path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"private": true}')
    store = JobStore(tmp_path / "data")
    part = store.uploads_dir / f"{'d' * 32}.part"
    part.write_bytes(JPEG_BYTES)
    record = store.create(part, "image", ".jpg", view="auto", model="built-in", upload_name="a.jpg", size=10)
    out = store.jobs_dir / record["id"] / "out"
    (out / "result.json").symlink_to(secret)
    (out / "pose.jpg").write_bytes(JPEG_BYTES)
    store.update(record["id"], state="done")
    with TestClient(create_app(tmp_path / "data", warm_up=False)) as client:
        job = client.get(f"/api/jobs/{record['id']}").json()
        assert set(job["files"]) == {"pose.jpg"}
        response = client.get(f"/api/jobs/{record['id']}/files/result.json")
        assert response.status_code == 404 and b"private" not in response.content
        assert client.get(f"/api/jobs/{record['id']}/files/pose.jpg").content == JPEG_BYTES


def quick_job(job_dir: str, checkpoint: str | None, owner: str) -> str:
    """A stand-in analysis (runs in a worker process): 'crash.jpg' kills its own process once another
    job runs in the other worker, like the out-of-memory killer would; the others take 3 s."""
    folder = Path(job_dir)
    record = read_json(folder / "job.json")
    write_json(folder / "job.json", {**record, "state": "running"})
    if record["upload_name"] == "crash.jpg":
        end = time.monotonic() + 60
        while time.monotonic() < end and not any(
                (read_json(p / "job.json") or {}).get("state") == "running" for p in folder.parent.iterdir()
                if p != folder):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(3.0)
    write_json(folder / "job.json", {**record, "state": "done", "error": None})
    return "done"


def test_one_crashed_worker_fails_only_its_own_job(tmp_path) -> None:
    with TestClient(create_app(tmp_path / "data", workers=2, job_fn=quick_job)) as client:
        ids = {}
        for name in ("crash.jpg", "running.jpg", "queued.jpg"):  # two workers: the third waits
            response = client.post("/api/jobs", files={"file": (name, JPEG_BYTES)})
            assert response.status_code == 201
            ids[name] = response.json()["id"]
        jobs = {name: wait_for(client, job_id, timeout=120) for name, job_id in ids.items()}
    assert jobs["crash.jpg"]["state"] == "failed" and "stopped unexpectedly" in jobs["crash.jpg"]["error"]
    assert jobs["running.jpg"]["state"] == "done", jobs["running.jpg"]
    assert jobs["queued.jpg"]["state"] == "done", jobs["queued.jpg"]


# ---------- choosing another person of a video ----------

def write_tiny_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for value in (0, 100, 200):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    return path


def finished_job(store: JobStore, video: Path, *, kind: str = "video", summary: dict | None = None) -> dict:
    """A job folder as a finished analysis leaves it: the input file and out/summary.json."""
    part = store.uploads_dir / f"{'e' * 32}.part"
    shutil.copyfile(video, part)
    record = store.create(part, kind, video.suffix, view="side", model="built-in", upload_name="two of us.mp4",
                          size=video.stat().st_size)
    if summary is not None:
        write_json(store.jobs_dir / record["id"] / "out" / "summary.json", summary)
    return store.update(record["id"], state="done", reps=1)


TWO_PEOPLE = {"reps": 1, "people": {"count": 2, "frame": 0, "time_s": 0.0, "frame_wh": [64, 48],
                                    "boxes": [[4, 2, 20, 40], [36, 4, 20, 40]], "followed": 1}}


def test_choosing_a_person_makes_a_new_job_on_the_same_video(tmp_path) -> None:
    video = write_tiny_video(tmp_path / "two.mp4")
    store = JobStore(tmp_path / "data")
    source = finished_job(store, video, summary=TWO_PEOPLE)
    folder = store.jobs_dir / source["id"]
    before = {p.name: p.read_bytes() for p in (folder / "job.json", folder / "out" / "summary.json")}
    with TestClient(create_app(tmp_path / "data", warm_up=False, job_fn=quick_job)) as client:
        response = client.post(f"/api/jobs/{source['id']}/person", json={"box": [4, 2, 20, 40.5]})
        assert response.status_code == 201, response.text
        job = response.json()
        assert response.headers["location"] == f"/api/jobs/{job['id']}" and job["id"] != source["id"]
        assert job["box"] == [4, 2, 20, 40.5] and job["state"] in ("queued", "running")
        assert (job["kind"], job["view"], job["model"], job["size_bytes"]) == ("video", "side", "built-in",
                                                                               video.stat().st_size)
        assert job["upload_name"] == "two of us.mp4 (person at 4,2)"
        new_input = store.jobs_dir / job["id"] / job["input"]
        assert new_input.read_bytes() == video.read_bytes()
        assert new_input.stat().st_ino == (folder / source["input"]).stat().st_ino  # a hard link, no copy
        assert {j["id"] for j in client.get("/api/jobs").json()["jobs"]} == {source["id"], job["id"]}
        assert wait_for(client, job["id"])["state"] == "done"
        assert store.derive(job, [7.6, 3, 5, 5])["upload_name"] == "two of us.mp4 (person at 8,3)"  # not "… (…) (…)"
    assert {p.name: p.read_bytes() for p in (folder / "job.json", folder / "out" / "summary.json")} == before
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["summary.json"]


@pytest.mark.parametrize("body, message", [
    ({"box": [1, 2, 3]}, "four numbers"), ({"box": [1, 2, 3, "4"]}, "four numbers"), ({"box": [1, True, 3, 4]}, "four numbers"),
    ({"boxes": [1, 2, 3, 4]}, "four numbers"), ([1, 2, 3, 4], "four numbers"), ({"box": [1, 2, 0, 4]}, "positive width"),
    ({"box": [1, 2, 3, -4]}, "positive width"), ({"box": [64, 2, 3, 4]}, "outside the 64×48 frame"),
    ({"box": [-10, 2, 10, 4]}, "outside"), ({"box": [1, 48.5, 3, 4]}, "outside"), ({"box": [1, 2, 1e309, 4]}, "beyond the range")])
def test_bad_boxes_are_400(tmp_path, body, message: str) -> None:
    store = JobStore(tmp_path / "data")
    source = finished_job(store, write_tiny_video(tmp_path / "a.mp4"), summary=TWO_PEOPLE)
    with TestClient(create_app(tmp_path / "data", warm_up=False, job_fn=quick_job)) as client:
        content = json.dumps(body).replace("Infinity", "1e999")
        response = client.post(f"/api/jobs/{source['id']}/person", content=content,
                               headers={"content-type": "application/json"})
        assert response.status_code == 400 and message in response.json()["detail"], response.text
        assert [j["id"] for j in client.get("/api/jobs").json()["jobs"]] == [source["id"]]


@pytest.mark.parametrize("content, message", [
    ('{"box": [1, 2, 3, 1' + "0" * 400 + "]}", "is beyond the range of floating-point numbers"),
    ('{"box": ' + "[" * 2000 + "]" * 2000 + "}", "nested too deeply"),
    ('{"box": [0, 0, 1e300, 1e300]}', "more than 2 times the size of the 64×48 frame"),
    ('{"box": [-1e300, 0, 1e300, 40]}', "more than 2 times the size")])
def test_hostile_person_choices_are_400_never_500(tmp_path, content: str, message: str) -> None:
    store = JobStore(tmp_path / "data")
    source = finished_job(store, write_tiny_video(tmp_path / "a.mp4"), summary=TWO_PEOPLE)
    with TestClient(create_app(tmp_path / "data", warm_up=False, job_fn=quick_job)) as client:
        assert len(content) <= 4096
        response = client.post(f"/api/jobs/{source['id']}/person", content=content,
                               headers={"content-type": "application/json"})
        assert response.status_code == 400 and message in response.json()["detail"], response.text
        assert [j["id"] for j in client.get("/api/jobs").json()["jobs"]] == [source["id"]]


def test_choosing_a_person_needs_a_finished_video_job(tmp_path) -> None:
    store = JobStore(tmp_path / "data")
    video = write_tiny_video(tmp_path / "a.mp4")
    (tmp_path / "p.jpg").write_bytes(JPEG_BYTES)
    photo = finished_job(store, tmp_path / "p.jpg", kind="image")
    queued = store.update(finished_job(store, video, summary=TWO_PEOPLE)["id"], state="queued")
    gone = finished_job(store, video, summary=TWO_PEOPLE)
    (store.jobs_dir / gone["id"] / gone["input"]).unlink()
    old = finished_job(store, video, summary={"reps": 1})   # made before summaries named the people
    box = {"box": [4, 2, 20, 40]}
    with TestClient(create_app(tmp_path / "data", warm_up=False, job_fn=quick_job)) as client:
        for record, status, message in ((photo, 409, "finished video"), (queued, 409, "finished video"),
                                        (gone, 409, "no longer has its video"), (old, 409, "upload the video again")):
            response = client.post(f"/api/jobs/{record['id']}/person", json=box)
            assert response.status_code == status and message in response.json()["detail"], response.text
        assert client.post(f"/api/jobs/{'0' * 32}/person", json=box).status_code == 404
        assert client.post("/api/jobs/not-an-id/person", json=box).status_code == 400
        ok = finished_job(store, video, summary=TWO_PEOPLE)
        as_form = client.post(f"/api/jobs/{ok['id']}/person", data={"box": "4,2,20,40"})
        assert as_form.status_code == 415 and "application/json" in as_form.json()["detail"]
        bad_json = client.post(f"/api/jobs/{ok['id']}/person", content=b"{box: 1",
                               headers={"content-type": "application/json"})
        assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
        big = client.post(f"/api/jobs/{ok['id']}/person", json={"box": [4, 2, 20, 40], "pad": "x" * 5000})
        assert big.status_code == 413 and "send only the box" in big.json()["detail"]
        for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
            refused = client.post(f"/api/jobs/{ok['id']}/person", json=box, headers=headers)
            assert refused.status_code == 403 and "cross-site" in refused.json()["detail"]
        assert len(client.get("/api/jobs").json()["jobs"]) == 5   # no job was added
        own = client.post(f"/api/jobs/{ok['id']}/person", json=box,
                          headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
        assert own.status_code == 201


def test_a_chosen_person_is_analysed_by_the_worker(server, finished_video) -> None:
    """The real analysis of the new job follows the box given (a person alone here: the same person)."""
    client, data = server
    summary = finished_video["summary"]
    assert summary["people"]["count"] == 1 and summary["people"]["frame_wh"] == [320, 180]
    assert "people.jpg" not in finished_video["files"]          # nobody else to choose
    response = client.post(f"/api/jobs/{finished_video['id']}/person", json={"box": [100, 10, 120, 170]})
    assert response.status_code == 201, response.text
    job = wait_for(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["box"] == [100, 10, 120, 170]
    assert job["summary"]["n_frames"] == summary["n_frames"] and job["summary"]["people"]["count"] == 1
