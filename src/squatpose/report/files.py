"""Write a SquatAnalysis to files: summary.json, keypoints.csv, angles.csv, PNG plots, an annotated
video (when the source video is given) and a self-contained report.html.

All files are written under temporary names of the run's own and moved into place together at the
end, summary.json last, so a crash never leaves output that looks complete.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from squatpose import atomic
from squatpose.analysis.body import SIDES
from squatpose.analysis.result import SquatAnalysis
from squatpose.media.figures import figure_png
from squatpose.media.video_reader import iter_frames_bgr, open_video, opened_video
from squatpose.media.video_writer import encode_video
from squatpose.report import viz, wording
from squatpose.report.html import render_html

log = logging.getLogger(__name__)
OVERLAY_THIGH_DEG = 45.0  # the thigh against parallel is shown once it is this close to horizontal

def _fmt(values: np.ndarray, decimals: int = 3) -> np.ndarray:
    """Numbers as strings, '' for NaN."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), np.char.mod(f"%.{decimals}f", values), "")


def _csv(columns: dict[str, np.ndarray]) -> str:
    """CSV text from equal-length string columns."""
    rows = zip(*columns.values())
    return "\n".join([",".join(columns)] + [",".join(r) for r in rows]) + "\n"


def _frame_columns(a: SquatAnalysis) -> dict[str, np.ndarray]:
    return {"frame": np.arange(a.n_frames).astype(str), "time": _fmt(a.times, 4)}


def keypoints_csv(a: SquatAnalysis) -> str:
    """One row per frame: x, y, score of every joint, raw then smoothed (suffix _smooth)."""
    cols = _frame_columns(a)
    for suffix, tracks in (("", a.raw), ("_smooth", a.smoothed)):
        for k, name in enumerate(tracks.joint_names):
            cols[f"{name}_x{suffix}"] = _fmt(tracks.xy[:, k, 0], 2)
            cols[f"{name}_y{suffix}"] = _fmt(tracks.xy[:, k, 1], 2)
            cols[f"{name}_score{suffix}"] = _fmt(tracks.score[:, k], 3)
    return _csv(cols)


def angles_csv(a: SquatAnalysis) -> str:
    """One row per frame: phase, depth and every measure per side, combined and its confidence (and its
    standard deviation per side and combined, `_sd_left` / `_sd_right` / `_sd`, where it has one); the
    thigh's angle to the horizontal in any view (thigh_elevation, > 0 above parallel) with its sd."""
    cols = _frame_columns(a)
    cols.update(phase=a.phases.astype(str), moving=a.moving.astype(int).astype(str),
                depth=_fmt(a.depth.depth), depth_conf=_fmt(a.depth.conf),
                depth_source=a.depth.source.astype(str))
    for name, m in a.measures.named().items():
        cols[f"{name}_left"] = _fmt(m.lr[:, 0], 2)
        cols[f"{name}_right"] = _fmt(m.lr[:, 1], 2)
        cols[name] = _fmt(m.value, 2)
        cols[f"{name}_conf"] = _fmt(m.conf)
        if m.lr_sd is not None and m.sd is not None:  # empty where the measure is
            cols.update({f"{name}_sd_{side}": _fmt(m.lr_sd[:, i], 2) for i, side in enumerate(SIDES)})
            cols[f"{name}_sd"] = _fmt(m.sd, 2)
    if a.thigh is not None:
        cols.update(thigh_elevation=_fmt(a.thigh.value, 2), thigh_elevation_sd=_fmt(a.thigh.value_sd, 2))
    cols.update(_columns_3d(a))
    return _csv(cols)


def _columns_3d(a: SquatAnalysis) -> dict[str, np.ndarray]:
    """Per side: 3D knee and thigh angle, its sd and whether it is trusted (1/0)."""
    legs = a.legs3d
    if legs is None:
        return {}
    cols = {}
    for name, values, sd, ok in (("knee_angle_3d", legs.knee_angle_all, legs.knee_sd, legs.trusted),
                                 ("thigh_angle_3d", legs.thigh_angle_all, legs.thigh_sd, legs.thigh_trusted)):
        for i, side in enumerate(SIDES):
            cols[f"{name}_{side}"] = _fmt(values[:, i], 2)
            cols[f"{name}_sd_{side}"] = _fmt(sd[:, i], 2)
            cols[f"{name}_trusted_{side}"] = ok[:, i].astype(int).astype(str)
    return cols


