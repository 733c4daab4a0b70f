"""`squatpose live` and its frame sources (video/live.py, live.py): the newest-frame mailbox, a camera that
cannot be opened, a video played in real time through the command line with the built-in model."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from conftest import shared_or_skip

from squatpose.cli import main
from squatpose.media.video_reader import VideoError
from squatpose.video.live import Camera, Frame, LatestFrame


def frame(t: float) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), t, t)


def test_latest_frame_keeps_only_the_newest_and_counts_the_dropped() -> None:
    box = LatestFrame()
    for t in range(3):
        box.put(frame(t))
    assert box.take().t == 2 and box.dropped == 2 and box.delivered == 3
    box.put(frame(3))
    box.close()
    assert box.take().t == 3 and box.take() is None   # what was put before the end is still taken


def test_latest_frame_waits_for_a_producer_and_reports_its_error() -> None:
    box = LatestFrame()
    threading.Timer(0.1, lambda: box.close(VideoError("the camera stopped delivering frames"))).start()
    assert box.take() is None and "stopped delivering" in str(box.error)


def test_a_camera_that_cannot_be_opened_is_a_clear_error(capsys) -> None:
    with pytest.raises(VideoError, match="camera 97 cannot be opened"):
        Camera(97)
    assert main(["live", "--camera", "97", "--no-window"]) == 2
    assert "error: camera 97 cannot be opened" in capsys.readouterr().err


def test_bad_arguments_are_refused(tmp_path, capsys) -> None:
    assert main(["live", "--video", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4: video file not found" in capsys.readouterr().err
    camera_realtime = ["live", "--camera", "0", "--realtime"]
    assert main(camera_realtime) == 2
    assert "--realtime plays a --video" in capsys.readouterr().err


def test_live_on_a_real_clip_in_real_time_prints_json_events_and_a_summary(capsys) -> None:
    """squat_13 (two repetitions, 5.4 s) played like a camera: one JSON object per line, the summary last."""
    clip = shared_or_skip("squat_videos", "squat_13.mp4")
    assert main(["live", "--video", str(clip), "--realtime", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["reps"] == 2
    assert summary["frames"] + summary["dropped"] == 130 and summary["frames"] > 10
    assert 0 < summary["latency_ms"]["median"] <= summary["latency_ms"]["p95"]
    assert summary["source_fps"] == pytest.approx(23.976, abs=0.01)
    done = [e for e in lines if e["event"] == "rep_completed"]
    assert [e["rep"] for e in done] == [1, 2] and lines[0]["event"] == "person_found"
    assert all(e["ascent_s"] > 0.3 and isinstance(e["below_parallel"], bool) for e in done)
    assert [e["t"] for e in lines] == sorted(e["t"] for e in lines)
