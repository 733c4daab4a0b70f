"""squatpose: lower-body pose estimation (hips, knees, ankles) and squat analysis from images and video.

`squatpose.analyze(video_or_None, out_dir, keypoints=..., ...)` is the Python entry point of the analysis;
see `squatpose.api.analyze` for its arguments.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def analyze(*args: Any, **kwargs: Any):
    """Analyse a squat video or joint tracks; forwards to `squatpose.api.analyze` (imported on first use)."""
    from squatpose.api import analyze as _analyze

    return _analyze(*args, **kwargs)
