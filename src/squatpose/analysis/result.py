"""SquatAnalysis: everything analyze_tracks found, and its JSON summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squatpose.analysis.angles import Measures
from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.depth import DepthSignal
from squatpose.analysis.feedback import Feedback
from squatpose.analysis.lift3d import Legs3D
from squatpose.analysis.rep_measures import Repetition
from squatpose.analysis.thigh import ThighElevation
from squatpose.analysis.tracks import JointTracks
from squatpose.analysis.trunk import has_shoulders, trunk_summary
from squatpose.analysis.view import ViewInfo
from squatpose.config import to_dict
from squatpose.jsonable import json_safe

UNITS = {
    "time": "seconds from the first frame", "frames": "0-based frame index",
    "depth": "fraction of leg length the hip-to-ankle distance shortened: 0 standing, "
             "about 0.5 with thighs parallel",
    "depth_verdict": "below, parallel (about parallel: the thigh angle's ± range includes horizontal) or "
                     "above parallel; null where not measurable (notes say why)",
    "thigh_angle": "thigh to the horizontal at the lowest point, degrees, 0 = parallel, > 0 hip above knee, "
                   "< 0 below; any view, assumes a level camera; _sd one standard deviation",
    "knees_in": "both knees moved inward at the bottom or on the way up, beyond the threshold and the "
                "uncertainty; null where not measurable",
    "knee_inward_pct": "both knees' mean distance inside the hip-to-ankle line at the bottom and on the way "
                       "up, % of leg length, < 0 outside; _sd_pct one standard deviation",
    "min_knee_angle": "interior hip-knee-ankle angle in the image, degrees, 180 = straight; side views",
    "min_knee_angle_3d": "interior knee angle from the one-camera 3D reconstruction, degrees, with "
                         "its standard deviation (_sd); any view",
    "knee_angle_diff": "left minus right 3D knee angle at the bottom, degrees; _sd its standard deviation",
    "hip_height_diff_pct": "left hip lower than right at the bottom, % of leg length",
    "max_trunk_lean": "trunk (hip to shoulder) tilt from vertical, degrees",
    "trunk_lean_bottom": "trunk (hip to shoulder) tilt from the image vertical at the bottom, degrees, side "
                         "views; _sd its standard deviation from the joints' position noise",
    "hip_angle_bottom": "interior shoulder-hip-knee (trunk-thigh) angle at the bottom, degrees, 180 = "
                        "straight, side views; _sd its standard deviation",
    "early_hip_rise": "how far the hips rose over the first part of the way up, leg lengths",
    "early_shoulder_rise": "how far the shoulders rose over the same frames, leg lengths",
    "shoulder_rise_ratio": "early_shoulder_rise / early_hip_rise: 1 = the trunk kept its angle, < 1 = the "
                           "hips rose first; _sd its standard deviation; any view",
}


@dataclass(frozen=True)
class PeopleSeen:
    """How many people a video showed and, when several, the detection round that saw the most of them:
    whom a user may choose from. Boxes are x,y,w,h in the original frame's pixels."""

    count: int
    frame: int | None = None                 # 0-based index of the decoded frame of that round
    time_s: float | None = None              # its time, seconds from the first frame
    frame_wh: tuple[int, int] | None = None  # that frame's size, px
    boxes: list[list[float]] = field(default_factory=list)   # each person's whole body, best first
    followed: int | None = None              # index in `boxes` of the person analysed (None: none overlaps)
    followed_box: list[float] | None = None  # the analysed person's crop box in that frame (else where found)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "frame": self.frame, "time_s": self.time_s,
                "frame_wh": None if self.frame_wh is None else list(self.frame_wh), "boxes": self.boxes,
                "followed": self.followed, "followed_box": self.followed_box}


@dataclass
class SquatAnalysis:
    """Result of analyze_tracks for one person.

    raw / smoothed: input and smoothed tracks (T, K); measures: per-frame angles with confidence;
    depth: normalised depth signal (T,); moving: (T,) feet moving; phases: (T,) state-machine phase
    names; repetitions: completed ones; partial: unfinished at the end (not counted); feedback:
    set sentences first, then per repetition; warnings: problems with the input; timings: seconds
    per stage, filled by the caller (e.g. pose, analysis, outputs); legs3d: the per-frame 3D leg
    reconstruction (None when not computed); people: who else the video showed (None without a video);
    thigh: the thigh's angle to the horizontal per frame, any view (None when not computed).
    """

    fps: float
    n_frames: int
    view: ViewInfo
    raw: JointTracks
    smoothed: JointTracks
    measures: Measures
    depth: DepthSignal
    moving: np.ndarray
    phases: np.ndarray
    repetitions: list[Repetition]
    partial: list[Repetition]
    feedback: list[Feedback]
    warnings: list[str]
    config: AnalysisConfig
    leg_length_px: float | None
    timings: dict[str, float] = field(default_factory=dict)
    legs3d: Legs3D | None = None
    people: PeopleSeen | None = None
    thigh: ThighElevation | None = None

    @property
    def reps(self) -> int:
        """Number of completed repetitions."""
        return len(self.repetitions)

    @property
    def times(self) -> np.ndarray:
        """(T,) seconds."""
        return np.arange(self.n_frames) / self.fps

    def reps_done(self) -> np.ndarray:
        """(T,) completed repetitions whose end is at or before each frame (for a live counter)."""
        ends = np.array([r.end_frame for r in self.repetitions], dtype=np.int64)
        return np.searchsorted(np.sort(ends), np.arange(self.n_frames), side="right")

    def to_summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return json_safe({
            "reps": self.reps,
            "repetitions": [r.to_dict() for r in self.repetitions],
            "partial": [r.to_dict() for r in self.partial],
            "fps": self.fps,
            "n_frames": self.n_frames,
            "duration_s": self.n_frames / self.fps,
            "view": self.view.to_dict(),
            "feedback": [f.to_dict() for f in self.feedback],
            "warnings": list(self.warnings),
            "leg_length_px": self.leg_length_px,
            "trunk": trunk_summary(self.repetitions, has_shoulders(self.raw)),
            **({"lift3d": {"facing": self.legs3d.facing, "standing_tilt_deg": self.legs3d.tilt_deg,
                           "notes": dict(self.legs3d.notes)}} if self.legs3d is not None else {}),
            **({"people": self.people.to_dict()} if self.people is not None else {}),
            "units": UNITS,
            "config": to_dict(self.config),
            **({"timings": dict(self.timings)} if self.timings else {}),
        })
