import dataclasses
import json

import cv2
import numpy as np
import pytest

from helpers.synthetic_squats import render, squat_motion, squat_phase
from squatpose.analysis import analyze_tracks
from squatpose.analysis.result import PeopleSeen
from squatpose.report import files as report
from squatpose.report import viz
from squatpose.report.files import write_outputs

FPS = 30.0


@pytest.fixture(scope="module")
def analysis():
    unfinished = squat_phase(1, FPS, lead_s=0.0)
    unfinished = unfinished[: int(np.argmax(unfinished >= 1.0)) + 1]  # ends at the bottom
    phase = np.r_[squat_phase(2, FPS, lead_s=0.5, rest_s=0.5), unfinished]
    return analyze_tracks(render(squat_motion(phase), "side", FPS, leg_px=150, origin=(160, 220),
                                 noise_px=1.0))


def _video(path, n_frames, size_wh=(320, 280)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size_wh)
    for t in range(n_frames):
        writer.write(np.full((size_wh[1], size_wh[0], 3), (t * 2) % 255, np.uint8))
    writer.release()
    return path


def test_write_outputs_with_video(tmp_path, analysis):
    a = analysis
    assert a.reps == 2 and len(a.partial) == 1
    video = _video(tmp_path / "in.mp4", a.n_frames)
    out = tmp_path / "out"
    paths = write_outputs(a, out, video_path=video, progress=False)
    expected = {"keypoints.csv", "angles.csv", "timeline.png", "depth_per_rep.png", "bottom_3d.png",
                "annotated.mp4", "report.html", "summary.json"}
    assert {p.name for p in paths.values()} == expected
    assert {p.name for p in out.iterdir()} == expected  # nothing partial left behind

    summary = json.loads((out / "summary.json").read_text())
    assert summary["reps"] == 2 and len(summary["repetitions"]) == 2 and len(summary["partial"]) == 1
    assert summary["partial"][0]["end_frame"] is None and summary["fps"] == 30.0
    assert summary["view"]["view"] == "side" and summary["source"] == "in.mp4"
    assert summary["video_codec"] in ("h264", "mp4v")
    assert summary["repetitions"][0]["start_frame"] == a.repetitions[0].start_frame

    html = (out / "report.html").read_text()
    assert '<table id="repetitions">' in html and html.count("<tr><td>") == 3  # 2 reps + 1 partial
    assert html.count('src="data:image/png;base64,') == 3
    assert "http://" not in html and "https://" not in html
    assert "How to read this" in html and "2 repetitions" in html

    lines = (out / "keypoints.csv").read_text().splitlines()
    assert len(lines) == a.n_frames + 1
    header = lines[0].split(",")
    assert header[:5] == ["frame", "time", "left_shoulder_x", "left_shoulder_y", "left_shoulder_score"]
    assert "left_knee_x_smooth" in header and len(lines[5].split(",")) == len(header)
    angles = (out / "angles.csv").read_text().splitlines()
    assert len(angles) == a.n_frames + 1 and "knee_angle_left" in angles[0].split(",")
    assert {"knee_angle_3d_left", "knee_angle_3d_sd_right", "thigh_angle_3d_trusted_left"} <= set(angles[0].split(","))
    assert png_size(out / "timeline.png")[0] > 500

    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == a.n_frames
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (320, 280)
    cap.set(cv2.CAP_PROP_POS_FRAMES, a.repetitions[0].bottom_frame)
    ok, frame = cap.read()
    cap.release()
    assert ok and (frame.astype(int) - frame[-1, -1].astype(int)).any()  # overlay drawn


def test_summary_names_the_people_to_choose_from(tmp_path, analysis):
    people = PeopleSeen(2, 30, 1.0, (320, 280), [[10, 20, 60, 150], [200, 30, 50, 140.5]], 1, [190, 0, 80, 200])
    paths = write_outputs(dataclasses.replace(analysis, people=people), tmp_path, progress=False)
    assert json.loads(paths["summary_json"].read_text())["people"] == {
        "count": 2, "frame": 30, "time_s": 1.0, "frame_wh": [320, 280], "boxes": [[10, 20, 60, 150], [200, 30, 50, 140.5]],
        "followed": 1, "followed_box": [190, 0, 80, 200]}


