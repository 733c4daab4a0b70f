"""Video writing: MP4 that browsers can play, H.264 through the ffmpeg binary of `imageio-ffmpeg` when it is
installed (OpenCV's pip wheels cannot encode H.264), else OpenCV's MPEG-4 Part 2 ('mp4v'); or WebM (VP8,
through OpenCV). `encode_video` encodes a stream of frames into a file."""
from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from squatpose.media.ffmpeg import ffmpeg_exe

log = logging.getLogger(__name__)


class NoEncoder(OSError):
    """This installation cannot encode the asked-for format."""


class FrameWriter:
    """`write(frame_bgr)` for each frame, then `close()`; `codec` says what was used ('h264', 'mp4v' or
    'vp8' for `webm`)."""

    def __init__(self, path: str | Path, fps: float, size_wh: tuple[int, int], webm: bool = False) -> None:
        self.path, self.size_wh = Path(path), size_wh
        self._process: subprocess.Popen | None = None
        self._cv: cv2.VideoWriter | None = None
        exe = None if webm else ffmpeg_exe()
        # H.264 with yuv420p needs even sides; odd-sized videos take the OpenCV path.
        if exe is not None and size_wh[0] % 2 == 0 and size_wh[1] % 2 == 0:
            self._process = subprocess.Popen(
                [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
                 "-s", f"{size_wh[0]}x{size_wh[1]}", "-r", f"{fps:.6g}", "-i", "-", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                 "-f", "mp4", str(self.path)], stdin=subprocess.PIPE)
            self.codec = "h264"
        else:
            self.codec = "vp8" if webm else "mp4v"
            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*("VP80" if webm else "mp4v")),
                                       fps, size_wh)
            if not self._cv.isOpened():
                raise NoEncoder(f"{self.path}: cannot open a video writer (no {self.codec} encoder here)")

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

    def abort(self) -> None:
        """Stop without finishing the file (on an error or Ctrl-C): the encoder is ended and waited for,
        so the caller can remove the file. Raises nothing, so the original error is the one reported."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            with contextlib.suppress(OSError):  # the pipe broke when ffmpeg went
                self._process.stdin.close()
        else:
            self._cv.release()



def encode_video(dest: str | Path, frames: Iterable[np.ndarray], fps: float, size_wh: tuple[int, int],
                 webm: bool = False) -> tuple[int, str]:
    """Encode BGR `frames` into `dest` → (frames written, codec). The caller names `dest` (a temporary name:
    atomic.replacing, atomic.FileSet) and removes it after an error (the encoder has stopped by then) or
    when no frame came."""
    writer = FrameWriter(dest, fps, size_wh, webm)
    written = 0
    try:
        for frame in frames:
            writer.write(frame)
            written += 1
    except BaseException:
        writer.abort()
        raise
    if written:
        writer.close()
    else:
        writer.abort()  # an encoder given no frame may fail: there is nothing to finish
    return written, writer.codec
