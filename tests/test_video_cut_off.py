"""A video file cut off part-way (its header still announces every frame) is noticed."""
import subprocess

import cv2
import numpy as np
import pytest

from squatpose.media.video_reader import iter_frames_rgb, open_video, truncation_warning


def _faststart_clip(tmp_path, n_frames=60):
    """An MP4 with its index first (as phones and web downloads write them): cutting its tail keeps
    the header, so the file still opens."""
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    raw = tmp_path / "raw.mp4"
    writer = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    rng = np.random.default_rng(0)
    for i in range(n_frames):
        frame = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
        cv2.putText(frame, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    fast = tmp_path / "fast.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(raw), "-c", "copy",
                    "-movflags", "+faststart",
                    str(fast)], check=True)
    return fast


def _decode(path):
    cap, info = open_video(path)
    try:
        return info, sum(1 for _ in iter_frames_rgb(cap))
    finally:
        cap.release()


def test_cut_off_video_is_reported(tmp_path):
    whole = _faststart_clip(tmp_path)
    info, decoded = _decode(whole)
    assert decoded == info.n_frames == 60 and truncation_warning(info, decoded) is None
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    info, decoded = _decode(cut)
    assert info.n_frames == 60 and 0 < decoded < 30
    warning = truncation_warning(info, decoded)
    assert warning.startswith(f"the video seems cut off: only {decoded} of the 60 frames its header "
                              "announces")