def png_size(path):
    img = cv2.imread(str(path))
    return img.shape[1], img.shape[0]


def test_write_outputs_without_video_and_bad_video(tmp_path, analysis, monkeypatch):
    paths = write_outputs(analysis, tmp_path / "a", source_name="clip.json", progress=False)
    assert "annotated_video" not in paths and not (tmp_path / "a" / "annotated.mp4").exists()
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["source"] == "clip.json" and "people" not in summary   # tracks from a file: nobody counted

    class Boom(Exception):
        pass

    def crash(*args, **kwargs):
        raise Boom

    monkeypatch.setattr(report, "render_html", crash)  # a re-run that dies half-way ...
    with pytest.raises(Boom):
        write_outputs(analysis, tmp_path / "a", progress=False)
    assert not (tmp_path / "a" / "summary.json").exists()  # ... does not look complete
    with pytest.raises(ValueError, match="missing.mp4: video file not found"):
        write_outputs(analysis, tmp_path / "b", video_path=tmp_path / "missing.mp4", progress=False)
    assert not (tmp_path / "b").exists()  # checked before anything is written


def test_draw_pose_with_angles_draws_on_a_copy(analysis):
    image = np.zeros((280, 320, 3), np.uint8)
    t = analysis.repetitions[0].bottom_frame
    out = viz.draw_pose_with_angles(image, analysis.smoothed.xy[t], analysis.smoothed.score[t],
                                    analysis.smoothed.joint_names)
    assert not image.any() and out.any()
    left_knee = analysis.smoothed.xy[t, analysis.smoothed.index("left_knee")].round().astype(int)
    assert tuple(out[left_knee[1], left_knee[0]]) in (viz.LEFT_BGR, viz.RIGHT_BGR)


def test_heatmap_sheet_tiles_every_joint(tmp_path):
    image = np.zeros((200, 160, 3), np.uint8)
    heatmaps = np.zeros((6, 16, 12), np.float32)
    heatmaps[2, 8, 6] = 1.0  # left knee peak
    path = viz.heatmap_sheet(image, heatmaps, np.array([[1.0, 0, -10], [0, 1.0, -5]]),
                             ["left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                              "right_ankle"], tmp_path / "sheet.png")
    sheet = cv2.imread(str(path))
    # input + 6 joints in a 3 x 3 grid of 48 x 64 crops, each zoomed ×5 to a readable 240 x 320 tile
    assert sheet.shape == (3 * 320, 3 * 240, 3)
    red = sheet[..., 2].astype(int) - sheet[..., 0].astype(int) > 30  # hot heatmap colours
    assert red[320:640, 0:240].any()  # the left knee tile (row 2, column 1) shows its peak
    assert not red[320:640, 240:].any() and not red[:320].any()
    assert not sheet[640:, 240:].any()  # unused grid cells stay black


def test_front_view_report_shows_3d_values(tmp_path):
    motion = squat_motion(squat_phase(2, FPS, lead_s=0.5), toe_out_deg=20)
    a = analyze_tracks(render(motion, "front", FPS, leg_px=150, origin=(160, 220), noise_px=1.0))
    assert a.reps == 2 and not a.view.is_side
    paths = write_outputs(a, tmp_path, progress=False)
    summary = json.loads(paths["summary_json"].read_text())
    for rep in summary["repetitions"]:
        assert rep["min_knee_angle"] is None  # 2D: not measurable from the front
        assert 40 < rep["min_knee_angle_3d"] < 70 and 0 < rep["min_knee_angle_3d_sd"] < 12
        assert rep["below_parallel_3d"] is True
    html = paths["report_html"].read_text()
    assert "3D legs at the bottom" in html and "&plusmn;" in html
    assert png_size(paths["bottom_3d_png"])[0] > 300
    assert any("3D estimate" in f["text"] and "±" in f["text"] for f in summary["feedback"])
    columns = paths["angles_csv"].read_text().splitlines()[0].split(",")
    row = paths["angles_csv"].read_text().splitlines()[1 + a.repetitions[0].bottom_frame].split(",")
    assert 40 < float(row[columns.index("knee_angle_3d_left")]) < 70