MAX_3D_PANELS = 12  # one 3D panel per repetition up to here; a longer set shows 12 spread over it


def _bottom_poses(a: SquatAnalysis) -> list[tuple[str, np.ndarray]]:
    """(title, (3 joints, 2 sides, 3) camera-space points) at each repetition's 3D bottom."""
    legs = a.legs3d
    if legs is None:
        return []
    out = []
    for rep in a.repetitions:
        t = rep.bottom_frame if rep.bottom_frame_3d is None else rep.bottom_frame_3d
        pts = np.stack([legs.hip[t], legs.knee[t], legs.ankle[t]])
        if not np.isfinite(pts).all(axis=(0, 2)).any():
            continue
        knee = ("knee angle not measurable" if rep.min_knee_angle_3d is None else
                f"knee {rep.min_knee_angle_3d:.0f}° ± {rep.min_knee_angle_3d_sd:.0f}°")
        out.append((f"rep {rep.number}: {knee}", pts))
    return out


def plots(a: SquatAnalysis) -> dict[str, bytes]:
    """PNG bytes of the timeline, the per-repetition depth chart and (when the 3D legs are known)
    the 3D stick figures of each repetition's bottom."""
    reps = a.repetitions
    markers = {"start": np.array([r.start_time for r in reps + a.partial]),
               "bottom": np.array([r.bottom_time for r in reps + a.partial]),
               "end": np.array([r.end_time for r in reps])}
    end = (a.n_frames - 1) / a.fps
    timeline = viz.timeline_figure(
        a.times, a.measures.knee_angle.lr, a.measures.knee_angle.value, a.depth.depth, markers,
        [(r.start_time, r.end_time) for r in reps], [(r.start_time, end) for r in a.partial],
        a.moving, a.view.is_side, None if a.legs3d is None else a.legs3d.knee_angle.value)
    bars = viz.depth_bars_figure([r.number for r in reps], [r.thigh_angle for r in reps],
                                 [r.thigh_angle_sd for r in reps], [r.depth_verdict for r in reps])
    pngs = {"timeline.png": figure_png(timeline, viz.PLOT_DPI), "depth_per_rep.png": figure_png(bars, viz.PLOT_DPI)}
    poses = _bottom_poses(a)
    if poses:
        shown = spread(len(poses), MAX_3D_PANELS)
        pngs["bottom_3d.png"] = figure_png(viz.bottom_3d_figure([poses[i] for i in shown], total=len(poses)))
    return pngs


