"""analyze_tracks: causal smoothing -> causal depth -> repetitions (the live engine's logic, frame by
frame), then, after the fact, the whole-clip leg geometry -> measures -> view -> 3D legs -> per-repetition
numbers -> feedback."""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from squatpose.analysis.angles import Measures, angle_to_vertical, compute_measures
from squatpose.analysis.body import Body, row_mean
from squatpose.analysis.causal_depth import CausalSignal, causal_signal
from squatpose.analysis.config import AnalysisConfig
from squatpose.analysis.depth import DepthSignal, LegGeometry, depth_with_3d, leg_geometry
from squatpose.analysis.feedback import Feedback, rep_feedback, set_feedback
from squatpose.analysis.lift3d import Legs3D, lift_legs
from squatpose.analysis.rep_counter import RepCount, count_reps
from squatpose.analysis.rep_measures import RepContext, Repetition, measure_repetition
from squatpose.analysis.result import SquatAnalysis
from squatpose.analysis.smoothing import SmoothResult, smooth_tracks
from squatpose.analysis.thigh import ThighElevation, thigh_elevation
from squatpose.analysis.tracks import LOWER_BODY, JointTracks
from squatpose.analysis.trunk import (
    HIPS_FIRST,
    TrunkContext,
    has_shoulders,
    hips_first_feedback,
    hips_rose_first,
    with_trunk_numbers,
)
from squatpose.analysis.view import VIEW_CHOICES, ViewInfo, resolve_view

log = logging.getLogger(__name__)

TILT_WARN_DEG = 5.0
LYING_DEG = 45.0  # standing legs this far from vertical: not a tilted camera but a rotated video


def _thigh(body: Body, geom: LegGeometry, depth: DepthSignal, cfg: AnalysisConfig) -> ThighElevation:
    standing = np.nan_to_num(depth.depth, nan=1.0) < cfg.reps.standing_depth
    return thigh_elevation(body, geom.leg_length, geom.segment_id, standing, cfg.lift3d,
                           cfg.feedback.thigh_model_sd_deg, cfg.feedback.min_confidence)


def _rep_context(body: Body, geom: LegGeometry, measures: Measures, depth: DepthSignal, view: ViewInfo,
                 legs3d: Legs3D, thigh_angle: ThighElevation, fps: float, cfg: AnalysisConfig) -> RepContext:
    hip_width = np.abs(body.hip[:, 0, 0] - body.hip[:, 1, 0]) / row_mean(geom.leg_length)
    return RepContext(fps=fps, side_view=view.is_side, measures=measures, depth=depth,
                      leg_length=geom.leg_length,
                      hip_y=body.hip[..., 1], hip_conf=body.score_of("hip"), hip_width=hip_width,
                      thigh=thigh_angle, feedback=cfg.feedback, bottom_band=cfg.reps.bottom_band,
                      joint_sd=cfg.lift3d.joint_sd, legs3d=legs3d)


def _repetitions(count: RepCount, ctx: RepContext, trunk: TrunkContext, cfg: AnalysisConfig, n_frames: int
                 ) -> tuple[list[Repetition], list[Repetition], list[Feedback]]:
    """Measure every span, attach flags, and collect per-repetition sentences."""
    done, unfinished, sentences = [], [], []
    ended = sorted([(s, "counted") for s in count.completed] + [(s, "uncertain") for s in count.uncertain],
                   key=lambda item: item[0].start_frame)
    spans = ended + [(s, "unfinished") for s in count.partial]
    for number, (span, kind) in enumerate(spans, start=1):
        rep = with_trunk_numbers(measure_repetition(span, number, ctx, n_frames), ctx, trunk)
        flags, said = rep_feedback(rep, cfg.feedback)
        flags += (HIPS_FIRST,) if hips_rose_first(rep, cfg.trunk) else ()
        complete = kind == "counted"
        if kind == "uncertain":   # completed on joints too unsure to count (RepStream decided)
            flags = flags + ("uncertain",)
            rep = dataclasses.replace(rep, complete=False)
        elif kind == "unfinished":
            flags = flags + ("unfinished",)
        rep = dataclasses.replace(rep, flags=flags)
        (done if complete else unfinished).append(rep)
        sentences.extend(said if complete else [])
    return done, unfinished, sentences


def _peaks_from(depth: np.ndarray, count: RepCount) -> None:
    """Each repetition's peak depth and bottom frame read again from the reported (3D) depth."""
    for rep in count.completed + count.uncertain + count.partial:
        end = len(depth) - 1 if rep.end_frame is None else rep.end_frame
        stretch = np.nan_to_num(depth[rep.start_frame:end + 1], nan=-np.inf)
        if np.isfinite(stretch).any():
            rep.bottom_frame = rep.start_frame + int(np.argmax(stretch))
            rep.peak_depth = float(stretch.max())


def _standing_tilt(body: Body, depth: DepthSignal, standing_depth: float) -> float | None:
    """Median tilt (deg) of the mid-ankle -> mid-hip line from the image vertical while standing."""
    standing = np.nan_to_num(depth.depth, nan=1.0) < standing_depth
    mid_hip, mid_ankle = body.hip.mean(axis=1)[standing], body.ankle.mean(axis=1)[standing]
    tilt = angle_to_vertical(mid_ankle, mid_hip)
    tilt = tilt[np.isfinite(tilt)]
    return float(np.median(tilt)) if tilt.size >= 5 else None


