"""The ffmpeg binary of `imageio-ffmpeg` (optional): found once, and used to see frame sizes across a whole
video. OpenCV reports the first frame's size and scales every later frame to it, so a clip whose size
changes midway would be squashed without a word; ffmpeg decoding only the key frames (where a size can
change) tells."""
from __future__ import annotations

import functools
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 120
_FRAME_LINE = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)")


@functools.cache
def ffmpeg_exe() -> str | None:
    """Path of the ffmpeg binary, or None when imageio-ffmpeg (or its binary) is missing."""
    try:
        import imageio_ffmpeg
    except ImportError:
        log.info("imageio-ffmpeg is not installed: no H.264 output and no frame-size check across a video")
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        log.warning("no ffmpeg binary (%s)", exc)
        return None


@dataclass(frozen=True)
class SizeChange:
    time_s: float
    width: int
    height: int


def key_frame_sizes(path: str | Path) -> list[SizeChange] | None:
    """The size of the first key frame and of each later key frame whose size differs from the one
    before, with its time; None when it cannot be told (no ffmpeg, or ffmpeg failed or took too long)."""
    exe = ffmpeg_exe()
    if exe is None:
        return None
    command = [exe, "-hide_banner", "-nostdin", "-v", "info", "-threads", "1", "-skip_frame", "nokey",
               "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", "showinfo", "-f", "null", "-"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: frame sizes not checked (%s)", path, exc)
        return None
    sizes: list[SizeChange] = []
    for match in _FRAME_LINE.finditer(done.stderr):
        time_s, width, height = match.groups()
        try:
            seconds = float(time_s)
        except ValueError:  # 'NOPTS'
            seconds = float("nan")
        if not sizes or (sizes[-1].width, sizes[-1].height) != (int(width), int(height)):
            sizes.append(SizeChange(seconds, int(width), int(height)))
    if not sizes:
        log.info("%s: frame sizes not checked (ffmpeg found no key frame)", path)
        return None
    return sizes