def spread(n: int, most: int) -> list[int]:
    """At most `most` of the indices 0..n-1, evenly spread, the first and the last included."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def _overlay_lines(a: SquatAnalysis, t: int, done: np.ndarray) -> list[str]:
    """Rep counter, phase, knee angle (2D in side views, else the 3D estimate) and the thigh against
    parallel for frame t (Hershey fonts have no degree sign)."""
    knee = a.measures.knee_angle.value[t] if a.view.is_side else (
        np.nan if a.legs3d is None else a.legs3d.knee_angle.value[t])
    lines = [f"reps {done[t]}", f"{a.phases[t]}", f"knee {knee:.0f} deg" if np.isfinite(knee) else "knee -"]
    thigh = np.nan if a.thigh is None else a.thigh.value[t]
    if np.isfinite(thigh) and thigh < OVERLAY_THIGH_DEG:
        lines.append(f"thigh {abs(thigh):.0f} deg {'above' if thigh >= 0 else 'below'} parallel")
    return lines


def write_annotated_video(a: SquatAnalysis, video_path: str | os.PathLike, out_path: str | os.PathLike,
                          progress: bool = True, on_frame: Callable[[int, int], None] | None = None) -> str:
    """Re-read the video, draw smoothed skeleton, knee angles, rep counter and phase on each
    frame, write mp4 atomically; returns the codec used ('h264' or 'mp4v'). `on_frame(done, total)`
    reports each frame drawn (for a UI)."""
    with atomic.replacing(out_path) as tmp:
        return _encode_annotated(a, video_path, tmp, progress, on_frame)


def _encode_annotated(a: SquatAnalysis, video_path: str | os.PathLike, dest: Path, progress: bool,
                      on_frame: Callable[[int, int], None] | None = None) -> str:
    """The annotated video into `dest` (a temporary name: on an error or Ctrl-C the caller removes it,
    after the encoder was stopped); returns the codec."""
    with opened_video(video_path, fallback_fps=a.fps) as (cap, info):
        w, h = info.width, info.height
        sx, sy = ((w / a.raw.frame_wh[0], h / a.raw.frame_wh[1]) if a.raw.frame_wh else (1.0, 1.0))
        if (sx, sy) != (1.0, 1.0):
            log.warning("video is %dx%d but tracks are for %s: rescaling joints", w, h, a.raw.frame_wh)
        xy = a.smoothed.xy * np.array([sx, sy])
        done = a.reps_done()

        def annotated(frame: np.ndarray, t: int) -> np.ndarray:
            if frame.shape[:2] != (h, w):  # the encoder takes one frame size; the analysis warned already
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            drawn = viz.annotate_frame(frame, xy[t], a.smoothed.score[t], a.smoothed.joint_names,
                                       _overlay_lines(a, t, done), a.config.min_joint_score,
                                       knee_angles=a.view.is_side)
            if on_frame is not None:
                on_frame(t + 1, a.n_frames)
            return drawn

        frames = tqdm(range(a.n_frames), desc="annotating video", unit="frame", disable=not progress)
        written, codec = encode_video(dest, (annotated(frame, t) for t, frame in zip(frames, iter_frames_bgr(cap))),
                                      info.fps, (w, h))
    if written == 0:
        raise ValueError(f"{video_path}: no frame could be read")
    if written != a.n_frames:
        log.warning("%s: %d frames read, tracks have %d", video_path, written, a.n_frames)
    return codec


# Every file write_outputs may write into its folder (for the check that no input is among them).
OUTPUT_NAMES = ("keypoints.csv", "angles.csv", "timeline.png", "depth_per_rep.png", "bottom_3d.png",
                "annotated.mp4", "report.html", "summary.json")


def write_outputs(analysis: SquatAnalysis, out_dir: str | os.PathLike, *,
                  video_path: str | os.PathLike | None = None, source_name: str | None = None,
                  progress: bool = True, on_frame: Callable[[int, int], None] | None = None) -> dict[str, Path]:
    """Write all outputs into out_dir (created if needed); returns {name: path}.

    names: 'keypoints_csv', 'angles_csv', 'timeline_png', 'depth_png', 'bottom_3d_png' (when a
    repetition has 3D legs), 'annotated_video' (only with video_path), 'report_html', 'summary_json'.
    Every file is written under a temporary name of this run's own and all are moved into place at the
    end, summary.json last (its presence means the set is complete); an error or Ctrl-C before then
    leaves the folder as it was. `source_name`: the analysed file's name as the user knows it (titles);
    `on_frame(done, total)`: progress of the annotated video, frame by frame.
    """
    if video_path is not None:
        open_video(video_path, fallback_fps=analysis.fps)[0].release()  # a clear error before any output
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = analysis
    with atomic.FileSet() as files:
        paths = {"keypoints_csv": files.write_text(out / "keypoints.csv", keypoints_csv(a)),
                 "angles_csv": files.write_text(out / "angles.csv", angles_csv(a))}
        pngs = plots(a)
        paths["timeline_png"] = files.write_bytes(out / "timeline.png", pngs["timeline.png"])
        paths["depth_png"] = files.write_bytes(out / "depth_per_rep.png", pngs["depth_per_rep.png"])
        if "bottom_3d.png" in pngs:
            paths["bottom_3d_png"] = files.write_bytes(out / "bottom_3d.png", pngs["bottom_3d.png"])
        codec = None
        if video_path is not None:
            codec = _encode_annotated(a, video_path, files.path(out / "annotated.mp4"), progress, on_frame)
            paths["annotated_video"] = out / "annotated.mp4"
        source = source_name or (Path(video_path).name if video_path else None)
        html = render_html(a, pngs, source, has_video=video_path is not None)
        paths["report_html"] = files.write_text(out / "report.html", html)
        summary = {**a.to_summary(), "rep_table": wording.rep_table(a.repetitions), "source": source,
                   "video_codec": codec, "outputs": {k: p.name for k, p in paths.items()}}
        paths["summary_json"] = files.write_text(out / "summary.json",
                                                 json.dumps(summary, indent=2, ensure_ascii=False))
        (out / "summary.json").unlink(missing_ok=True)  # the set is incomplete until its summary is back
        files.commit()
    log.info("wrote %d files to %s", len(paths), out)
    return paths
