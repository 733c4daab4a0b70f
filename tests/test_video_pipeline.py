"""Video analysis end to end with the built-in model: bad videos, a real clip cut short, the CLI."""
import json

import cv2
import numpy as np
import pytest
from conftest import shared_or_skip, write_video

from squatpose.api import analyze
from squatpose.cli import main
from squatpose.media.video_reader import VideoError, open_video
from squatpose.video.extract import NoPersonError

CLIP = "squat_13"  # back view, two clean repetitions, 130 frames


@pytest.fixture(scope="module")
def expected_reps() -> int:
    """Completed repetitions of the clip, counted by eye (reps.json of the shared clips)."""
    return json.loads(shared_or_skip("squat_videos", "reps.json").read_text())[CLIP]["completed_reps"]


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory):
    """A real back-view squat clip, downscaled to 640×360 and written by OpenCV at its own frame rate."""
    cap = cv2.VideoCapture(str(shared_or_skip("squat_videos", f"{CLIP}.mp4")))
    fps, frames = cap.get(cv2.CAP_PROP_FPS), []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA))
    return write_video(tmp_path_factory.mktemp("clip") / f"{CLIP}_small.mp4", frames, fps)


def test_video_without_person_is_a_clear_error(tmp_path, capsys):
    blank = write_video(tmp_path / "empty_room.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 12)
    with pytest.raises(NoPersonError, match="empty_room.mp4: no person found in any of its 12 frames"):
        analyze(blank, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "summary.json").exists()
    assert main(["analyze", str(blank), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "no person found" in capsys.readouterr().err


def test_unreadable_and_missing_videos(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(VideoError, match="clip.mp4: cannot open as a video"):
        open_video(fake)
    with pytest.raises(VideoError, match="nothing.mp4: video file not found"):
        open_video(tmp_path / "nothing.mp4")
    good = write_video(tmp_path / "ok.mp4", [np.zeros((64, 64, 3), np.uint8)] * 3)
    with pytest.raises(VideoError, match="--fps must be"):
        open_video(good, fps=0.0)
    _, info = open_video(good, fps=12.5)
    assert info.fps == 12.5 and (info.width, info.height) == (64, 64)


def test_analyze_cli_on_a_real_clip_writes_every_output(real_clip, expected_reps, tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["analyze", str(real_clip), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "completed repetition(s)" in printed and "report.html" in printed
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "keypoints.csv", "angles.csv", "report.html", "annotated.mp4"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fps"] == pytest.approx(23.976, abs=1e-3) and summary["n_frames"] == 130
    assert summary["reps"] == expected_reps
    assert f"{expected_reps} completed repetition(s)" in printed
    for item in summary["feedback"]:  # every line, marked and numbered as on the page
        mark = {"good": "✓", "fix": "!"}.get(item["tone"], "-")
        assert f"  {mark} {'rep ' + str(item['rep']) if item['rep'] else 'set'}: {item['text']}\n" in printed
    rows = (out / "keypoints.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 130
    # The person's joints are found confidently in (nearly) every frame of this clip.
    assert not any("person not found" in w for w in summary["warnings"]), summary["warnings"]
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 130


def test_keypoints_input_matches_video_tracks(real_clip, expected_reps, tmp_path):
    """Tracks exported from one run analyse to the same count through `--keypoints`."""
    from squatpose.analysis.tracks import save_keypoints_json

    result = analyze(real_clip, None, progress=False)
    tracks_path = save_keypoints_json(result.raw, tmp_path / "tracks.json")
    again = analyze(None, tmp_path / "from_tracks", keypoints=tracks_path, progress=False)
    assert again.reps == result.reps == expected_reps
    assert (tmp_path / "from_tracks" / "report.html").exists()
    # --set reaches the analysis: no squat of this clip goes 0.95 leg lengths deep.
    assert main(["analyze", "--keypoints", str(tracks_path), "--out", str(tmp_path / "deep"), "--quiet",
                 "--set", "reps.min_depth=0.95"]) == 0
    assert json.loads((tmp_path / "deep" / "summary.json").read_text())["reps"] == 0
