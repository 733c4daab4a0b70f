"""`squatpose.analyze`: a squat video (or joint tracks) → SquatAnalysis, and the output files."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.pipeline import analyze_tracks
from squatpose.analysis.result import SquatAnalysis
from squatpose.analysis.tracks import JointTracks, load_keypoints_json
from squatpose.media.video_reader import truncation_warning
from squatpose.outputs import FolderLock
from squatpose.pose.predictor import Predictor, default_checkpoint
from squatpose.report.files import write_outputs
from squatpose.video.detector import PersonDetector
from squatpose.video.extract import extract_tracks
from squatpose.video.tracker import TrackerConfig

log = logging.getLogger(__name__)


def analyze(video: str | Path | None = None, out_dir: str | Path | None = None, *,
            keypoints: str | Path | None = None, checkpoint: str | Path | None = None, view: str = "auto",
            box: list[float] | None = None, fps: float | None = None, backend: str = "auto",
            config: AnalysisConfig | None = None, predictor: Predictor | None = None,
            detector: PersonDetector | None = None, box_hint: bool = True, progress: bool = True,
            on_frame: Callable[[int, int], None] | None = None,
            on_annotate: Callable[[int, int], None] | None = None, source_name: str | None = None) -> SquatAnalysis:
    """Analyse a squat set. Give a `video` (the built-in model or `checkpoint` finds the joints) or
    `keypoints`, a joint-tracks JSON from any pose estimator. With `out_dir`, writes summary.json,
    keypoints.csv, angles.csv, plots, report.html and (for a video) annotated.mp4.

    `analysis.timings` holds the seconds spent decoding, in pose and in analysis; `on_frame(done, total)`
    reports pose progress frame by frame (for a UI), `on_annotate(done, total)` the annotated video's.
    `box_hint`: whether messages suggest `--box` (False where the caller cannot pass a box, as on the web
    page). `source_name`: the input's name in titles (default: its file name; the web page passes the
    name the user uploaded, not the server's).
    """
    if (video is None) == (keypoints is None):
        raise ValueError("give either a video or keypoints (a joint-tracks JSON), not both or neither")
    config = config or AnalysisConfig()
    with _output_lock(out_dir):  # one run at a time writes into a folder
        timings: dict[str, float] = {}
        people = None
        if keypoints is not None:
            tracks, warnings = _keypoints_tracks(keypoints, fps)
        else:
            found = extract_tracks(video, predictor or _predictor(checkpoint, backend), box=box, fps=fps,
                                   detector=detector, box_hint=box_hint, progress=progress, on_frame=on_frame,
                                   tracker_config=TrackerConfig(joint_score=config.min_joint_score))
            tracks, warnings, timings, people = found.tracks, found.warnings, dict(found.timings), found.people_seen
            cut_off = truncation_warning(found.info, found.n_frames)
            warnings += [cut_off] if cut_off else []
        start = time.perf_counter()
        analysis = analyze_tracks(tracks, config, view=view)
        analysis.warnings[:0] = warnings
        analysis.people = people
        timings["analysis"] = time.perf_counter() - start
        if out_dir is not None:
            start = time.perf_counter()
            write_outputs(analysis, out_dir, video_path=None if video is None else Path(video),
                          source_name=source_name or Path(video or keypoints).name, progress=progress,
                          on_frame=on_annotate)
            timings["outputs"] = time.perf_counter() - start
        analysis.timings = timings
        return analysis


def _keypoints_tracks(keypoints: str | Path, fps: float | None) -> tuple[JointTracks, list[str]]:
    """Tracks from a keypoints file, with the user's frame rate (which wins over the file's) when given."""
    tracks = load_keypoints_json(keypoints)
    if fps is None:
        return tracks, []
    try:
        tracks = dataclasses.replace(tracks, fps=fps)
    except ValueError as exc:
        raise ValueError(f"--fps: {exc}") from None
    return tracks, [f"frame rate {tracks.fps:g} fps as given, instead of the file's"]


def _predictor(checkpoint: str | Path | None, backend: str) -> Predictor:
    predictor = Predictor.from_checkpoint(checkpoint, backend=backend)
    if predictor.loaded.score_calibration is None:
        log.warning("%s: the model file carries no score calibration; its raw joint scores are read by "
                    "thresholds meant as probabilities (docs/analysis.md, 'Joint scores')",
                    checkpoint or default_checkpoint())
    return predictor


def _output_lock(out_dir: str | Path | None) -> contextlib.AbstractContextManager:
    """A lock on the output folder (made if needed) for the whole run: a second analysis into the same
    folder is refused at its start, before its pose work, instead of mixing its files with the first's."""
    if out_dir is None:
        return contextlib.nullcontext()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return FolderLock(out_dir, "analysis")