def _collect_warnings(raw: JointTracks, smooth: SmoothResult, body: Body, signal: CausalSignal,
                      depth: DepthSignal, count: RepCount, view: ViewInfo,
                      cfg: AnalysisConfig) -> list[str]:
    out = []
    seen = (raw.select(LOWER_BODY).score >= cfg.min_joint_score).any(axis=1)
    if seen.mean() < 0.9:
        out.append(f"person not found in {100 * (1 - seen.mean()):.0f}% of frames")
    hips_only = (depth.source == "hips").mean()
    if hips_only > 0.2:
        out.append(f"ankles not visible in {100 * hips_only:.0f}% of frames: depth there comes "
                   "from how far the hips drop, which assumes a still camera")
    if signal.moving.any():
        out.append(f"feet moving (walking?) for {signal.moving.sum() / raw.fps:.1f} s: "
                   "no repetitions are counted there")
    if not count.completed:
        out.append("no repetition found")
        out.extend(f"a dip at {span.start_frame / raw.fps:.1f} s was not counted: {why}"
                   for span, why in count.rejected[:3])
    if view.user_set and view.view != view.detected:
        out.append(f"view set to {view.label} by the user; detection suggests "
                   f"{'side' if view.detected == 'side' else 'front/back'} ({view.method})")
    if raw.fps < 15:
        out.append(f"low frame rate ({raw.fps:g} fps): timings are coarse")
    tilt = _standing_tilt(body, depth, cfg.reps.standing_depth)
    if tilt is not None and tilt > LYING_DEG:
        out.append(f"the legs lie {tilt:.0f}° from vertical in the image: the person seems to be lying "
                   "down, or the video is rotated (turn it upright and analyse it again); the view, "
                   "angles and repetitions are not reliable")
    elif tilt is not None and tilt > TILT_WARN_DEG:
        out.append(f"the standing legs lean {tilt:.0f}° from vertical in the image: if the camera "
                   "is tilted, angles to horizontal/vertical (thigh, shin, trunk) are off by about "
                   "as much")
    if smooth.swapped.mean() > 0.05:
        out.append(f"left/right legs were relabelled in {smooth.swapped.sum()} frames "
                   "(the pose model swapped them)")
    return out


def analyze_tracks(tracks: JointTracks, config: AnalysisConfig | None = None,
                   view: str = "auto") -> SquatAnalysis:
    """Analyse one person's squat set from joint tracks (T, K): smoothing, per-frame angles,
    view, depth, repetitions, per-repetition numbers and feedback.

    view: 'auto' (detect), 'side', 'front' or 'back' (front and back are analysed alike).
    """
    cfg = config or AnalysisConfig()
    if view not in VIEW_CHOICES:
        raise ValueError(f"view must be one of {VIEW_CHOICES}, got {view!r}")
    smooth = smooth_tracks(tracks, cfg.smoothing, leg_percentile=cfg.depth.leg_percentile,
                           min_score=cfg.min_joint_score)
    body = Body.from_tracks(smooth.tracks, cfg.min_joint_score)
    signal = causal_signal(body, tracks.times, cfg, view)
    count = count_reps(signal.depth.depth, signal.moving, signal.depth.knee_bent, tracks.fps, cfg.reps,
                       signal.straight, signal.depth.conf, signal.airborne, signal.hop)
    # after the fact: whole-clip leg lengths, view and 3D legs for the per-repetition numbers
    geom = leg_geometry(body, tracks.fps, cfg.depth, signal.moving)
    measures = compute_measures(body, geom.leg_length, cfg.lift3d.joint_sd, cfg.min_joint_score)
    view_info = resolve_view(view, body, geom, cfg.view)
    legs3d = lift_legs(body, geom.leg_length, geom.segment_id, cfg.lift3d)
    depth = depth_with_3d(signal.depth, legs3d, body) if cfg.depth.use_3d else signal.depth
    if cfg.depth.use_3d:
        _peaks_from(depth.depth, count)
    thigh = _thigh(body, geom, depth, cfg)
    ctx = _rep_context(body, geom, measures, depth, view_info, legs3d, thigh, tracks.fps, cfg)
    trunk = TrunkContext(body, has_shoulders(tracks), cfg.lift3d.joint_sd, cfg.min_joint_score, cfg.trunk)
    reps, partial, rep_sentences = _repetitions(count, ctx, trunk, cfg, tracks.n_frames)
    feedback = set_feedback(reps, partial, cfg.feedback) + hips_first_feedback(reps) + rep_sentences
    leg = geom.leg_length[np.isfinite(geom.leg_length)]
    log.info("%d completed repetition(s), %d unfinished, view %s", len(reps), len(partial),
             view_info.label)
    return SquatAnalysis(
        fps=tracks.fps, n_frames=tracks.n_frames, view=view_info, raw=tracks,
        smoothed=smooth.tracks, measures=measures, depth=depth, moving=signal.moving,
        phases=count.phases, repetitions=reps, partial=partial, feedback=feedback,
        warnings=_collect_warnings(tracks, smooth, body, signal, depth, count, view_info, cfg),
        config=cfg, leg_length_px=float(np.median(leg)) if leg.size else None, legs3d=legs3d,
        thigh=thigh,
    )
