"""The media ground floor's video writing and reading: frames read back in order, nothing left after no
frames or a failure, the browser's WebM copy of a job's video (real files written at test time)."""
from __future__ import annotations

import numpy as np
import pytest

from squatpose import atomic
from squatpose.media.video_reader import iter_frames_bgr, opened_video
from squatpose.media.video_writer import encode_video

SIZE_WH = (64, 48)


def grey_frames(values: list[int]) -> list[np.ndarray]:
    return [np.full((SIZE_WH[1], SIZE_WH[0], 3), v, np.uint8) for v in values]


def read_back(path) -> list[float]:
    with opened_video(path) as (cap, _):
        return [float(frame.mean()) for frame in iter_frames_bgr(cap)]


@pytest.mark.parametrize("webm, codecs", [(False, {"h264", "mp4v"}), (True, {"vp8"})])
def test_encoded_frames_read_back_in_order(tmp_path, webm, codecs) -> None:
    path = tmp_path / ("v.webm" if webm else "v.mp4")
    values = [0, 60, 120, 180, 240]
    written, codec = encode_video(path, grey_frames(values), 10.0, SIZE_WH, webm=webm)
    assert written == 5 and codec in codecs
    np.testing.assert_allclose(read_back(path), values, atol=4)


def test_no_frames_are_counted_and_a_failure_is_raised_with_nothing_left(tmp_path) -> None:
    def failing():
        yield from grey_frames([10, 20])
        raise RuntimeError("the drawing failed")

    assert encode_video(tmp_path / "empty.mp4", [], 10.0, SIZE_WH)[0] == 0  # the caller drops the file
    with pytest.raises(RuntimeError, match="the drawing failed"), atomic.replacing(tmp_path / "broken.mp4") as tmp:
        encode_video(tmp, failing(), 10.0, SIZE_WH)
    assert not (tmp_path / "broken.mp4").exists() and not list(tmp_path.glob(".broken*"))


def test_browser_copy_is_a_webm_of_every_frame_with_progress(tmp_path) -> None:
    from squatpose.web.jobs import read_json, write_json
    from squatpose.web.ownership import OWNER, Lease
    from squatpose.web.worker import Progress, browser_copy

    job = tmp_path / "job"
    job.mkdir()
    write_json(job / "job.json", {OWNER: "this worker"})
    progress = Progress(job, Lease(job, "this worker"))
    source = job / "annotated.mp4"
    encode_video(source, grey_frames([30, 90, 150]), 10.0, SIZE_WH)
    assert browser_copy(source, job / "annotated.webm", progress)
    copied = read_back(job / "annotated.webm")  # encoded twice: a few grey levels off, the steps kept
    np.testing.assert_allclose(copied, [30, 90, 150], atol=8)
    np.testing.assert_allclose(np.diff(copied), [60, 60], atol=3)
    last = read_json(job / "progress.json")
    assert (last["stage"], last["done"], last["total"]) == ("preparing the video for the browser", 3, 3)
    assert not browser_copy(job / "missing.mp4", job / "none.webm", progress)
    assert sorted(p.name for p in job.iterdir()) == ["annotated.mp4", "annotated.webm", "job.json", "progress.json"]
