import dataclasses
import json
import re

import cv2
import numpy as np
import pytest

from helpers.synthetic_squats import render, squat_motion, squat_phase
from squatpose.analysis import analyze_tracks
from squatpose.analysis.result import PeopleSeen
from squatpose.joints import LOWER6
from squatpose.report import files as report
from squatpose.report import viz
from squatpose.report.files import write_outputs
from squatpose.report.html import MAX_FEEDBACK_ITEMS, MAX_TABLE_ROWS
from squatpose.report.wording import TONE_ICONS

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
    reps_tables = html[:html.index('<table id="trunk">')]  # the trunk table follows (the tracks have shoulders)
    assert '<table id="repetitions">' in html and reps_tables.count("<tr><td>") == 3  # 2 reps + 1 partial
    assert html.count('src="data:image/png;base64,') == 3
    assert "http://" not in html and "https://" not in html
    assert "<a " not in html and "annotated.mp4" in html  # named, not linked: the report may travel alone
    assert "How to read this" in html and "2 repetitions" in html
    assert "<title>Squat analysis — in.mp4</title>" in html
    table = summary["rep_table"]
    assert len(table["rows"]) == 2 and table["columns"][4] == "depth"
    for row in table["rows"]:
        assert "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" in html  # the page shows the same words

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


def test_report_speaks_plainly(tmp_path):
    """One line per repetition without 'rep 1: rep 1', good and bad told by icon and colour, the
    details behind 'why', no raw flags or unitless numbers; the title names the user's file."""
    shallow = analyze_tracks(render(squat_motion(squat_phase(2, FPS), bottom_hip_height=0.6), "side", FPS,
                                    leg_px=150, origin=(160, 220), noise_px=1.0))
    paths = write_outputs(shallow, tmp_path, source_name="my squats.mp4", progress=False)
    html = paths["report_html"].read_text()
    assert "<title>Squat analysis — my squats.mp4</title>" in html
    items = re.findall(r'<li class="(good|fix|info)"><span class="icon" role="img" aria-label="([^"]+)">(.)</span>'
                       r'<span class="tag">([^<]+)</span><span class="text">([^<]+)</span>', html)
    assert [(tone, tag, text) for tone, _, _, tag, text in items] == [
        (f.tone, "Set" if f.rep is None else f"Rep {f.rep}", f.text) for f in shallow.feedback]
    assert all((meaning, icon) == TONE_ICONS[tone][::-1] for tone, meaning, icon, _, _ in items)
    assert items[0][0] == "fix" and ".fix .icon{background:#b42318}" in html  # red and '!' for what to work on
    assert html.count("<details><summary>why</summary>") == sum(bool(f.why) for f in shallow.feedback)
    assert all(not f.text.lower().startswith("rep ") for f in shallow.feedback)
    assert "above parallel — sit" in html
    for jargon in ("above_parallel", "fast_descent", "knee_valgus", "of leg length;", "L&minus;R", "-0°"):
        assert jargon not in html


def test_write_outputs_without_video_and_bad_video(tmp_path, analysis, monkeypatch):
    paths = write_outputs(analysis, tmp_path / "a", source_name="clip.json", progress=False)
    assert "annotated_video" not in paths and not (tmp_path / "a" / "annotated.mp4").exists()
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["source"] == "clip.json" and "people" not in summary   # tracks from a file: nobody counted

    class Boom(Exception):
        pass

    def crash(*args, **kwargs):
        raise Boom

    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    monkeypatch.setattr(report, "render_html", crash)  # a re-run that dies half-way ...
    with pytest.raises(Boom):
        write_outputs(analysis, tmp_path / "a", progress=False)
    # ... leaves the first run's set as it was (nothing moved into place yet, no temporary file left)
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before
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
        assert rep["depth_verdict"] in ("below", "parallel") and 0 < rep["thigh_angle_sd"] < 12
    html = paths["report_html"].read_text()
    assert "3D legs at the bottom" in html and "° ±" in html
    assert "Trunk lean, hip angle and the early rise: needs a side view" in html and 'id="trunk"' not in html
    assert png_size(paths["bottom_3d_png"])[0] > 300
    assert all(any("3D estimate" in w and "±" in w for w in f["why"]) for f in summary["feedback"] if f["rep"])
    columns = paths["angles_csv"].read_text().splitlines()[0].split(",")
    row = paths["angles_csv"].read_text().splitlines()[1 + a.repetitions[0].bottom_frame].split(",")
    assert 40 < float(row[columns.index("knee_angle_3d_left")]) < 70


