"""`squatpose live`: count and judge squats while they happen, from a camera or a video played in real time.

The frames go through the person tracker and the built-in model (one crop per frame) into the
online engine (`analysis/online.py`); each event is handed to `emit` as it happens, the summary
last. A preview window (skeleton, count, depth) opens where OpenCV can show one.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from squatpose.analysis.config import AnalysisConfig
from squatpose.pose.predictor import Predictor
from squatpose.report.viz import draw_overlay_text, draw_skeleton
from squatpose.video.live import Camera, Frame, LiveSession, RealtimeVideo, every_frame

log = logging.getLogger(__name__)

WINDOW = "squatpose live (q to stop)"


class Preview:
    """An OpenCV window with the skeleton, the count and the depth; it turns itself off where no
    window can be shown (no display, or a headless OpenCV build)."""

    def __init__(self, wanted: bool) -> None:
        self.on = wanted and (sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY")
                                                                         or os.environ.get("WAYLAND_DISPLAY")))
        if wanted and not self.on:
            log.info("no display: running without a preview window")

    def show(self, frame: Frame, session: LiveSession) -> bool:
        """Draw and show the frame; False when the user asked to stop (q or Esc)."""
        if not self.on:
            return True
        state = session.state()
        bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
        if state["joints"] is not None:
            joints = np.array([[np.nan if v is None else v for v in row] for row in state["joints"]])
            draw_skeleton(bgr, joints[:, :2], joints[:, 2], session.predictor.joint_set.names)
        depth = "-" if state["depth"] is None else f"{state['depth']:.2f}"
        draw_overlay_text(bgr, [f"reps {state['reps']}", f"depth {depth}", state["phase"]])
        try:
            cv2.imshow(WINDOW, bgr)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:  # a headless OpenCV build has no windows
            log.warning("no preview window (%s): running without one", str(exc).strip().splitlines()[-1])
            self.on = False
            return True
        return key not in (ord("q"), 27)

    def close(self) -> None:
        if self.on:
            cv2.destroyAllWindows()


def run_live(*, camera: int | None = None, video: str | Path | None = None, realtime: bool = False,
             predictor: Predictor | None = None, checkpoint: str | Path | None = None, backend: str = "auto",
             config: AnalysisConfig | None = None, view: str = "auto", window: bool = True,
             emit: Callable[[dict[str, Any]], None] = print) -> dict[str, Any]:
    """Run until the video ends, the camera fails, or the user stops (q in the window, Ctrl-C);
    returns the summary (also emitted last). Errors (a camera that cannot be opened, an unreadable
    video) raise VideoError naming the source."""
    if (camera is None) == (video is None):
        raise ValueError("give a camera or a video (one of them)")
    predictor = predictor or Predictor.from_checkpoint(checkpoint, backend=backend)
    source = Camera(camera) if camera is not None else RealtimeVideo(video) if realtime else None
    frames, fps = (_taken(source), source.fps) if source is not None else every_frame(video)
    session = LiveSession(predictor, fps=fps, config=config, view=view)
    preview = Preview(window and camera is not None)
    if source is not None:
        source.start()
    try:
        for frame in frames:
            for event in session.process(frame):
                emit(event)
            if not preview.show(frame, session):
                break
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        if source is not None:
            source.stop()
        preview.close()
    if source is not None and source.frames.error is not None:
        emit({"event": "error", "message": str(source.frames.error)})
    dropped = source.frames.dropped if source is not None else 0
    events = session.finish(dropped)
    events[-1]["source_fps"] = round(fps, 3)
    for event in events:
        emit(event)
    return events[-1]


def _taken(source: Camera | RealtimeVideo) -> Iterator[Frame]:
    while (frame := source.frames.take()) is not None:
        yield frame
