"""The media ground floor's video writing and reading: whole files or none, the frames read back in
order, the browser's WebM copy of a job's video (real files written at test time)."""
from __future__ import annotations

import numpy as np
import pytest

from squatpose.media.video_reader import iter_frames_bgr, opened_video
from squatpose.media.video_writer import write_video

SIZE_WH = (64, 48)


def grey_frames(values: list[int]) -> list[np.ndarray]:
    return [np.full((SIZE_WH[1], SIZE_WH[0], 3), v, np.uint8) for v in values]


def read_back(path) -> list[float]:
    with opened_video(path) as (cap, _):
        return [float(frame.mean()) for frame in iter_frames_bgr(cap)]


@pytest.mark.parametrize("webm, codecs", [(False, {"h264", "mp4v"}), (True, {"vp8"})])
def test_written_frames_read_back_in_order(tmp_path, webm, codecs) -> None:
    path = tmp_path / ("v.webm" if webm else "v.mp4")
    values = [0, 60, 120, 180, 240]
    written, codec = write_video(path, grey_frames(values), 10.0, SIZE_WH, webm=webm)
    assert written == 5 and codec in codecs
    np.testing.assert_allclose(read_back(path), values, atol=4)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


def test_no_frames_or_a_failure_leaves_no_file(tmp_path) -> None:
    assert write_video(tmp_path / "empty.mp4", [], 10.0, SIZE_WH)[0] == 0

    def failing():
        yield from grey_frames([10, 20])
        raise RuntimeError("the drawing failed")

    with pytest.raises(RuntimeError, match="the drawing failed"):
        write_video(tmp_path / "broken.mp4", failing(), 10.0, SIZE_WH)
    assert list(tmp_path.iterdir()) == []


def test_browser_copy_is_a_webm_of_every_frame_with_progress(tmp_path) -> None:
    from squatpose.web.worker import Progress, browser_copy

    source = tmp_path / "annotated.mp4"
    write_video(source, grey_frames([30, 90, 150]), 10.0, SIZE_WH)
    stages = []
    progress = Progress(tmp_path)
    progress._write = lambda done, total: stages.append((progress.stage_name, done, total))
    assert browser_copy(source, tmp_path / "annotated.webm", progress)
    copied = read_back(tmp_path / "annotated.webm")  # encoded twice: a few grey levels off, the steps kept
    np.testing.assert_allclose(copied, [30, 90, 150], atol=8)
    np.testing.assert_allclose(np.diff(copied), [60, 60], atol=3)
    assert stages[0] == ("preparing the video for the browser", 0, 3) and stages[-1][1:] == (3, 3)
    assert not browser_copy(tmp_path / "missing.mp4", tmp_path / "none.webm", progress)
    assert not (tmp_path / "none.webm").exists()
