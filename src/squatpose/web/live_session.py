"""One browser's live set: frames from a WebSocket, the newest processed, the joints kept for the result.

A frame message is binary: 8 bytes little-endian float64, the capture time in milliseconds on the
browser's clock, then a JPEG (at most MAX_FRAME_BYTES, MIN_SIDE..MAX_SIDE pixels a side, the size of
the first frame throughout). Frames that arrive while one is processed replace each other (`latest`):
nothing queues up however fast a client sends. Frames are decoded in memory and never written to
disk; only the followed person's joints are kept (at most MAX_KEPT_FRAMES, the newest) to make the
set's result at Stop.
"""
from __future__ import annotations

import logging
import math
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from squatpose.analysis.tracks import JointTracks, tracks_to_dict
from squatpose.video.live import Frame, LiveSession
from squatpose.video.timing import resample_uniform

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 2 * 2**20
MIN_SIDE, MAX_SIDE = 64, 1920
MAX_KEPT_FRAMES = 30 * 60 * 20   # twenty minutes at 30 frames/s
HEADER = struct.Struct("<d")
JPEG_MAGIC = b"\xff\xd8\xff"


class FrameError(ValueError):
    """A frame message that cannot be used; the message says why (sent back to the browser)."""


@dataclass(frozen=True)
class Incoming:
    """A frame message as received: capture time (s, browser clock), the JPEG, and when it arrived."""

    t: float
    jpeg: bytes
    arrived: float


def parse_frame(message: bytes) -> Incoming:
    """Check a binary frame message (header + JPEG) without decoding it; FrameError says what is wrong."""
    if len(message) > MAX_FRAME_BYTES + HEADER.size:
        raise FrameError(f"a frame of {len(message)} bytes is larger than the limit of {MAX_FRAME_BYTES} bytes")
    if len(message) < HEADER.size + len(JPEG_MAGIC):
        raise FrameError("a frame must be 8 bytes of capture time followed by a JPEG image")
    (ms,) = HEADER.unpack_from(message)
    if not math.isfinite(ms) or ms < 0:
        raise FrameError(f"the frame's capture time must be a finite number of milliseconds, got {ms}")
    jpeg = message[HEADER.size:]
    if not jpeg.startswith(JPEG_MAGIC):
        raise FrameError("a frame must be a JPEG image (it does not start like one)")
    return Incoming(ms / 1000.0, jpeg, time.monotonic())


def decode_jpeg(jpeg: bytes, size_wh: tuple[int, int] | None) -> np.ndarray:
    """RGB `(H, W, 3)` of a JPEG within the size limits (and of `size_wh` when given)."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameError("the frame is not a readable JPEG image (corrupt or cut off)")
    h, w = bgr.shape[:2]
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise FrameError(f"a frame of {w}×{h} pixels is outside {MIN_SIDE}-{MAX_SIDE} pixels a side")
    if size_wh is not None and (w, h) != size_wh:
        raise FrameError(f"the frame is {w}×{h} pixels but this set's frames are {size_wh[0]}×{size_wh[1]}: "
                         "stop and start again to change the camera size")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class LatestSlot:
    """Holds the newest frame not yet processed; putting another drops the one held."""

    def __init__(self) -> None:
        self.item: Incoming | None = None
        self.dropped = 0

    def put(self, item: Incoming) -> None:
        if self.item is not None:
            self.dropped += 1
        self.item = item

    def take(self) -> Incoming | None:
        item, self.item = self.item, None
        return item

    def discard(self) -> None:
        """At the end: a frame still waiting is dropped too."""
        if self.take() is not None:
            self.dropped += 1


class BrowserSet:
    """The analysis of one connection: `process` (blocking: call it off the event loop) decodes and
    analyses one frame; `result_tracks()` the joints kept, for the job made at Stop."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.size_wh: tuple[int, int] | None = None
        self.first_t: float | None = None
        self.last_t = -math.inf
        self.processed = 0
        names = session.predictor.joint_set.names
        self.joint_names = names
        self.kept: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=MAX_KEPT_FRAMES)

    def process(self, item: Incoming) -> dict[str, Any]:
        """The frame's message for the browser: {"type": "frame", "state", "events", ...}."""
        if item.t <= self.last_t:
            raise FrameError("frame times must increase (a frame older than the last one was sent)")
        rgb = decode_jpeg(item.jpeg, self.size_wh)
        self.size_wh = (rgb.shape[1], rgb.shape[0])
        self.first_t = item.t if self.first_t is None else self.first_t
        self.last_t = item.t
        events = self.session.process(Frame(rgb, item.t - self.first_t, item.arrived))
        self.processed += 1
        pose = self.session.last_pose
        k = len(self.joint_names)
        xy, score = pose if pose is not None else (np.full((k, 2), np.nan), np.zeros(k))
        self.kept.append((item.t - self.first_t, xy, score))
        return {"type": "frame", "t": round(item.t - self.first_t, 3), "state": self.session.state(),
                "box": None if self.session.box is None else [round(float(v), 1) for v in self.session.box],
                "events": events}

    def result_tracks(self) -> JointTracks | None:
        """The followed person's joints over the set on evenly spaced times, or None when too few frames."""
        if len(self.kept) < 10 or self.size_wh is None:
            return None
        times = np.array([k[0] for k in self.kept])
        xy = np.stack([k[1] for k in self.kept])
        score = np.stack([k[2] for k in self.kept])
        fps, xy, score = resample_uniform(times, xy, score)
        return JointTracks(fps, self.joint_names, xy, score, self.size_wh)  # ValueError for absurd frame times

    def result_json(self) -> dict[str, Any] | None:
        tracks = self.result_tracks()
        return None if tracks is None else tracks_to_dict(tracks)