def test_ctrl_c_while_writing_the_annotated_video_leaves_nothing(tmp_path, analysis, monkeypatch):
    video = _video(tmp_path / "in.mp4", analysis.n_frames)
    drawn = []

    def interrupted(*args, **kwargs):  # Ctrl-C arrives while the fifth frame is drawn
        drawn.append(1)
        if len(drawn) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(viz, "annotate_frame", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):  # not an encoder error in its place
        write_outputs(analysis, out, video_path=video, progress=False)
    assert list(out.iterdir()) == []  # no .partial file, and no half set of outputs


def test_a_long_set_gets_outputs_of_bounded_size(tmp_path):
    """Outputs that grew with the number of repetitions (one 3D panel, one table row, one feedback line
    each) stop growing: 12 panels spread over the set, the table's first and last 30 rows."""
    fps = 10.0
    long_set = analyze_tracks(render(squat_motion(squat_phase(64, fps)), "side", fps, leg_px=150,
                                     origin=(160, 220), noise_px=1.0))
    assert long_set.reps == 64
    paths = write_outputs(long_set, tmp_path, source_name="long.json", progress=False)
    width, height = png_size(paths["bottom_3d_png"])
    assert height < 3.4 * 4 * 110 and width < 3.2 * 5 * 110  # at most 3 rows of 4 panels
    html = paths["report_html"].read_text()
    tables = {t.split('"')[0]: t for t in html.split('<table id="')[1:]}
    assert set(tables) == {"repetitions", "trunk"}  # the tracks have shoulders: a trunk table per repetition too
    for table in tables.values():
        assert table.count("<tr><td>") == MAX_TABLE_ROWS and "4 more repetitions, listed in summary.json" in table
    assert html.count('<li class="') <= MAX_FEEDBACK_ITEMS  # feedback lines (each with its 'why' list)
    assert paths["report_html"].stat().st_size < 1_500_000
    summary = json.loads(paths["summary_json"].read_text())
    assert len(summary["repetitions"]) == 64  # summary.json keeps every repetition


def test_trunk_in_the_report_and_csv_only_with_shoulders(tmp_path, analysis):
    rep = analysis.repetitions[0]
    paths = write_outputs(analysis, tmp_path / "eight", progress=False)
    html = paths["report_html"].read_text()
    assert '<table id="trunk">' in html and html.count("<tr><td>", html.index('<table id="trunk">')) == 2
    assert f"{rep.trunk_lean_bottom:.0f}&deg; &plusmn; {rep.trunk_lean_bottom_sd:.0f}&deg;" in html
    lines = paths["angles_csv"].read_text().splitlines()
    columns, row = lines[0].split(","), lines[1 + rep.bottom_frame].split(",")
    assert {"hip_angle_left", "hip_angle_sd_right", "trunk_lean_sd"} <= set(columns)
    assert float(row[columns.index("hip_angle")]) == pytest.approx(analysis.measures.hip_angle.value[rep.bottom_frame],
                                                                   abs=0.01)
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["trunk"]["shoulders"] is True and summary["repetitions"][0]["hip_angle_bottom"] is not None

    six = analyze_tracks(analysis.raw.select(LOWER6))
    paths = write_outputs(six, tmp_path / "six", progress=False)
    assert "Trunk" not in paths["report_html"].read_text()
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["trunk"]["shoulders"] is False and summary["repetitions"][0]["hip_angle_bottom"] is None


def _segment_hits_box(a, b, box) -> bool:
    x, y, w, h = box
    points = a + np.linspace(0, 1, 200)[:, None] * (b - a)
    return bool(((points[:, 0] >= x) & (points[:, 0] <= x + w) & (points[:, 1] >= y) & (points[:, 1] <= y + h)).any())


@pytest.mark.parametrize("view", ["side", "front"])
def test_knee_labels_clear_each_other_and_the_legs(view):
    """At every bottom of a side view (knees side by side) and a front view, the two knee labels
    overlap neither each other nor any leg."""
    tracks = render(squat_motion(squat_phase(2, FPS)), view, FPS, leg_px=300, origin=(320, 420))
    names = tracks.joint_names
    for t in range(0, tracks.n_frames, 5):
        xy = tracks.xy[t]
        boxes = viz.knee_label_boxes(viz.knee_label_anchors(xy, tracks.score[t], names, 0.5), (720, 1280, 3))
        assert len(boxes) == 2
        (_, _, *first), (_, _, *second) = boxes
        assert not (first[0] < second[0] + second[2] and second[0] < first[0] + first[2]
                    and first[1] < second[1] + second[3] and second[1] < first[1] + first[3])
        for side in ("left", "right"):
            hip, knee, ankle = (xy[names.index(f"{side}_{part}")] for part in ("hip", "knee", "ankle"))
            for box in (first, second):
                assert not _segment_hits_box(hip, knee, box) and not _segment_hits_box(knee, ankle, box)
