"""Video → the main person's joint tracks: decode, track people, predict joints frame by frame."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from squatpose.analysis.result import PeopleSeen
from squatpose.analysis.tracks import JointTracks
from squatpose.geometry import box_problem
from squatpose.media.ffmpeg import key_frame_sizes
from squatpose.media.video_reader import (
    MAX_VIDEO_PIXELS,
    VideoError,
    VideoInfo,
    iter_frames_timed,
    opened_video,
    prefetch,
    too_large,
)
from squatpose.pose.predictor import Predictor
from squatpose.video.detector import BlazePoseDetector, PersonDetector, box_iou
from squatpose.video.timing import is_variable, resample_uniform
from squatpose.video.tracker import Crowd, PersonTracker, Track, TrackerConfig

log = logging.getLogger(__name__)


class NoPersonError(VideoError):
    """The video was readable but nobody was found in it."""


@dataclass
class VideoTracks:
    tracks: JointTracks
    info: VideoInfo
    n_frames: int
    people: int
    followed: float = 1.0       # share of frames where the person's pose was confident
    people_seen: PeopleSeen | None = None   # the count again and, when several, whom one could choose
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)   # seconds: decode, detection, pose, tracking


def extract_tracks(video_path: str | Path, predictor: Predictor, *, box: list[float] | None = None,
                   fps: float | None = None, tracker_config: TrackerConfig | None = None,
                   detector: PersonDetector | None = None, box_hint: bool = True, progress: bool = True,
                   on_frame: Callable[[int, int], None] | None = None) -> VideoTracks:
    """Follow the exerciser, return their joints `(T,K,2)` with scores; errors name the file.

    Frame times come from the container; a variable-frame-rate video's tracks are resampled to even
    times (unless `fps` overrides the rate). `on_frame(done, total)` is called after each frame (total is
    the container's estimate, maybe 0). `box_hint`: whether messages suggest `--box` (not where the
    caller cannot pass one).
    """
    with opened_video(video_path, fps) as (cap, info):
        if box is not None and (problem := box_problem(box, (info.width, info.height))):
            raise VideoError(f"{video_path}: the person box: {problem}")
        size_warnings = frame_size_warnings(video_path)
        tracker = PersonTracker(predictor, detector or BlazePoseDetector(), tracker_config,
                                None if box is None else np.asarray(box, np.float64), fps=info.fps)
        times, timings = _follow(tracker, cap, info, progress, on_frame)
    n_frames = len(times)
    if n_frames == 0:
        raise VideoError(f"{video_path}: the video has no readable frames")
    main = tracker.main_track()
    if main is None:
        hint = " (is the whole body in view? try --box x,y,w,h)" if box_hint else " (is the whole body in view?)"
        raise NoPersonError(f"{video_path}: no person found in any of its {n_frames} frames{hint}")
    xy, score = tracker.track_arrays(main, n_frames)
    followed = float(np.mean(score.mean(axis=1) >= tracker.config.min_score))
    if fps is None and is_variable(times):
        rate, xy, score = resample_uniform(times, xy, score)
        log.info("%s: variable frame rate; tracks resampled to %.2f frames/s from the container's times",
                 video_path, rate)
        info = replace(info, fps=rate)
    tracks = JointTracks(info.fps, predictor.joint_set.names, xy, score, (info.width, info.height))
    people = max(tracker.people_seen(), 1)
    warnings = size_warnings + ([] if people == 1 else [_people_warning(people, main, info.fps, box_hint)])
    if people == 1 or tracker.crowd is None:
        seen = PeopleSeen(people, frame_wh=(info.width, info.height))
    else:
        seen = _candidates(people, tracker.crowd, main, times, info.fps)
    return VideoTracks(tracks, info, n_frames, people, followed, seen, warnings, timings)


def frame_size_warnings(video_path: str | Path) -> list[str]:
    """A warning when the frame size changes midway to other proportions (every frame is read at the
    first frame's size, so later frames are stretched); VideoError when a later size is over the limit."""
    sizes = key_frame_sizes(video_path)
    if not sizes or len(sizes) == 1:
        return []
    first, later = sizes[0], sizes[1:]
    for change in later:
        if change.width * change.height > MAX_VIDEO_PIXELS:
            raise VideoError(f"{too_large(video_path, change.width, change.height)} "
                             f"(from {change.time_s - first.time_s:.1f} s)")
    aspect = first.width / first.height
    listed = ", ".join(f"{c.width}×{c.height} at {c.time_s - first.time_s:.1f} s" for c in later[:3])
    if all(abs(c.width / c.height - aspect) < 0.01 * aspect for c in later):
        log.info("%s: the frame size changes (%s) in the same proportions: read at the first size, %d×%d",
                 video_path, listed, first.width, first.height)
        return []
    return [f"the video's frame size changes midway, from {first.width}×{first.height} to {listed}: every "
            "frame is read at the first size, so later frames are stretched and the angles measured there "
            "are distorted (re-encode the video at one size)"]


def _follow(tracker: PersonTracker, cap, info: VideoInfo, progress: bool,
            on_frame: Callable[[int, int], None] | None) -> tuple[np.ndarray, dict[str, float]]:
    """Step the tracker through every frame → frame times `(T,)` seconds and the seconds spent (decode:
    the time spent waiting for a decoded frame; decoding runs ahead on its own thread)."""
    decode_s = step_s = 0.0
    times: list[float] = []
    frames = prefetch(iter_frames_timed(cap))
    bar = tqdm(total=info.n_frames or None, desc="pose", unit="frame", disable=not progress, leave=False)
    try:
        while True:
            start = time.perf_counter()
            item = next(frames, None)
            decode_s += time.perf_counter() - start
            if item is None:
                break
            start = time.perf_counter()
            tracker.step(item[0], len(times))
            step_s += time.perf_counter() - start
            times.append(item[1])
            bar.update(1)
            if on_frame is not None:
                on_frame(len(times), info.n_frames)
    finally:
        frames.close()  # stops the decoding thread before the capture goes
        bar.close()
    timings = {"decode": decode_s, **tracker.timings, "tracking": step_s - sum(tracker.timings.values())}
    return np.asarray(times, np.float64), timings


def _candidates(people: int, crowd: Crowd, main: Track, times: np.ndarray, fps: float) -> PeopleSeen:
    """The people of the round that saw the most, and which of them the analysis follows: the one
    overlapping the main track's crop in that frame most (where it was found, if it was not followed then)."""
    box = crowd.track_box if crowd.track_id == main.track_id and crowd.track_box is not None else main.first_box
    overlaps = [box_iou(candidate, box) for candidate in crowd.boxes]
    best = int(np.argmax(overlaps))
    since = times[crowd.frame] - times[0]
    time_s = float(since) if np.isfinite(since) else crowd.frame / fps
    return PeopleSeen(people, crowd.frame, time_s, crowd.frame_wh,
                      [[round(float(v), 1) for v in candidate] for candidate in crowd.boxes],
                      best if overlaps[best] > 0 else None, [round(float(v), 1) for v in box])


def _people_warning(people: int, main: Track, fps: float, box_hint: bool) -> str:
    where = ",".join(str(round(float(v))) for v in main.first_box)
    return (f"{people} people were seen; the analysis follows the one moving most and seen longest "
            f"(found at x,y,w,h = {where} at {min(main.xy) / fps:.1f} s)."
            + (" Pass --box x,y,w,h to choose another." if box_hint else ""))
