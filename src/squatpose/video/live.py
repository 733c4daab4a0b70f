"""Live frames → the person tracker (one crop per frame) → the online analysis engine.

A frame source hands over only its newest frame (`LatestFrame`): while one frame is processed the
next ones overwrite each other, and those never taken count as dropped. A camera does this by
nature; `RealtimeVideo` plays a file the same way, each frame made available at its own time
(the container's), so a file tells how the analysis keeps up with a camera. `LiveSession` is
what the command line and the web page share: frames in, events and a display state out.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.online import OnlineAnalyzer
from squatpose.media.video_reader import VideoError, iter_frames_timed, open_video
from squatpose.pose.predictor import Predictor
from squatpose.video.detector import BlazePoseDetector, PersonDetector
from squatpose.video.tracker import PersonTracker

log = logging.getLogger(__name__)

LATENCY_SAMPLES = 10_000   # latencies kept for the median / p95 (the most recent)
FORGET_EVERY = 300         # frames between two trims of the tracker's history


@dataclass(frozen=True)
class Frame:
    """An RGB frame `(H, W, 3)`, its time in the stream (s) and when it became available
    (time.monotonic(), for the latency)."""

    rgb: np.ndarray
    t: float
    available: float


class LatestFrame:
    """A one-frame mailbox between a producer thread and the analysis: `put` replaces a frame not
    yet taken (counted in `dropped`); `take` waits for the next one; `close` ends the stream."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.error: BaseException | None = None
        self.dropped = 0
        self.delivered = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.delivered += 1
            self._cond.notify()

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._closed, self.error = True, error
            self._cond.notify()

    def take(self) -> Frame | None:
        """The newest frame, waiting for one; None once the source has ended and all is taken."""
        with self._cond:
            while self._frame is None and not self._closed:
                self._cond.wait()
            frame, self._frame = self._frame, None
            return frame


class _Producer:
    """A source reading frames on its own thread into a LatestFrame; `stop()` ends it."""

    def __init__(self, name: str) -> None:
        self.frames = LatestFrame()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name=name, daemon=True)

    def start(self) -> _Producer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as error:  # noqa: BLE001 - handed to the consumer, who reports it
            self.frames.close(error)
        else:
            self.frames.close()

    def _run(self) -> None:
        raise NotImplementedError


class Camera(_Producer):
    """An OpenCV camera (`index`): frames timed on arrival."""

    def __init__(self, index: int) -> None:
        super().__init__(f"squatpose-camera-{index}")
        self.cap = cv2.VideoCapture(index)
        ok = self.cap.isOpened() and self.cap.read()[0]
        if not ok:
            self.cap.release()
            raise VideoError(f"camera {index} cannot be opened (is it connected, allowed, and not in use "
                             "by another program?)")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0

    def _run(self) -> None:
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, bgr = self.cap.read()
                if not ok:
                    raise VideoError("the camera stopped delivering frames")
                now = time.monotonic()
                self.frames.put(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), now - start, now))
        finally:
            self.cap.release()


class RealtimeVideo(_Producer):
    """A video file played like a camera: each frame available at its own time from the start."""

    def __init__(self, path: str | Path) -> None:
        super().__init__("squatpose-realtime-video")
        self.cap, self.info = open_video(path)
        self.fps = self.info.fps

    def _run(self) -> None:
        start = time.monotonic()
        try:
            for index, (rgb, pts) in enumerate(iter_frames_timed(self.cap)):
                if self._stop.is_set():
                    return
                t = pts if math.isfinite(pts) else index / self.fps
                wait = start + t - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return
                self.frames.put(Frame(rgb, t, max(time.monotonic(), start + t)))
        finally:
            self.cap.release()


def every_frame(path: str | Path) -> tuple[Iterator[Frame], float]:
    """A video's frames one after another, none dropped (as fast as they are processed), and its fps."""
    cap, info = open_video(path)

    def frames() -> Iterator[Frame]:
        try:
            for index, (rgb, pts) in enumerate(iter_frames_timed(cap)):
                yield Frame(rgb, pts if math.isfinite(pts) else index / info.fps, time.monotonic())
        finally:
            cap.release()

    return frames(), info.fps


class LiveSession:
    """The person tracker and the online engine over a stream of frames. `process` returns the
    frame's events (dicts, as `LiveEvent.to_dict()`, plus 'people' when the count of people in view
    changes between one and several); `state()` what a display shows; `finish()` the last events
    and the summary with frames, dropped and latency."""

    def __init__(self, predictor: Predictor, detector: PersonDetector | None = None, fps: float = 30.0,
                 config: AnalysisConfig | None = None, view: str = "auto") -> None:
        self.predictor = predictor
        self.tracker = PersonTracker(predictor, detector or BlazePoseDetector(), fps=fps)
        self.engine = OnlineAnalyzer(predictor.joint_set.names, config, view)
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.frame_wh: tuple[int, int] | None = None
        self.box: np.ndarray | None = None
        self.last_pose: tuple[np.ndarray, np.ndarray] | None = None   # the followed person's (xy, score) in the last frame
        self._index = 0
        self._people = 1
        self._rounds_seen = 0

    def process(self, frame: Frame) -> list[dict[str, Any]]:
        if frame.rgb.ndim != 3 or frame.rgb.shape[2] != 3:
            raise ValueError(f"a frame must be an RGB image (H, W, 3), got shape {frame.rgb.shape}")
        self.frame_wh = (frame.rgb.shape[1], frame.rgb.shape[0])
        index, tracker = self._index, self.tracker
        tracker.step(frame.rgb, index)
        track = tracker.followed
        pose = (track.xy.get(index), track.score.get(index)) if track is not None else (None, None)
        self.last_pose = None if pose[0] is None else (pose[0].copy(), pose[1].copy())
        self.box = None if track is None else track.box.copy()
        events = [e.to_dict() for e in self.engine.push(frame.t, *pose)] + self._people_events(frame.t)
        self._index += 1
        if self._index % FORGET_EVERY == 0:
            tracker.forget_before(self._index)
        self.latencies.append(time.monotonic() - frame.available)
        return events

    def _people_events(self, t: float) -> list[dict[str, Any]]:
        """'people' when the last detection round saw several people after one, or one after several."""
        rounds = self.tracker.rounds
        if not rounds or len(rounds) == self._rounds_seen:
            return []
        self._rounds_seen = len(rounds)
        people = rounds[-1]
        several = people >= 2
        if several == (self._people >= 2):
            return []
        self._people = people
        message = (f"{people} people in view: the count follows one of them; ask the others to step out of "
                   "the picture") if several else "one person in view again"
        return [{"event": "people", "t": round(t, 3), "frame": self._index, "count": people, "message": message}]

    def state(self) -> dict[str, Any]:
        s = self.engine.state
        joints = None if s.joints is None else [[None if not math.isfinite(v) else round(float(v), 1 if i < 2 else 3)
                                                 for i, v in enumerate(row)] for row in s.joints]
        return {"person": s.person, "depth": None if s.depth is None else round(s.depth, 3),
                "below_parallel": s.below_parallel, "phase": s.phase, "reps": s.reps, "side_view": s.side_view,
                "joints": joints, "frame_wh": self.frame_wh}

    def finish(self, dropped: int = 0) -> list[dict[str, Any]]:
        events = [e.to_dict() for e in self.engine.finish()]
        summary = events[-1]
        summary.update(latency_ms=latency_summary(self.latencies), frames=self.engine.frames, dropped=dropped)
        return events


def latency_summary(latencies: deque[float] | list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"median": None, "p95": None}
    ms = 1000 * np.asarray(latencies)
    return {"median": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}
