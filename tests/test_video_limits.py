"""Videos too large for memory, whose frame size changes midway, or with an absurd person box: a clear
error or warning before any frame is analysed (media/video_reader.py, media/ffmpeg.py, video/extract.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import FakeDetector, FakePredictor, Person, render_scene, still, write_video

from squatpose.media.ffmpeg import ffmpeg_exe
from squatpose.media.video_reader import MAX_VIDEO_PIXELS, VideoError, open_video
from squatpose.video.extract import extract_tracks, frame_size_warnings


def test_a_video_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.avi"  # 7000 x 6000 = 42 megapixels, MJPEG: a few kB per uniform frame
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 2.0, (7000, 6000))
    writer.write(np.full((6000, 7000, 3), 90, np.uint8))
    writer.release()
    assert path.stat().st_size < 2_000_000 and MAX_VIDEO_PIXELS < 7000 * 6000
    with pytest.raises(VideoError, match=r"huge.avi: the video's frames are too large \(7000 x 6000 pixels; "
                                         r"the limit is 40 megapixels\)"):
        open_video(path)


def _person_frames(size_wh: tuple[int, int], n: int) -> list[np.ndarray]:
    w, h = size_wh
    person = Person("red", still([0.3 * w, 0.1 * h, 0.3 * w, 0.8 * h], n), np.full(n, 0.9))
    return render_scene([person], size_wh)


def _spliced(tmp_path: Path, sizes: list[tuple[int, int]], name: str, people: bool = True) -> Path:
    """One H.264 stream whose frame size changes: MPEG-TS segments of each size (10 frames of a person, or
    one grey frame), joined without re-encoding (as a careless edit or a screen recording makes them)."""
    exe = ffmpeg_exe()
    if exe is None:
        pytest.skip("no ffmpeg binary (imageio-ffmpeg) to write the video or to check it")
    segments = []
    for i, (w, h) in enumerate(sizes):
        segment = tmp_path / f"{name}_{i}.ts"
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(segment)]
        if people or i == 0:
            frames = b"".join(f.tobytes() for f in _person_frames((w, h), 10))
            subprocess.run([exe, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
                            "-r", "10", "-i", "-", *encode], input=frames, check=True)
        else:
            subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i",
                            f"color=c=gray:size={w}x{h}:rate=10",
                            "-frames:v", "1", *encode], check=True)
        segments.append(str(segment))
    out = tmp_path / f"{name}.mp4"
    subprocess.run([exe, "-v", "error", "-y", "-i", "concat:" + "|".join(segments), "-c", "copy", str(out)],
                   check=True)
    return out


def test_a_frame_size_change_midway_is_not_squashed_silently(tmp_path):
    stretched = _spliced(tmp_path, [(320, 240), (480, 240)], "stretched")
    cap = cv2.VideoCapture(str(stretched))  # what the analysis reads: every frame at the first size
    sizes = set()
    while (frame := cap.read()[1]) is not None:
        sizes.add(frame.shape[:2])
    assert sizes == {(240, 320)}
    found = extract_tracks(stretched, FakePredictor(), detector=FakeDetector(), progress=False)
    assert any("frame size changes midway, from 320×240 to 480×240 at 1.0 s" in w and "distorted" in w
               for w in found.warnings), found.warnings
    # the same proportions: every frame is scaled alike, the angles are not distorted
    assert frame_size_warnings(_spliced(tmp_path, [(320, 240), (640, 480)], "scaled")) == []
    assert frame_size_warnings(write_video(tmp_path / "plain.mp4", _person_frames((320, 240), 5))) == []


def test_a_later_frame_size_over_the_limit_is_refused(tmp_path):
    spliced = _spliced(tmp_path, [(320, 240), (8000, 6000)], "grows", people=False)
    with pytest.raises(VideoError, match=r"grows.mp4: the video's frames are too large \(8000 x 6000 pixels"):
        extract_tracks(spliced, FakePredictor(), detector=FakeDetector(), progress=False)


@pytest.mark.parametrize("box, problem", [([0, 0, 1e300, 1e300], "more than 2 times the size of the 320×240"),
                                          ([400, 10, 50, 50], "lies outside the 320×240 frame")])
def test_an_absurd_person_box_is_refused_before_the_analysis(tmp_path, box, problem):
    video = write_video(tmp_path / "clip.mp4", _person_frames((320, 240), 5))
    predictor = FakePredictor()
    with pytest.raises(VideoError, match=f"clip.mp4: the person box: the box .* {problem}"):
        extract_tracks(video, predictor, box=box, detector=FakeDetector(), progress=False)
    assert predictor.calls == []
