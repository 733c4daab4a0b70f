"""The built-in person detector: its file, anchors, letterbox mapping, and people on real frames."""
import cv2
import numpy as np
import pytest
from conftest import shared_or_skip

from squatpose.video.detector import (
    BlazePoseDetector,
    DetectorError,
    anchors,
    box_iou,
    default_detector_path,
)


@pytest.fixture(scope="module")
def detector():
    return BlazePoseDetector()


@pytest.fixture(scope="module")
def squat_frame():
    """Frame 30 of a real back-view squat clip (one person, RGB)."""
    cap = cv2.VideoCapture(str(shared_or_skip("squat_videos", "squat_13.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def test_shipped_file_and_anchors():
    path = default_detector_path()
    assert path.is_file() and path.stat().st_size < 10e6
    assert (path.parent / "LICENSE").is_file() and "Apache License" in (path.parent / "LICENSE").read_text()
    centres = anchors()
    assert centres.shape == (2254, 2) and centres.min() > 0 and centres.max() < 1
    assert centres[0] == pytest.approx([0.5 / 28, 0.5 / 28])
    assert centres[-1] == pytest.approx([6.5 / 7, 6.5 / 7])


def test_missing_and_corrupt_detector_files_are_clear_errors(tmp_path):
    with pytest.raises(DetectorError, match="nothing.onnx: person detector file not found"):
        BlazePoseDetector(tmp_path / "nothing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(default_detector_path().read_bytes()[:5000])
    with pytest.raises(DetectorError, match="broken.onnx: cannot load the person detector"):
        BlazePoseDetector(broken)


def test_nobody_in_a_plain_image(detector):
    assert detector(np.full((480, 640, 3), 90, np.uint8)) == []


def test_finds_the_squatting_person_in_image_pixels(detector, squat_frame):
    found = detector(squat_frame)
    assert len(found) >= 1 and found[0].score > 0.5
    best = found[0]
    h, w = squat_frame.shape[:2]
    # The lifter stands in the middle of this 1280×720 frame, hips near the centre.
    assert 0.35 * w < best.hips[0] < 0.7 * w and 0.3 * h < best.hips[1] < 0.75 * h
    assert 0.3 * h < best.box[3] < 1.3 * h
    # Letterboxing is undone exactly: the same person on a wider canvas keeps their box.
    wider = np.zeros((h, w + 400, 3), np.uint8)
    wider[:, :w] = squat_frame
    again = max(detector(wider), key=lambda d: box_iou(d.box, best.box))
    assert box_iou(again.box, best.box) > 0.8
