"""Per-frame joint angles and positions, per side and combined, each with a confidence.

Image convention: x to the right, y DOWN. All functions broadcast over leading axes: points are
(..., 2) arrays; results are (...,) degrees, NaN where a point is missing or a segment has zero
length.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from squatpose.analysis.body import SIDES, Body, joint_sd
from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.analysis.tracks import JointTracks


def interior_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at b between segments b->a and b->c, in [0, 180]; 180 = a, b, c collinear (straight)."""
    u, v = a - b, c - b
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / (nu * nv)
    return np.degrees(np.arccos(np.clip(np.where((nu > 0) & (nv > 0), cos, np.nan), -1.0, 1.0)))


def thigh_angle(hip: np.ndarray, knee: np.ndarray) -> np.ndarray:
    """Thigh (hip->knee) angle below horizontal: 90 = vertical thigh (standing), 0 = parallel,
    negative = hip below knee (below parallel). Meaningful in side views only."""
    d = knee - hip
    return np.degrees(np.arctan2(d[..., 1], np.abs(d[..., 0])))


def angle_to_vertical(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Unsigned tilt of segment lower->upper from the image vertical: 0 = upper straight above."""
    d = upper - lower
    return np.degrees(np.arctan2(np.abs(d[..., 0]), -d[..., 1]))


def segment_angle_sd(a: np.ndarray, b: np.ndarray, sd_a: np.ndarray, sd_b: np.ndarray) -> np.ndarray:
    """Standard deviation (degrees) of the direction of segment a->b when each end has independent
    isotropic noise of sd_a, sd_b pixels per coordinate (first order): only the part across the segment
    turns it, so sd = sqrt(sd_a² + sd_b²) / |b - a| radians."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.hypot(sd_a, sd_b) / np.linalg.norm(b - a, axis=-1))


def interior_angle_sd(a: np.ndarray, b: np.ndarray, c: np.ndarray, sd_a: np.ndarray, sd_b: np.ndarray,
                      sd_c: np.ndarray) -> np.ndarray:
    """Standard deviation (degrees) of `interior_angle(a, b, c)` under independent isotropic noise of
    sd_a, sd_b, sd_c pixels per coordinate (first order). An end point turns its arm by its noise / arm
    length; the vertex turns both arms at once, by |u / |u|² - v / |v|²| per pixel (u = a - b, v = c - b)."""
    u, v = a - b, c - b
    nu2, nv2 = np.sum(u * u, axis=-1), np.sum(v * v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        vertex = np.linalg.norm(u / nu2[..., None] - v / nv2[..., None], axis=-1)
        return np.degrees(np.sqrt(sd_a ** 2 / nu2 + sd_c ** 2 / nv2 + (sd_b * vertex) ** 2))


def frontal_plane_projection_angle(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                                   other_hip: np.ndarray) -> np.ndarray:
    """Signed frontal plane projection angle (FPPA), degrees: 180 - interior knee angle, positive
    when the knee lies medial to the hip-ankle line (towards `other_hip`, i.e. valgus), negative
    when lateral (varus). Meaningful in front/back views only; 2D, so a qualitative indicator."""
    sign = np.sign(knee_medial_offset(hip, knee, ankle, other_hip))
    return sign * (180.0 - interior_angle(hip, knee, ankle))


def knee_medial_offset(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                       other_hip: np.ndarray) -> np.ndarray:
    """Signed distance of the knee from the hip-ankle line, in the points' units: > 0 medial
    (towards `other_hip`: knee inward), < 0 lateral. Unlike the FPPA it shrinks smoothly to 0 as
    the leg straightens, so a nearly straight leg's noise cannot flip it to a large value."""
    line = ankle - hip
    rel = knee - hip
    with np.errstate(invalid="ignore", divide="ignore"):
        n = line / np.linalg.norm(line, axis=-1, keepdims=True)
    perp = rel - np.sum(rel * n, axis=-1, keepdims=True) * n
    return np.sign(np.sum(perp * (other_hip - hip), axis=-1)) * np.linalg.norm(perp, axis=-1)


@dataclass(frozen=True)
class Measure:
    """One per-frame measure. lr: (T, 2) values for (left, right), NaN where not measurable;
    lr_conf: (T, 2) lowest score of the joints involved (0 where NaN); value: (T,) combined =
    confidence-weighted mean of the measurable sides; conf: (T,) the better side's confidence.
    lr_sd / sd: (T, 2) / (T,) standard deviation from the joints' position noise, for measures that
    carry one (None otherwise); the combined sd treats the two sides as independent."""

    unit: str
    lr: np.ndarray
    lr_conf: np.ndarray
    value: np.ndarray
    conf: np.ndarray
    lr_sd: np.ndarray | None = None
    sd: np.ndarray | None = None

    @classmethod
    def from_sides(cls, unit: str, lr: np.ndarray, lr_conf: np.ndarray,
                   lr_sd: np.ndarray | None = None) -> Measure:
        ok = np.isfinite(lr)
        w = np.where(ok, lr_conf, 0.0)
        wsum = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(wsum > 0, np.nansum(np.where(ok, lr, 0.0) * w, axis=1) / wsum, np.nan)
            sd = None if lr_sd is None else np.where(
                wsum > 0, np.sqrt(np.sum(np.where(ok, (lr_sd * w) ** 2, 0.0), axis=1)) / wsum, np.nan)
        return cls(unit, lr, w, value, w.max(axis=1),
                   None if lr_sd is None else np.where(ok, lr_sd, np.nan), sd)


@dataclass(frozen=True)
class Measures:
    """All per-frame measures (T frames).

    knee_angle: interior hip-knee-ankle angle (180 = straight); flexion = 180 - knee_angle.
    thigh_angle: thigh below horizontal (0 = parallel, < 0 below); side views.
    shin_angle: shin tilt from vertical; side views.
    trunk_lean: hip->shoulder tilt from vertical, when shoulders are present; side views; with sd.
    hip_angle: interior shoulder-hip-knee (trunk-thigh) angle, 180 = straight; side views; with sd.
    hip_above_knee: (knee y - hip y) / leg length, > 0 hip above knee.
    fppa: signed frontal plane projection angle, > 0 knee medial; front views.
    knee_inward: signed distance of the knee from the hip-ankle line / leg length, > 0 medial.
    """

    knee_angle: Measure
    thigh_angle: Measure
    shin_angle: Measure
    trunk_lean: Measure
    hip_angle: Measure
    hip_above_knee: Measure
    fppa: Measure
    knee_inward: Measure

    @property
    def knee_flexion(self) -> np.ndarray:
        """(T,) combined knee flexion in degrees (0 = straight)."""
        return 180.0 - self.knee_angle.value

    def named(self) -> dict[str, Measure]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def compute_measures(body: Body, leg_length: np.ndarray, joint_sd_leg: float = 0.01,
                     score_floor: float = MIN_JOINT_SCORE) -> Measures:
    """Measures from `body` (T frames); leg_length: (T, 2) pixels per side for normalisation and for
    the joints' position noise (`joint_sd_leg` leg lengths at score 1, growing as 1 / score floored at
    `score_floor`), which gives the trunk measures their sd."""
    hip, knee, ankle, shoulder = body.hip, body.knee, body.ankle, body.shoulder
    leg = body.conf("hip", "knee", "ankle")
    sd = {part: joint_sd(body.score_of(part), leg_length, joint_sd_leg, score_floor)
          for part in ("shoulder", "hip", "knee")}
    return Measures(
        knee_angle=Measure.from_sides("deg", interior_angle(hip, knee, ankle), leg),
        thigh_angle=Measure.from_sides("deg", thigh_angle(hip, knee), body.conf("hip", "knee")),
        shin_angle=Measure.from_sides("deg", angle_to_vertical(ankle, knee),
                                      body.conf("knee", "ankle")),
        trunk_lean=Measure.from_sides("deg", angle_to_vertical(hip, shoulder), body.conf("hip", "shoulder"),
                                      segment_angle_sd(hip, shoulder, sd["hip"], sd["shoulder"])),
        hip_angle=Measure.from_sides("deg", interior_angle(shoulder, hip, knee),
                                     body.conf("shoulder", "hip", "knee"),
                                     interior_angle_sd(shoulder, hip, knee, sd["shoulder"], sd["hip"], sd["knee"])),
        hip_above_knee=Measure.from_sides("leg", (knee[..., 1] - hip[..., 1]) / leg_length,
                                          body.conf("hip", "knee")),
        fppa=Measure.from_sides("deg", frontal_plane_projection_angle(hip, knee, ankle,
                                                                      hip[:, ::-1]),
                                np.minimum(leg, body.score_of("hip")[:, ::-1])),
        knee_inward=Measure.from_sides("leg", knee_medial_offset(hip, knee, ankle, hip[:, ::-1]) / leg_length,
                                       np.minimum(leg, body.score_of("hip")[:, ::-1])),
    )


def knee_angles_for_image(xy: np.ndarray, score: np.ndarray, joint_names: tuple[str, ...],
                          min_score: float = MIN_JOINT_SCORE) -> dict[str, dict[str, float] | None]:
    """Knee angles of one detected pose, xy (K, 2), score (K,): {'left_knee': {'angle': interior
    degrees (180 = straight), 'flexion': 180 - angle, 'confidence'}, 'right_knee': ...}; None for
    a side whose hip, knee or ankle is below min_score. The view is unknown in a single image:
    in a front or back view the 2D angle understates knee bend."""
    tracks = JointTracks(1.0, tuple(joint_names), np.asarray(xy)[None], np.asarray(score)[None])
    body = Body.from_tracks(tracks, min_score)
    angle = interior_angle(body.hip, body.knee, body.ankle)[0]
    conf = body.conf("hip", "knee", "ankle")[0]
    return {f"{side}_knee": None if not np.isfinite(angle[i]) else
            {"angle": round(float(angle[i]), 1), "flexion": round(180.0 - float(angle[i]), 1),
             "confidence": round(float(conf[i]), 3)}
            for i, side in enumerate(SIDES)}
