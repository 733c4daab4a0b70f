"""3D leg pose from one camera: hip, knee and ankle per frame in 3D from the 2D joints and the
person's own limb lengths, with 3D knee and thigh angles, their uncertainty and a trust flag.

Method (Taylor 2000, "Reconstruction of articulated objects from point correspondences in a single
uncalibrated image"): under a scaled orthographic camera a segment of true length L whose image is
l long leaves the image plane by dz = ±sqrt(L² - l²). L is the `length_percentile` of the
segment's 2D length within each still stretch, relative to the person's slowly varying leg length
in pixels (depth.py), so that walking closer or zooming does not change it: the frames where a segment is longest are those
where it lies across the image (standing, or a thigh at the bottom of a side-view squat).

Sign: in a squat the knee is the leg's forward-most point (ahead of hip and ankle) and knees
track outwards over the toes, so thigh and shin leave the image plane in opposite directions: seen
along the line of sight, hip and ankle both lie behind the knee. The knee angle needs only this
relative sign. The absolute sign (knee nearer or farther than the hip) comes from the view: a
person facing the camera (their left hip at image right, the clip's median) has the knee nearer.
One rule per clip, so the signs are continuous in time by construction; they can only "flip"
where a segment crosses the image plane, where dz = 0 and the flip changes nothing. The one
exception is a straight leg seen by a camera that looks down or up: standing, thigh and shin then
leave the image plane the same way, tilted by the camera's pitch (measured on the standing leg:
its 2D length against the segment lengths). Where that reading gives a straight leg (>=
straight_knee_deg) tilted no more than the pitch (+ tilt_margin_deg) it is taken; the thigh or shin crosses the image plane on the way down, where the two readings
meet.
With a level camera the thigh's angle to the horizontal depends on its image-vertical part only
(the image's vertical is taken from the standing legs, which removes camera roll); camera pitch
is not observable here and enters the thigh angle's uncertainty (`pitch_sd_deg`).

Uncertainty: Monte Carlo over 2D joint noise (joint_sd leg lengths at score 1, growing as
1/score) and limb-length error. A value is trusted when its standard deviation is small, no
segment points almost straight at the camera (there its image direction is mostly noise) and no
2D segment is much longer than the limb (a bad joint or a change of scale).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from squatpose.analysis.angles import Measure, interior_angle
from squatpose.analysis.body import SIDES, Body, joint_sd
from squatpose.analysis.config import Lift3DConfig
from squatpose.analysis.depth import nanpercentile


@dataclass(frozen=True)
class Legs3D:
    """3D legs of one person over T frames, per side (left, right).

    hip, knee, ankle: (T, 2, 3) camera coordinates in pixels (x right, y down, z away from the
    camera; each hip at z = 0), NaN where unknown. thigh_len, shin_len: (T, 2) true lengths, px.
    knee_angle: interior 3D knee angle (180 = straight), trusted frames only; thigh_angle: 3D thigh
    below the horizontal plane (0 = parallel, < 0 below), trusted frames only. *_all: (T, 2) every
    computable value; *_sd: (T, 2) standard deviation, degrees; trusted / thigh_trusted: (T, 2).
    compression: (T, 2) 1 - 3D hip-ankle distance / (3D thigh + shin), where no segment points at
    the camera or overshoots its length.
    facing: 'camera', 'away' or 'unknown' (then 'camera' is assumed for the 3D points).
    tilt_deg: how far the standing legs lean out of the image plane (camera pitch), degrees.
    notes: {side: why that leg has no 3D values}."""

    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    thigh_len: np.ndarray
    shin_len: np.ndarray
    knee_angle: Measure
    thigh_angle: Measure
    knee_angle_all: np.ndarray
    thigh_angle_all: np.ndarray
    knee_sd: np.ndarray
    thigh_sd: np.ndarray
    trusted: np.ndarray
    thigh_trusted: np.ndarray
    compression: np.ndarray
    facing: str
    tilt_deg: float
    notes: dict[str, str] = field(default_factory=dict)


def limb_lengths(length_2d: np.ndarray, scale: np.ndarray, segment_id: np.ndarray, q: float,
                 min_frames: int) -> np.ndarray:
    """(T, 2) true length per frame and side: the q-th percentile of the 2D length (T, 2) relative
    to `scale` (T, 2), the person's slowly varying leg length in pixels, within each still stretch
    (segment_id (T,), -1 while walking: NaN there), times `scale`; NaN with < min_frames."""
    out = np.full(length_2d.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = length_2d / scale
    for seg in range(int(segment_id.max(initial=-1)) + 1):
        frames = segment_id == seg
        out[frames] = nanpercentile(relative[frames], q, min_count=min_frames) * scale[frames]
    return out


def length_noise(length_2d: np.ndarray, half: int = 7) -> np.ndarray:
    """(2,) robust sd of a 2D length (T, 2) around its running median over 2 * half + 1 frames;
    0 where unknown."""
    padded = np.pad(length_2d, ((half, half), (0, 0)), constant_values=np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        running = np.nanmedian(sliding_window_view(padded, 2 * half + 1, axis=0), axis=-1)
        sd = 1.4826 * np.nanmedian(np.abs(length_2d - running), axis=0)
    return np.nan_to_num(sd, nan=0.0)


def standing_tilt(lt: np.ndarray, ls: np.ndarray, thigh2: np.ndarray, shin2: np.ndarray,
                  straight: np.ndarray) -> float:
    """Foreshortening of the standing leg, >= 1: the larger of (true length / median 2D length while
    straight) over thigh and shin and both sides. A camera pitched by p shortens the standing leg by
    cos p; whichever segment is seen across the image at some point gives its true length, and
    the straight leg's other segment is foreshortened alike."""
    ratios = []
    for true, seen in ((lt, thigh2), (ls, shin2)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ratios.append(np.nanmedian(true, axis=0) / np.nanmedian(np.where(straight, seen, np.nan), axis=0))
    ratios = np.concatenate(ratios)
    ratios = ratios[np.isfinite(ratios)]
    return float(max(1.0, ratios.max())) if ratios.size else 1.0


def _facing(body: Body) -> str:
    """'camera' when the person's left hip is at image right in most frames, 'away' when at left."""
    gap = body.hip[:, 0, 0] - body.hip[:, 1, 0]
    gap = gap[np.isfinite(gap)]
    if gap.size < 3 or np.median(gap) == 0:
        return "unknown"
    return "camera" if np.median(gap) > 0 else "away"


def image_down(body: Body, straight: np.ndarray) -> np.ndarray:
    """(2,) unit image direction of gravity: mid-hip -> mid-ankle over frames with straight legs
    (removes camera roll), image +y when unknown."""
    d = (body.ankle.mean(axis=1) - body.hip.mean(axis=1))[straight.any(axis=1)]
    d = d[np.isfinite(d).all(axis=1)]
    if len(d) < 3:
        return np.array([0.0, 1.0])
    m = np.median(d / np.linalg.norm(d, axis=1, keepdims=True), axis=0)
    return m / np.linalg.norm(m)


def lift_points(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, thigh_len: np.ndarray,
                shin_len: np.ndarray, forward_z: float, floor: tuple[np.ndarray, np.ndarray] = (0.0, 0.0),
                straight_deg: float = 180.0, max_tilt: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3D hip, knee, ankle (..., 3) from 2D points (..., 2) and true lengths (...).

    The knee lies `forward_z` (-1: towards the camera, +1: away) of both hip and ankle along the
    line of sight, unless the leg with thigh and shin leaving the image plane the same way is at
    least `straight_deg` straight, straighter than the bent reading and tilted out of the image
    plane by at most `max_tilt` (sine): a straight leg seen by a camera that looks down or up.
    floor: (thigh, shin) amounts taken off L² - l² (noise), broadcastable to (...)."""
    z_thigh = np.sqrt(np.maximum(thigh_len ** 2 - np.sum((knee - hip) ** 2, -1) - floor[0], 0.0))
    z_shin = np.sqrt(np.maximum(shin_len ** 2 - np.sum((ankle - knee) ** 2, -1) - floor[1], 0.0))
    knee_z = (forward_z * z_thigh)[..., None]
    h3 = np.concatenate([hip, np.zeros_like(knee_z)], -1)
    k3 = np.concatenate([knee, knee_z], -1)
    bent = np.concatenate([ankle, knee_z - (forward_z * z_shin)[..., None]], -1)
    same = np.concatenate([ankle, knee_z + (forward_z * z_shin)[..., None]], -1)
    a_bent, a_same = interior_angle(h3, k3, bent), interior_angle(h3, k3, same)
    with np.errstate(invalid="ignore", divide="ignore"):
        tilted = np.fmax(z_thigh / thigh_len, z_shin / shin_len) <= max_tilt
    use_same = (a_same >= straight_deg) & (a_same > a_bent) & tilted
    return h3, k3, np.where(use_same[..., None], same, bent)


def thigh_to_horizontal(hip3: np.ndarray, knee3: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(...) 3D thigh angle below the horizontal plane, degrees, for a level camera whose image
    gravity direction is `down` (2,)."""
    d = knee3 - hip3
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (d[..., :2] @ down) / np.linalg.norm(d, axis=-1)
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))


