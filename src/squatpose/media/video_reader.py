"""Video reading with clear errors: missing, unreadable, empty, or without a usable frame rate."""
from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

MAX_FPS = 1000.0
# Largest frame analysed: 8K UHD (7680 x 4320 = 33 MP) passes. Each frame is held decoded a few times over
# (BGR, RGB, the frames read ahead): 40 MP is about 120 MB a copy.
MAX_VIDEO_PIXELS = 40_000_000


class VideoError(ValueError):
    """A video that cannot be analysed; the message names the file and the problem."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    n_frames: int          # as the container reports it (may be approximate)
    width: int
    height: int


def open_video(path: str | Path, fps: float | None = None, fallback_fps: float | None = None
               ) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video; `fps` overrides the container's frame rate; `fallback_fps` stands in only where the
    container's is missing or implausible (without either, that is an error)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"{path}: cannot open as a video (unsupported or corrupt file)")
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width <= 0 or height <= 0:
        cap.release()
        raise VideoError(f"{path}: the video has no readable frames")
    if width * height > MAX_VIDEO_PIXELS:  # from the header, before any frame is read
        cap.release()
        raise VideoError(too_large(path, width, height))
    container_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if fps is None and fallback_fps is not None and not (math.isfinite(container_fps) and container_fps > 0):
        fps = fallback_fps
    if fps is None:
        if not (math.isfinite(container_fps) and 0 < container_fps <= MAX_FPS):
            cap.release()
            raise VideoError(f"{path}: the video reports an unusable frame rate ({container_fps}); "
                             "pass --fps with the real frame rate")
        fps = container_fps
    elif not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        cap.release()
        raise VideoError(f"--fps must be between 0 and {MAX_FPS:g}, got {fps}")
    return cap, VideoInfo(str(path), float(fps), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), width, height)


def too_large(path: str | Path, width: int, height: int) -> str:
    return (f"{path}: the video's frames are too large ({width} x {height} pixels; the limit is "
            f"{MAX_VIDEO_PIXELS // 1_000_000} megapixels): scale it down first")


@contextlib.contextmanager
def opened_video(path: str | Path, fps: float | None = None, fallback_fps: float | None = None
                 ) -> Iterator[tuple[cv2.VideoCapture, VideoInfo]]:
    """`open_video` for a `with` block: the capture is released when it ends."""
    cap, info = open_video(path, fps, fallback_fps)
    try:
        yield cap, info
    finally:
        cap.release()


def iter_frames_bgr(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Frames as decoded, BGR uint8 `(H,W,3)`, until the stream ends (OpenCV applies rotation metadata).
    Frames are read one after the other, never sought: seeking is not frame-exact in every container."""
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def iter_frames_rgb(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Frames as RGB uint8 `(H,W,3)` until the stream ends."""
    for frame in iter_frames_bgr(cap):
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def iter_frames_timed(cap: cv2.VideoCapture) -> Iterator[tuple[np.ndarray, float]]:
    """RGB frames with their presentation time in seconds from the container (NaN where it has none)."""
    for frame in iter_frames_rgb(cap):
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        yield frame, (msec / 1000.0 if math.isfinite(msec) and msec >= 0 else math.nan)


T = TypeVar("T")


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_END = object()


def prefetch(items: Iterator[T], depth: int = 4) -> Generator[T, None, None]:
    """`items` produced on a background thread up to `depth` ahead, so that decoding the next frames
    overlaps the model's work on this one (OpenCV and ONNX Runtime release the GIL). A producer error is
    raised here; closing this generator stops the producer before it returns, so the caller may then
    release the video it reads."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, who raises it
            put(_Failure(error))

    thread = threading.Thread(target=produce, name="squatpose-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


CUT_OFF_FRACTION = 0.9  # frame counts from the container can be estimates: allow 10 % less


def truncation_warning(info: VideoInfo, decoded_frames: int) -> str | None:
    """A warning when far fewer frames could be decoded than the container announces: the file
    was cut off (an interrupted download or copy keeps its header, so it still opens)."""
    claimed = info.n_frames
    if claimed <= 0 or decoded_frames >= CUT_OFF_FRACTION * claimed or claimed - decoded_frames < 3:
        return None
    return (f"the video seems cut off: only {decoded_frames} of the {claimed} frames its header announces "
            f"could be read ({decoded_frames / info.fps:.1f} of {claimed / info.fps:.1f} s); the analysis "
            "covers only that part (an interrupted download or copy?)")
