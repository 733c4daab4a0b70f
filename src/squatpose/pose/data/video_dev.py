"""Clips held out of training so that video accuracy is measured on footage the model never saw.

The dev metric on video (benchmarks/video_dev.py) reads these; `data pseudo-label` never labels them.
- `squat_videos/`: all 7 clips (the shared end-to-end clips with verified repetition counts).
- `train_videos/`: 8 clips from 6 source repositories, each repository held out whole, chosen for the
  failures seen on gym footage: barbell squats through a rack (barpathtracker), squat-stand uprights in
  front of the legs (sbdtracker), a rack squat in a local gym (spotme), a phone-portrait squat
  (gymtracking), all-black clothing (bwcircuit) and a front-oblique home squat (kunlanatexercise).
"""
from __future__ import annotations

HELD_OUT_FOLDERS: tuple[str, ...] = ("squat_videos",)
TRAIN_VIDEOS_DEV: tuple[str, ...] = (
    "barpathtracker_1.mp4", "barpathtracker_2.mp4", "sbdtracker_1.mp4", "sbdtracker_2.mp4",
    "spotme_1.mp4", "gymtracking_1.mp4", "bwcircuit_1.mp4", "kunlanatexercise_1.mp4",
)
