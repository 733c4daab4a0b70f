"""Joint tracks of one person over a video: positions (T, K, 2) and scores (T, K), plus JSON I/O.

Conventions: image pixels, x to the right, y DOWN; frame t is at time t / fps; a joint is missing
exactly where its score is 0, and then its position is NaN. The JSON format is documented in
docs/keypoints-format.md.
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from squatpose import atomic
from squatpose.joints import COCO_NAMES, LOWER6
from squatpose.jsonable import loads_bounded

log = logging.getLogger(__name__)

MAX_FPS = 1000.0  # as for videos: more is a mistake, and window sizes grow with fps
MAX_FRAME_SIDE = 100_000  # pixels
MAX_COORD = 1e6  # pixels: anything farther from the frame is a broken file, not a position
MAX_FILE_BYTES = 256 * 2**20  # about a million frames of 17 joints; parsed, a file takes ~5x its size

LOWER_BODY = LOWER6


@dataclass
class JointTracks:
    """Per-frame 2D joints of one tracked person.

    fps: frames per second (finite, > 0). joint_names: K unique names.
    xy: (T, K, 2) float64 image pixels (x, y), NaN where missing.
    score: (T, K) float64 confidence, 0 where missing (NaN positions or NaN/negative scores are
    normalised to missing). frame_wh: (width, height) of the video frame, if known.
    """

    fps: float
    joint_names: tuple[str, ...]
    xy: np.ndarray
    score: np.ndarray
    frame_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        try:
            if isinstance(self.fps, (bool, str, bytes)):
                raise TypeError
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise ValueError(f"fps must be a number, got {self.fps!r}") from None
        if not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
            raise ValueError(f"fps must be a number between 0 and {MAX_FPS:g}, got {self.fps!r}")
        self.fps = fps
        self.joint_names = tuple(str(n) for n in self.joint_names)
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f"duplicate joint names in {list(self.joint_names)}")
        self.xy, self.score = _normalise_arrays(self.xy, self.score, len(self.joint_names))
        if self.frame_wh is not None:
            self.frame_wh = (_side("width", self.frame_wh[0]), _side("height", self.frame_wh[1]))

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @property
    def times(self) -> np.ndarray:
        """(T,) time of each frame in seconds."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"joint {name!r} not in tracks ({list(self.joint_names)})") from None

    def select(self, names: Sequence[str]) -> JointTracks:
        """Tracks for `names` in that order; names not present become all-missing columns."""
        names = tuple(names)
        have = [n in self.joint_names for n in names]
        src = [self.joint_names.index(n) if h else 0 for n, h in zip(names, have)]
        xy = np.full((self.n_frames, len(names), 2), np.nan)
        score = np.zeros((self.n_frames, len(names)))
        cols = np.flatnonzero(have)
        xy[:, cols] = self.xy[:, np.asarray(src)[cols]]
        score[:, cols] = self.score[:, np.asarray(src)[cols]]
        return JointTracks(self.fps, names, xy, score, self.frame_wh)


