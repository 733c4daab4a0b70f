"""MP4 writing that browsers can play: H.264 through the ffmpeg binary of `imageio-ffmpeg` when it is
installed (OpenCV's pip wheels cannot encode H.264), else OpenCV's MPEG-4 Part 2 ('mp4v')."""
from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


class FrameWriter:
    """`write(frame_bgr)` for each frame, then `close()`; `codec` says what was used ('h264' or 'mp4v')."""

    def __init__(self, path: str | Path, fps: float, size_wh: tuple[int, int]) -> None:
        self.path, self.size_wh = Path(path), size_wh
        self._process: subprocess.Popen | None = None
        self._cv: cv2.VideoWriter | None = None
        exe = _ffmpeg()
        # H.264 with yuv420p needs even sides; odd-sized videos take the OpenCV path.
        if exe is not None and size_wh[0] % 2 == 0 and size_wh[1] % 2 == 0:
            self._process = subprocess.Popen(
                [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
                 "-s", f"{size_wh[0]}x{size_wh[1]}", "-r", f"{fps:.6g}", "-i", "-", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                 "-f", "mp4", str(self.path)], stdin=subprocess.PIPE)
            self.codec = "h264"
        else:
            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size_wh)
            if not self._cv.isOpened():
                raise OSError(f"{self.path}: cannot open a video writer")
            self.codec = "mp4v"

    def write(self, frame_bgr: np.ndarray) -> None:
        if self._process is not None:
            self._process.stdin.write(np.ascontiguousarray(frame_bgr).tobytes())
        else:
            self._cv.write(frame_bgr)

    def close(self) -> None:
        if self._process is not None:
            self._process.stdin.close()
            if self._process.wait() != 0:
                raise OSError(f"{self.path}: ffmpeg failed to encode the video")
        else:
            self._cv.release()


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        log.info("imageio-ffmpeg is not installed: writing mp4v video, which some browsers do not play")
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        log.warning("no ffmpeg binary (%s): writing mp4v video", exc)
        return None
