"""`squatpose serve --config/--set`: the server's analysis config reaches the jobs in its worker processes
(real jobs on a short real clip and a photo; skipped without shared data)."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from test_web_api import cut_clip, still_frame, upload, wait_for  # noqa: E402

from squatpose.analysis.config import MIN_JOINT_SCORE, load_analysis_config  # noqa: E402
from squatpose.web.server import create_app  # noqa: E402

FLOOR = 0.9  # above the default 0.53: some of the photo's joints fall under it


def test_jobs_run_with_the_servers_analysis_config(tmp_path) -> None:
    config = load_analysis_config(None, [f"min_joint_score={FLOOR}", "reps.min_depth=0.25"])
    clip = cut_clip(tmp_path / "clip.mp4", n_frames=40, step=2, size_wh=(320, 180))
    photo = still_frame(tmp_path / "photo.jpg")
    with TestClient(create_app(tmp_path / "data", workers=1, analysis_config=config)) as client:
        video_job = wait_for(client, upload(client, clip).json()["id"])
        photo_job = wait_for(client, upload(client, photo).json()["id"])
    assert video_job["state"] == "done", video_job["error"]
    assert video_job["summary"]["config"]["min_joint_score"] == FLOOR
    assert video_job["summary"]["config"]["reps"]["min_depth"] == 0.25
    assert photo_job["state"] == "done", photo_job["error"]
    result = photo_job["result"]
    scores = {name: joint["score"] for name, joint in result["joints"].items()}
    weakest = {side: min(scores[f"{side}_{part}"] for part in ("hip", "knee", "ankle")) for side in ("left", "right")}
    for side, score in weakest.items():
        assert (result["angles"][f"{side}_knee"] is None) == (score < FLOOR), (side, scores)
    # the default floor would have measured a knee the server's floor leaves out
    assert any(MIN_JOINT_SCORE <= score < FLOOR for score in weakest.values()), scores
