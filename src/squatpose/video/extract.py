"""Video → the main person's joint tracks: decode, track people, predict joints frame by frame."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from squatpose.analysis.tracks import JointTracks
from squatpose.pose.predictor import Predictor
from squatpose.video.io import VideoError, iter_frames_rgb, open_video
from squatpose.video.motion import MotionPrior
from squatpose.video.tracker import PersonTracker, TrackerConfig

log = logging.getLogger(__name__)


class NoPersonError(VideoError):
    """The video was readable but nobody was found in it."""


@dataclass
class VideoTracks:
    tracks: JointTracks
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)   # seconds spent decoding / in pose


def extract_tracks(video_path: str | Path, predictor: Predictor, *, box: list[float] | None = None,
                   fps: float | None = None, tracker_config: TrackerConfig | None = None,
                   progress: bool = True, on_frame: Callable[[int, int], None] | None = None) -> VideoTracks:
    """Track everyone, return the main person's joints `(T,K,2)` with scores; errors name the file.

    `on_frame(done, total)` is called after each frame (total is the container's estimate, maybe 0).
    """
    cap, info = open_video(video_path, fps)
    motion = MotionPrior.from_video(video_path) if box is None else None
    tracker = PersonTracker(predictor, tracker_config, None if box is None else np.asarray(box, np.float64), motion,
                            fps=info.fps)
    decode_s = pose_s = 0.0
    n_frames = 0
    frames = iter_frames_rgb(cap)
    bar = tqdm(total=info.n_frames or None, desc="pose", unit="frame", disable=not progress, leave=False)
    try:
        while True:
            start = time.perf_counter()
            frame = next(frames, None)
            decode_s += time.perf_counter() - start
            if frame is None:
                break
            start = time.perf_counter()
            tracker.step(frame, n_frames)
            pose_s += time.perf_counter() - start
            n_frames += 1
            bar.update(1)
            if on_frame is not None:
                on_frame(n_frames, info.n_frames)
    finally:
        bar.close()
        cap.release()
    if n_frames == 0:
        raise VideoError(f"{video_path}: the video has no readable frames")
    main = tracker.main_track()
    if main is None:
        raise NoPersonError(f"{video_path}: no person found in any of its {n_frames} frames "
                            "(is the whole body in view? try --box x,y,w,h)")
    xy, score = tracker.track_arrays(main, n_frames)
    tracks = JointTracks(info.fps, predictor.joint_set.names, xy, score, (info.width, info.height))
    people = tracker.people_seen(main)
    warnings = []
    if people > 1:
        warnings.append(f"{people} people were seen; the analysis follows the one seen most and moving most "
                        f"(track {main.track_id}). Pass --box to choose another.")
    return VideoTracks(tracks, warnings, {"decode": decode_s, "pose": pose_s})
