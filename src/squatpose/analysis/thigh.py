"""The thigh's angle to the horizontal, per frame, in any camera view, with its uncertainty.

With a level camera (orthographic, the person far compared with their depth extent) the image shows
vertical distances at their true scale whatever the camera's yaw: the thigh's elevation is the
vertical drop from hip to knee over the thigh's true length, sin(angle) = drop / L. The true length
is what the 2D thigh measures where it lies in the image plane: standing, the thigh is vertical,
so in the image plane from every side (lift3d.limb_lengths: a high percentile of the 2D length
relative to the person's slowly varying leg length). The image's vertical comes from the standing
legs (camera roll removed). In a side view this is the 2D thigh angle; from the front or at an
oblique angle it is the 3D elevation the 2D angle cannot show.

Uncertainty (one standard deviation, degrees), from three sources combined in quadrature:
joint noise (the 3D lift's model: `joint_sd` leg lengths at score 1, growing as 1/score) propagated
through the drop and the length; camera pitch, which leaks the thigh's depth extent into the
vertical drop (`pitch_sd_deg` times the thigh's out-of-plane share, as in the 3D lift); and where a
pose model puts hip and knee joint centres against the thigh a judge sees (`thigh_model_sd_deg`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from squatpose.analysis.body import Body
from squatpose.analysis.config import MIN_JOINT_SCORE, Lift3DConfig
from squatpose.analysis.lift3d import image_down, limb_lengths


@dataclass(frozen=True)
class ThighElevation:
    """angle: (T, 2) thigh angle to the horizontal per side (left, right), degrees, > 0 with the hip
    above the knee (above parallel), 0 parallel, < 0 below; NaN where a joint is under the score
    threshold or the thigh length is unknown. sd: (T, 2) its standard deviation from joint noise and
    camera pitch, degrees. value / value_sd: (T,) the sides combined (inverse-variance mean), its sd
    widened by the sides' disagreement and by the joint-centre term, which both sides share."""

    angle: np.ndarray
    sd: np.ndarray
    value: np.ndarray
    value_sd: np.ndarray


def _combine_sides(angle: np.ndarray, sd: np.ndarray, shared_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """(T,) inverse-variance mean of the finite sides and its sd, widened by half the sides' gap and
    by `shared_sd`, an error common to both sides."""
    ok = np.isfinite(angle) & np.isfinite(sd)
    w = np.where(ok, 1.0 / np.maximum(np.where(ok, sd, 1.0), 1e-6) ** 2, 0.0)
    wsum = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(wsum > 0, (np.where(ok, angle, 0.0) * w).sum(axis=1) / wsum, np.nan)
        gap = np.where(ok.all(axis=1), np.abs(angle[:, 0] - angle[:, 1]) / 2, 0.0)
        value_sd = np.where(wsum > 0, np.sqrt(1.0 / wsum + gap ** 2 + shared_sd ** 2), np.nan)
    return value, value_sd


def thigh_elevation(body: Body, leg_length: np.ndarray, segment_id: np.ndarray, standing: np.ndarray,
                    lift: Lift3DConfig, model_sd_deg: float, min_score: float) -> ThighElevation:
    """Thigh angles of `body` (T frames). leg_length: (T, 2) px (LegGeometry); segment_id: (T,) still
    stretch, -1 while walking; standing: (T,) frames where the person stands (for the image's
    vertical); joints scored under `min_score` are not used."""
    hip, knee = body.hip, body.knee
    thigh2 = np.linalg.norm(knee - hip, axis=-1)
    true = limb_lengths(thigh2, leg_length, segment_id, lift.length_percentile, lift.min_frames)
    length = np.fmax(true, thigh2)  # a 2D thigh longer than the estimate is the better bound
    down = image_down(body, np.repeat(standing[:, None], 2, axis=1))
    drop = (knee - hip) @ down  # > 0: knee below hip
    score_hip, score_knee = body.score_of("hip"), body.score_of("knee")
    usable = (score_hip >= min_score) & (score_knee >= min_score) & (length > 0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sine = np.clip(drop / length, -1.0, 1.0)
        angle = np.degrees(np.arcsin(sine))
        joint_px = lift.joint_sd * leg_length  # one coordinate's noise at score 1
        drop_sd = joint_px * np.hypot(1 / np.maximum(score_hip, MIN_JOINT_SCORE),
                                      1 / np.maximum(score_knee, MIN_JOINT_SCORE))
        length_sd = np.sqrt(2) * joint_px
        noise = np.degrees(np.hypot(drop_sd, sine * length_sd) / (length * np.sqrt(1 - sine ** 2 + 1e-6)))
        out_of_plane = np.sqrt(np.maximum(0.0, 1 - (thigh2 / length) ** 2))
        sd = np.hypot(noise, lift.pitch_sd_deg * out_of_plane)
    angle = np.where(usable & np.isfinite(angle), angle, np.nan)
    sd = np.where(np.isfinite(angle), sd, np.nan)
    return ThighElevation(angle, sd, *_combine_sides(angle, sd, model_sd_deg))