def _side(key: str, value: Any) -> int:
    """A frame width or height in pixels, or ValueError naming the key."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value <= MAX_FRAME_SIDE:
        raise ValueError(f"'{key}' must be a number of pixels between 1 and {MAX_FRAME_SIDE}, got {value!r}")
    return int(value)


def _normalise_arrays(xy: Any, score: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes (T, K, 2) and (T, K); mark non-finite or non-positive entries as missing."""
    xy = np.array(xy, dtype=np.float64)
    score = np.array(score, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[1:] != (k, 2):
        raise ValueError(f"xy must have shape (T, {k}, 2), got {xy.shape}")
    if score.shape != xy.shape[:2]:
        raise ValueError(f"score must have shape {xy.shape[:2]}, got {score.shape}")
    missing = ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(score) | (score <= 0)
    score[missing] = 0.0
    xy[missing] = np.nan
    return xy, score


def tracks_from_dict(data: Any, source: str = "keypoints") -> JointTracks:
    """Build tracks from the parsed keypoints JSON; errors name `source` and what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object with 'fps', 'joints', 'frames'")
    absent = [key for key in ("fps", "joints", "frames") if key not in data]
    if absent:
        raise ValueError(f"{source}: missing key(s) {absent}")
    names = data["joints"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{source}: 'joints' must be a list of joint names")
    frames = data["frames"]
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{source}: 'frames' must be a non-empty list (no frames found)")
    bad = [i for i, f in enumerate(frames) if not isinstance(f, list) or len(f) != len(names)]
    if bad:
        raise ValueError(f"{source}: frame {bad[0]} must be a list of {len(names)} "
                         f"[x, y, score] entries, one per joint ({len(bad)} bad frame(s))")
    try:
        arr = np.array(frames, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: every joint entry must be [x, y, score] numbers") from None
    if arr.shape[-1:] != (3,) or arr.ndim != 3:
        raise ValueError(f"{source}: every joint entry must be [x, y, score] numbers")
    known = [i for i, n in enumerate(names) if n in COCO_NAMES]
    ignored = sorted(set(names) - set(COCO_NAMES))
    miscased = {n: n.lower().replace("-", "_").replace(" ", "_") for n in ignored}
    miscased = {n: fixed for n, fixed in miscased.items() if fixed in COCO_NAMES}
    if miscased:
        raise ValueError(f"{source}: joint names are lower case with underscores: "
                         + ", ".join(f"{n!r} should be {fixed!r}" for n, fixed in miscased.items()))
    if ignored:
        log.warning("%s: ignoring joints that are not COCO keypoint names: %s", source, ignored)
    if not set(LOWER_BODY) & {names[i] for i in known}:
        raise ValueError(f"{source}: no lower-body joints; need some of {list(LOWER_BODY)}")
    wh = (data["width"], data["height"]) if "width" in data and "height" in data else None
    far = (np.abs(np.nan_to_num(arr[:, known, :2], nan=0.0, posinf=np.inf, neginf=np.inf)) > MAX_COORD)
    far &= np.isfinite(arr[:, known, 2:3]) & (arr[:, known, 2:3] > 0)
    if far.any():
        t, j, _ = np.argwhere(far)[0]
        raise ValueError(f"{source}: frame {t}, {names[known[j]]}: position {arr[t, known[j], :2].tolist()} "
                         f"is more than {MAX_COORD:g} pixels from the image (a broken file?)")
    if ("width" in data) != ("height" in data):
        raise ValueError(f"{source}: give both 'width' and 'height', or neither")
    try:
        return JointTracks(data["fps"], tuple(names[i] for i in known), arr[:, known, :2],
                           arr[:, known, 2], wh)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None


def load_keypoints_json(path: str | os.PathLike) -> JointTracks:
    """Read a keypoints JSON file (docs/keypoints-format.md) into JointTracks."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path}: the keypoints file is too large ({size / 2**20:.0f} MB; the limit is "
                             f"{MAX_FILE_BYTES // 2**20} MB)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: keypoints file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read keypoints file ({exc})") from None
    try:
        data = loads_bounded(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except ValueError as exc:  # a number beyond the float range, too deep a nesting
        raise ValueError(f"{path}: {exc}") from None
    return tracks_from_dict(data, source=str(path))


def tracks_to_dict(tracks: JointTracks) -> dict[str, Any]:
    """JSON-ready dict; missing joints are written as [0, 0, 0]."""
    xy = np.where(np.isfinite(tracks.xy), np.round(tracks.xy, 3), 0.0)
    score = np.round(tracks.score, 4)[..., None]
    data: dict[str, Any] = {
        "fps": tracks.fps,
        "joints": list(tracks.joint_names),
        "frames": np.concatenate([xy, score], axis=-1).tolist(),
    }
    if tracks.frame_wh is not None:
        data["width"], data["height"] = tracks.frame_wh
    return data


def save_keypoints_json(tracks: JointTracks, path: str | os.PathLike) -> Path:
    """Write tracks as keypoints JSON, atomically."""
    return atomic.write_text(path, json.dumps(tracks_to_dict(tracks), separators=(",", ":")))