def _angles(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, lt: np.ndarray, ls: np.ndarray,
            down: np.ndarray, floor: tuple[np.ndarray, np.ndarray], straight: tuple[float, float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knee angle, thigh angle (deg) and the thigh's out-of-plane share (depth / length) from 2D
    points (..., 2) and lengths (...); straight: (straight_deg, max_tilt) of lift_points."""
    h3, k3, a3 = lift_points(hip, knee, ankle, lt, ls, -1.0, floor, *straight)
    with np.errstate(invalid="ignore", divide="ignore"):
        out_of_plane = np.abs(k3[..., 2]) / np.linalg.norm(k3 - h3, axis=-1)
    return interior_angle(h3, k3, a3), thigh_to_horizontal(h3, k3, down), out_of_plane


MC_CHUNK_FRAMES = 4096  # frames per Monte Carlo batch: memory stays ~100 MB however long the clip


def _monte_carlo_sd(body: Body, lt: np.ndarray, ls: np.ndarray, down: np.ndarray,
                    floor: tuple[np.ndarray, np.ndarray], straight: tuple[float, float],
                    cfg: Lift3DConfig) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) standard deviations of the knee and thigh angle under joint and length noise, drawn
    MC_CHUNK_FRAMES frames at a time (one batch for clips up to that length)."""
    rng = np.random.default_rng(0)
    floor = (np.broadcast_to(floor[0], lt.shape), np.broadcast_to(floor[1], lt.shape))
    batches = []
    for start in range(0, max(body.n_frames, 1), MC_CHUNK_FRAMES):
        part = slice(start, start + MC_CHUNK_FRAMES)
        batches.append(_monte_carlo_batch(rng, Body(body.xy[part], body.score[part]), lt[part], ls[part], down,
                                          (floor[0][part], floor[1][part]), straight, cfg))
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def _monte_carlo_batch(rng: np.random.Generator, body: Body, lt: np.ndarray, ls: np.ndarray, down: np.ndarray,
                       floor: tuple[np.ndarray, np.ndarray], straight: tuple[float, float],
                       cfg: Lift3DConfig) -> tuple[np.ndarray, np.ndarray]:
    leg = lt + ls
    shape = (cfg.samples,) + body.hip.shape

    def noisy(part: str) -> np.ndarray:
        sd = joint_sd(body.score_of(part), leg, cfg.joint_sd, body.min_score)
        return body.xy_of(part) + rng.normal(size=shape) * sd[..., None]

    length_sd = np.sqrt(2) * cfg.joint_sd * leg
    knee, thigh, _ = _angles(noisy("hip"), noisy("knee"), noisy("ankle"),
                             lt + rng.normal(size=shape[:-1]) * length_sd,
                             ls + rng.normal(size=shape[:-1]) * length_sd, down, floor, straight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without any value
        return np.nanstd(knee, axis=0), np.nanstd(thigh, axis=0)


def _side_notes(body: Body, lt: np.ndarray, ls: np.ndarray, straight: np.ndarray,
                cfg: Lift3DConfig) -> dict[str, str]:
    """{side: why no 3D} for legs that are never seen, never straight or have implausible lengths."""
    notes = {}
    for i, side in enumerate(SIDES):
        seen = int(np.isfinite(body.hip[:, i] + body.knee[:, i] + body.ankle[:, i]).all(-1).sum())
        ratio = np.nanmedian(lt[:, i] / ls[:, i]) if np.isfinite(lt[:, i] / ls[:, i]).any() else np.nan
        if seen < cfg.min_frames or not np.isfinite(ratio):
            notes[side] = (f"{side} hip, knee and ankle seen together in {seen} frame(s), fewer than "
                           f"the {cfg.min_frames} needed to measure the {side} thigh and shin")
        elif int(straight[:, i].sum()) < cfg.min_straight_frames:
            notes[side] = (f"the {side} leg is never straight across the image (the person never "
                           "stands up straight in the clip): its true limb lengths are unknown")
        elif not cfg.min_thigh_shin <= ratio <= cfg.max_thigh_shin:
            notes[side] = (f"{side} thigh/shin length ratio {ratio:.2f} is implausible: a segment was "
                           "never seen at its full length")
    return notes


@dataclass(frozen=True)
class _Limbs:
    """thigh, shin: (T, 2) true lengths, px (NaN for a leg with a note); standing: (T, 2) the
    straightest frames; tilt: standing foreshortening (>= 1)."""

    thigh: np.ndarray
    shin: np.ndarray
    standing: np.ndarray
    tilt: float
    notes: dict[str, str]


def _limbs(body: Body, thigh2: np.ndarray, shin2: np.ndarray, leg_length: np.ndarray,
           segment_id: np.ndarray, cfg: Lift3DConfig) -> _Limbs:
    """True thigh and shin lengths, raised to the standing leg's foreshortening (camera pitch)."""
    lt = limb_lengths(thigh2, leg_length, segment_id, cfg.length_percentile, cfg.min_frames)
    ls = limb_lengths(shin2, leg_length, segment_id, cfg.length_percentile, cfg.min_frames)
    with np.errstate(invalid="ignore", divide="ignore"):
        extent = np.linalg.norm(body.ankle - body.hip, axis=-1) / (lt + ls)
        straight = extent >= cfg.straight_fraction
        # the straightest tenth of the straight frames: the standing pose, for the camera's pitch
        standing = straight & (extent >= nanpercentile(extent, 90))
    notes = _side_notes(body, lt, ls, straight, cfg)
    tilt = standing_tilt(lt, ls, thigh2, shin2, standing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lt, ls = (np.where(np.isfinite(true), np.fmax(true, tilt * np.nanmedian(
            np.where(standing, seen, np.nan), axis=0)), np.nan) for true, seen in ((lt, thigh2), (ls, shin2)))
    for i, side in enumerate(SIDES):
        if side in notes:
            lt[:, i] = ls[:, i] = np.nan
    return _Limbs(lt, ls, standing, tilt, notes)


def lift_legs(body: Body, leg_length: np.ndarray, segment_id: np.ndarray, cfg: Lift3DConfig) -> Legs3D:
    """3D legs of `body` (T frames); leg_length: (T, 2) the person's leg length in pixels per frame
    (LegGeometry); segment_id: (T,) still stretch per frame, -1 while walking."""
    thigh2 = np.linalg.norm(body.knee - body.hip, axis=-1)
    shin2 = np.linalg.norm(body.ankle - body.knee, axis=-1)
    limbs = _limbs(body, thigh2, shin2, leg_length, segment_id, cfg)
    lt, ls = limbs.thigh, limbs.shin
    down = image_down(body, limbs.standing)
    floor = (2 * cfg.noise_floor * lt * length_noise(thigh2), 2 * cfg.noise_floor * ls * length_noise(shin2))
    tilt_deg = float(np.degrees(np.arccos(1.0 / limbs.tilt)))
    straight = (cfg.straight_knee_deg, float(np.sin(np.radians(min(90.0, tilt_deg + cfg.tilt_margin_deg)))))
    knee_all, thigh_all, out_of_plane = _angles(body.hip, body.knee, body.ankle, lt, ls, down, floor, straight)
    knee_sd, thigh_sd = _monte_carlo_sd(body, lt, ls, down, floor, straight, cfg)
    thigh_sd = np.hypot(thigh_sd, cfg.pitch_sd_deg * out_of_plane)
    with np.errstate(invalid="ignore"):
        shape_ok = ((thigh2 >= cfg.ambiguous_fraction * lt) & (shin2 >= cfg.ambiguous_fraction * ls)
                    & (thigh2 <= cfg.max_overshoot * lt) & (shin2 <= cfg.max_overshoot * ls))
        trusted = shape_ok & np.isfinite(knee_all) & (knee_sd <= cfg.max_sd_deg)
        thigh_trusted = shape_ok & np.isfinite(thigh_all) & (thigh_sd <= cfg.max_sd_deg)
    facing = _facing(body)
    h3, k3, a3 = lift_points(body.hip, body.knee, body.ankle, lt, ls,
                             1.0 if facing == "away" else -1.0, floor, *straight)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Near straight the knee angle is uncertain but the hip-ankle distance is not (it changes
        # with the cosine of the bend), so compression needs only a well-posed leg, not a small sd.
        # Measured against the rebuilt segments, not L: the noise floor shortens them alike, and a
        # straight leg must read 0 whatever the floor took off.
        rebuilt = np.linalg.norm(k3 - h3, axis=-1) + np.linalg.norm(a3 - k3, axis=-1)
        compression = np.where(shape_ok, 1.0 - np.linalg.norm(a3 - h3, axis=-1) / rebuilt, np.nan)
    return Legs3D(
        hip=h3, knee=k3, ankle=a3, thigh_len=lt, shin_len=ls,
        knee_angle=Measure.from_sides("deg", np.where(trusted, knee_all, np.nan),
                                      body.conf("hip", "knee", "ankle")),
        thigh_angle=Measure.from_sides("deg", np.where(thigh_trusted, thigh_all, np.nan),
                                       body.conf("hip", "knee")),
        knee_angle_all=knee_all, thigh_angle_all=thigh_all, knee_sd=knee_sd, thigh_sd=thigh_sd,
        trusted=trusted, thigh_trusted=thigh_trusted, compression=compression, facing=facing,
        tilt_deg=tilt_deg, notes=limbs.notes)
