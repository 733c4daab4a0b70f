"""Synthetic joint tracks of squats and walking, with known geometry, for tests and demos.

Motion is generated in a 3D body frame in leg lengths (forward, lateral, up; ankle on the floor at
up = 0) and rendered orthographically (side view), with optional perspective (front view), or
orthographically from a camera at any yaw and pitch (`render_camera`). Thigh and shin are each half
a leg; knees are placed by two-link inverse kinematics, bending forward (turned out by `toe_out`,
plus an optional inward shift for knee valgus).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatpose.analysis.body import ANALYSIS_JOINTS
from squatpose.analysis.tracks import JointTracks

THIGH = SHIN = 0.5
TRUNK = 0.55
HIP_HALF_WIDTH = 0.1


@dataclass(frozen=True)
class WorldMotion:
    """Per frame, per side (left, right): hip, ankle (T, 2, 3) as (forward, lateral, up) in leg
    lengths; lean: (T,) trunk lean from vertical, rad; valgus: (T,) inward knee shift, leg lengths;
    toe_out: outward turn of the knees' bending direction, rad (knees track over turned-out toes)."""

    hip: np.ndarray
    ankle: np.ndarray
    lean: np.ndarray
    valgus: np.ndarray
    toe_out: float = 0.0

    def __add__(self, other: WorldMotion) -> WorldMotion:
        return WorldMotion(*(np.concatenate([a, b]) for a, b in
                             zip((self.hip, self.ankle, self.lean, self.valgus),
                                 (other.hip, other.ankle, other.lean, other.valgus))), self.toe_out)


def squat_phase(n_reps: int, fps: float, descent_s: float = 1.2, bottom_s: float = 0.3,
                ascent_s: float = 1.0, rest_s: float = 1.0, lead_s: float = 1.0) -> np.ndarray:
    """(T,) squat phase in [0, 1] (0 standing, 1 bottom) with cosine-shaped descents/ascents."""
    def ramp(seconds: float, rising: bool) -> np.ndarray:
        s = np.linspace(0, 1, max(2, int(round(seconds * fps))), endpoint=False)
        r = 0.5 - 0.5 * np.cos(np.pi * s)
        return r if rising else 1 - r

    rep = np.concatenate([ramp(descent_s, True), np.ones(int(round(bottom_s * fps))),
                          ramp(ascent_s, False), np.zeros(int(round(rest_s * fps)))])
    return np.concatenate([np.zeros(int(round(lead_s * fps)))] + [rep] * n_reps)


def trunk_lean_deg(phase: np.ndarray, early_change_deg: float = 0.0, bottom_deg: float = 45.0,
                   standing_deg: float = 10.0) -> np.ndarray:
    """(T,) trunk lean from vertical, degrees, for a squat following `phase`: on the way down it grows
    with the phase to `bottom_deg`; on the way up it changes by `early_change_deg` while the hips cover
    the first half of their rise (> 0: the hips rise before the chest; 0: the trunk keeps its angle),
    then returns to `standing_deg` with the phase."""
    rising = np.r_[False, np.diff(phase) < 0]
    u = 1.0 - phase  # share of the hips' rise covered (hip height is linear in the phase)
    early = bottom_deg + early_change_deg * np.sin(np.pi / 2 * np.clip(u / 0.5, 0.0, 1.0))
    late = standing_deg + (bottom_deg + early_change_deg - standing_deg) * np.sin(np.pi / 2 * phase / 0.5)**2
    up = np.where(u <= 0.5, early, late)
    return np.where(rising, up, standing_deg + (bottom_deg - standing_deg) * phase)


def squat_motion(phase: np.ndarray, bottom_hip_height: float = 0.38, stance: float = 0.15,
                 forward: float = 0.0, valgus: float = 0.0, toe_out_deg: float = 0.0,
                 lean_deg: np.ndarray | None = None) -> WorldMotion:
    """Squat following `phase` (T,): hips go down to `bottom_hip_height` and back 0.25 leg; the trunk
    leans `lean_deg` (T,) from vertical (default 10° standing to 45° at the bottom, with the phase)."""
    t = len(phase)
    sides = np.array([1.0, -1.0])  # left is +lateral
    hip = np.zeros((t, 2, 3))
    hip[..., 0] = forward - 0.25 * phase[:, None]
    hip[..., 1] = HIP_HALF_WIDTH * sides
    hip[..., 2] = (0.999 - (0.999 - bottom_hip_height) * phase)[:, None]
    ankle = np.zeros((t, 2, 3))
    ankle[..., 0] = forward
    ankle[..., 1] = stance * sides
    lean = 10 + 35 * phase if lean_deg is None else np.asarray(lean_deg, np.float64)
    return WorldMotion(hip, ankle, np.radians(lean), valgus * phase, np.radians(toe_out_deg))


def knee_raise_motion(n_raises: int, fps: float, tuck: float = 0.25, soft_knee_hip: float = 0.96
                      ) -> WorldMotion:
    """Knee raises, legs taking turns (right first): the lifted foot comes up in front to `tuck` leg lengths
    below the hip (the knee bends fully) while the standing knee softens (hips down to `soft_knee_hip`)."""
    phase = squat_phase(n_raises, fps, descent_s=0.6, bottom_s=0.3, ascent_s=0.6, rest_s=0.8)
    raise_index = np.cumsum(np.r_[False, (phase[1:] > 0) & (phase[:-1] == 0)])
    motion = squat_motion(phase, bottom_hip_height=soft_knee_hip, lean_deg=np.full(len(phase), 5.0))
    hip, ankle = motion.hip.copy(), motion.ankle.copy()
    hip[..., 0] = 0.0
    lifted = raise_index % 2  # side index: the first raise (1) lifts the right leg
    frames = np.arange(len(phase))
    top = np.stack([np.full(len(phase), 0.15), ankle[frames, lifted, 1], hip[frames, lifted, 2] - tuck], -1)
    ankle[frames, lifted] += phase[:, None] * (top - ankle[frames, lifted])
    return WorldMotion(hip, ankle, motion.lean, motion.valgus)


def single_leg_squat_motion(n_reps: int, fps: float, free_foot_height: float = 0.6) -> WorldMotion:
    """Squats on the left leg (pistol squats): the right leg is held straight in front, its foot
    `free_foot_height` leg lengths off the floor."""
    motion = squat_motion(squat_phase(n_reps, fps), bottom_hip_height=0.45)
    hip, ankle = motion.hip, motion.ankle.copy()
    drop = hip[:, 1, 2] - free_foot_height
    ankle[:, 1, 0] = hip[:, 1, 0] + np.sqrt(np.maximum((THIGH + SHIN - 1e-3) ** 2 - drop ** 2, 0.0))
    ankle[:, 1, 2] = free_foot_height
    return WorldMotion(hip, ankle, motion.lean, motion.valgus)


def walk_motion(duration_s: float, fps: float, speed: float = 1.2, forward: float = 0.0,
                step: float = 0.6) -> WorldMotion:
    """Walking forward at `speed` leg lengths/s: feet alternate stance (60 %) and swing."""
    t = np.arange(int(round(duration_s * fps))) / fps
    cycle = step / (0.6 * speed)
    hip = np.zeros((len(t), 2, 3))
    hip[..., 0] = (forward + speed * t)[:, None]
    hip[..., 1] = HIP_HALF_WIDTH * np.array([1.0, -1.0])
    hip[..., 2] = 0.92
    ankle = np.zeros_like(hip)
    for side, offset in enumerate((0.0, 0.5)):
        ph = (t / cycle + offset) % 1.0
        stance = ph < 0.6
        rel = np.where(stance, step / 2 - step * ph / 0.6, -step / 2 + step * (ph - 0.6) / 0.4)
        ankle[:, side, 0] = hip[:, side, 0] + rel
        ankle[:, side, 1] = hip[:, side, 1]
        ankle[:, side, 2] = np.where(stance, 0.0, 0.08 * np.sin(np.pi * (ph - 0.6) / 0.4))
    return WorldMotion(hip, ankle, np.full(len(t), np.radians(5)), np.zeros(len(t)))


def knees(motion: WorldMotion) -> np.ndarray:
    """(T, 2, 3) knee positions by two-link IK, bending forward (turned out by `toe_out`), shifted
    inward by `valgus`."""
    hip, ankle = motion.hip, motion.ankle
    d = np.clip(np.linalg.norm(ankle - hip, axis=-1, keepdims=True), 1e-6, THIGH + SHIN - 1e-6)
    u = (ankle - hip) / np.linalg.norm(ankle - hip, axis=-1, keepdims=True)
    along = (THIGH ** 2 - SHIN ** 2 + d ** 2) / (2 * d)
    out = np.sign(hip[..., 1:2]) * np.sin(motion.toe_out)  # left is +lateral
    bend = np.concatenate([np.full_like(out, np.cos(motion.toe_out)), out, np.zeros_like(out)], -1)
    fwd = bend - np.sum(bend * u, axis=-1, keepdims=True) * u
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    knee = hip + along * u + np.sqrt(np.maximum(THIGH ** 2 - along ** 2, 0)) * fwd
    knee[..., 1] -= np.sign(hip[..., 1]) * motion.valgus[:, None]
    return knee


def render(motion: WorldMotion, view: str = "side", fps: float = 30.0, leg_px: float = 300.0,
           origin: tuple[float, float] = (320.0, 420.0), noise_px: float = 0.0,
           far_leg_score: float = 0.9, camera_distance: float | None = None,
           camera_height: float = 1.0, seed: int = 0) -> JointTracks:
    """Project `motion` to image pixels (y down) as shoulder/hip/knee/ankle tracks.

    side: the person faces +x; the right leg is the far one (score far_leg_score). front: the
    person faces the camera (their left at image right); camera_distance (leg lengths from the
    camera to forward = 0, optional) adds perspective for walking towards the camera along
    +forward, with the camera `camera_height` leg lengths above the floor.
    """
    knee = knees(motion)
    shoulder = motion.hip.copy()
    shoulder[..., 0] += TRUNK * np.sin(motion.lean)[:, None]
    shoulder[..., 2] += TRUNK * np.cos(motion.lean)[:, None]
    shoulder[..., 1] *= 1.8
    pts = np.stack([shoulder, motion.hip, knee, motion.ankle], axis=1)  # (T, 4, 2, 3)
    scale = np.full(pts.shape[:3], leg_px)
    if view == "side":
        img = np.stack([origin[0] + pts[..., 0] * leg_px, origin[1] - pts[..., 2] * leg_px], -1)
        score = np.broadcast_to(np.array([1.0, far_leg_score]), pts.shape[:3]).copy()
    elif view == "front":
        if camera_distance is not None:
            scale = leg_px * camera_distance / (camera_distance - pts[..., 0])
        horizon = origin[1] - camera_height * leg_px
        img = np.stack([origin[0] + pts[..., 1] * scale,
                        horizon + (camera_height - pts[..., 2]) * scale], -1)
        score = np.ones(pts.shape[:3])
    else:
        raise ValueError(f"view must be 'side' or 'front', got {view!r}")
    img += np.random.default_rng(seed).normal(0.0, noise_px, img.shape)
    t = len(img)
    return JointTracks(fps, ANALYSIS_JOINTS, img.reshape(t, -1, 2), score.reshape(t, -1),
                       (int(2 * origin[0]), int(origin[1] + 60)))


def true_knee_angle(motion: WorldMotion) -> np.ndarray:
    """(T, 2) interior 3D knee angle, degrees, per side (left, right)."""
    knee = knees(motion)
    u, v = motion.hip - knee, motion.ankle - knee
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def true_thigh_angle(motion: WorldMotion) -> np.ndarray:
    """(T, 2) 3D thigh angle below the horizontal plane, degrees (90 vertical, 0 parallel)."""
    d = knees(motion) - motion.hip
    return np.degrees(np.arcsin(np.clip(-d[..., 2] / np.linalg.norm(d, axis=-1), -1.0, 1.0)))


def camera_points(motion: WorldMotion, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """(T, 4, 2, 3) shoulder, hip, knee, ankle per side in camera coordinates (x right, y down, z
    away from the camera), leg lengths, from a camera `yaw_deg` around the person (0 = in front,
    90 = at the person's right, who then faces image +x) tilted down by `pitch_deg`."""
    knee = knees(motion)
    shoulder = motion.hip.copy()
    shoulder[..., 0] += TRUNK * np.sin(motion.lean)[:, None]
    shoulder[..., 2] += TRUNK * np.cos(motion.lean)[:, None]
    shoulder[..., 1] *= 1.8
    pts = np.stack([shoulder, motion.hip, knee, motion.ankle], axis=1)
    fwd, lat, up = pts[..., 0], pts[..., 1], pts[..., 2]
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    x = lat * np.cos(yaw) + fwd * np.sin(yaw)
    z = -fwd * np.cos(yaw) + lat * np.sin(yaw)
    y = -up
    return np.stack([x, y * np.cos(pitch) - z * np.sin(pitch), z * np.cos(pitch) + y * np.sin(pitch)], -1)


def render_camera(motion: WorldMotion, yaw_deg: float, pitch_deg: float = 0.0, fps: float = 30.0,
                  leg_px: float = 300.0, origin: tuple[float, float] = (640.0, 620.0),
                  noise_px: float = 0.0, seed: int = 0) -> JointTracks:
    """Orthographic projection of `motion` from a camera at `yaw_deg` (0 = front, 90 = side with
    the person facing image +x) and `pitch_deg` (> 0 looking down), with Gaussian joint noise."""
    cam = camera_points(motion, yaw_deg, pitch_deg)
    img = np.asarray(origin) + cam[..., :2] * leg_px
    img = img + np.random.default_rng(seed).normal(0.0, noise_px, img.shape)
    t = len(img)
    return JointTracks(fps, ANALYSIS_JOINTS, img.reshape(t, -1, 2), np.ones((t, 8)),
                       (int(2 * origin[0]), int(origin[1] + 100)))


def squat_tracks(n_reps: int = 3, view: str = "side", fps: float = 30.0, noise_px: float = 0.0,
                 seed: int = 0, **phase_kw: float) -> JointTracks:
    """Convenience: `n_reps` parallel-depth squats rendered in `view`."""
    return render(squat_motion(squat_phase(n_reps, fps, **phase_kw)), view, fps,
                  noise_px=noise_px, seed=seed)


def jump_squat_motion(n_reps: int, fps: float, jump_height: float = 0.25, landing_phase: float = 0.6,
                      continuous: bool = False, lead_s: float = 1.0, rest_s: float = 1.5) -> WorldMotion:
    """Jump squats: a squat whose fast ascent ends in a flight of `jump_height` leg lengths (hips and
    ankles rise and fall on a parabola, legs straight), then a landing that bends the knees to
    `landing_phase` of a full squat and straightens again. `continuous`: each landing flows into the
    next repetition's descent (no rest, no straightening in between), as in a set of jump squats."""
    def ramp(seconds: float, a: float, b: float) -> np.ndarray:
        s = np.linspace(0, 1, max(2, int(round(seconds * fps))), endpoint=False)
        return a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * s))

    flight_s = 2 * np.sqrt(2 * jump_height * 0.9 / 9.81)  # a leg is about 0.9 m
    n_flight = max(2, int(round(flight_s * fps)))
    parabola = jump_height * 4 * np.linspace(0, 1, n_flight) * (1 - np.linspace(0, 1, n_flight))
    phase, lift = [np.zeros(int(round(lead_s * fps)))], [np.zeros(int(round(lead_s * fps)))]
    for rep in range(n_reps):
        descent = ramp(0.7, landing_phase if continuous and rep else 0.0, 1.0)
        part = [descent, np.ones(int(0.1 * fps)), ramp(0.35, 1.0, 0.0), np.zeros(n_flight)]
        last = rep == n_reps - 1
        if last or not continuous:  # land, absorb, stand up and rest
            part += [ramp(0.25, 0.0, landing_phase), ramp(0.5, landing_phase, 0.0),
                     np.zeros(int(round(rest_s * fps)))]
        else:  # land straight into the next descent (it starts from the landing's bend)
            part += [ramp(0.25, 0.0, landing_phase)]
        up = [np.zeros(len(p)) for p in part]
        up[3] = parabola
        phase += part
        lift += up
    motion = squat_motion(np.concatenate(phase))
    z = np.concatenate(lift)[:, None]
    hip, ankle = motion.hip.copy(), motion.ankle.copy()
    hip[..., 2] += z
    ankle[..., 2] += z
    return WorldMotion(hip, ankle, motion.lean, motion.valgus, motion.toe_out)


def handheld(tracks: JointTracks, pan_px_per_s: float = 60.0, shake_px: float = 6.0,
             zoom_per_s: float = 0.04, roll_deg: float = 4.0, seed: int = 0) -> JointTracks:
    """The same tracks as filmed by a hand-held camera that pans, shakes, zooms and turns: every frame's
    joints move by one similarity transform (a slow pan plus a smooth random shake, a steady zoom, a
    slowly swinging roll) about the image centre."""
    rng = np.random.default_rng(seed)
    n, fps = tracks.n_frames, tracks.fps
    t = np.arange(n) / fps
    kernel = np.hanning(int(fps) | 1)
    shake = np.stack([np.convolve(rng.normal(0, 1, n), kernel / kernel.sum(), "same") for _ in range(2)], -1)
    shake *= shake_px / max(float(shake.std()), 1e-9)
    shift = np.stack([pan_px_per_s * t, 0.3 * pan_px_per_s * np.sin(t)], -1) + shake
    scale = 1.0 + zoom_per_s * t
    roll = np.radians(roll_deg) * np.sin(2 * np.pi * t / 6.0)
    centre = np.nanmean(tracks.xy.reshape(-1, 2), axis=0)
    rel = tracks.xy - centre
    cos, sin = (np.cos(roll) * scale)[:, None], (np.sin(roll) * scale)[:, None]
    turned = np.stack([cos * rel[..., 0] - sin * rel[..., 1], sin * rel[..., 0] + cos * rel[..., 1]], -1)
    return JointTracks(fps, tracks.joint_names, turned + centre + shift[:, None], tracks.score,
                       tracks.frame_wh)


def _reps_of(amplitudes: np.ndarray, fps: float, descent_s: float, ascent_s: float, rest_s: float,
             bottom_s: float) -> np.ndarray:
    """(T,) phase of one repetition per amplitude (a set whose depth changes), with a second of standing
    before and after."""
    parts = [np.zeros(int(fps))]
    parts += [a * squat_phase(1, fps, descent_s, bottom_s, ascent_s, rest_s, lead_s=0) for a in amplitudes]
    return np.concatenate(parts + [np.zeros(int(fps))])


def counting_scenarios(fps: float = 30.0) -> list[tuple[str, JointTracks, int]]:
    """(name, tracks, true count): the ways of filming and moving that a counter must get right, each
    with 2 px of joint noise: a hand-held camera that pans, shakes, zooms and turns (side and front),
    jump squats (single, continuous, low jumps), quarter squats (knees at 110-120°), a long set that
    gets faster and shallower (36 reps), walking towards or away from the camera after the set,
    cameras at 30° and 45° to the front, looking up or down, knee raises after the set (no squats), and
    squats on one leg with the other foot held off the floor."""
    def side_and_front(name: str, motion: WorldMotion, count: int, **front_kw: float):
        return [(f"{name}, side", render(motion, "side", fps, noise_px=2.0), count),
                (f"{name}, front", render(motion, "front", fps, noise_px=2.0, **front_kw), count)]

    out: list[tuple[str, JointTracks, int]] = []
    five = squat_motion(squat_phase(5, fps))
    for seed, pan in enumerate((150.0, 250.0, 400.0)):
        kw = dict(pan_px_per_s=pan, shake_px=15.0, roll_deg=8.0, zoom_per_s=0.05 * seed, seed=seed)
        out += [(f"hand-held camera {pan:.0f} px/s, {view}",
                 handheld(render(five, view, fps, noise_px=2.0, seed=seed), **kw), 5)
                for view in ("side", "front")]
    out += side_and_front("1 jump squat", jump_squat_motion(1, fps), 1)
    out += side_and_front("4 jump squats in a row", jump_squat_motion(4, fps, continuous=True), 4)
    out += side_and_front("3 low jump squats, resting", jump_squat_motion(3, fps, jump_height=0.18,
                                                                            landing_phase=0.35), 3)
    for hip in (0.78, 0.80, 0.83):
        quarter = squat_motion(squat_phase(5, fps, descent_s=0.8, ascent_s=0.7, rest_s=0.6),
                               bottom_hip_height=hip)
        out += side_and_front(f"5 quarter squats (hips at {hip:.2f})", quarter, 5)
    tiring = squat_motion(_reps_of(np.linspace(1.0, 0.7, 36), fps, 0.7, 0.6, 0.2, 0.1))
    out += side_and_front("36 reps, faster and shallower", tiring, 36, camera_distance=4.0)
    three = squat_motion(squat_phase(3, fps))
    for way, speed in (("towards", 0.8), ("away from", -0.8)):
        walk = three + walk_motion(3.0, fps, speed=speed)
        out.append((f"3 reps, then walking {way} the camera",
                    render(walk, "front", fps, noise_px=2.0, camera_distance=5.0), 3))
    for yaw in (30, 45):
        out += [(f"camera {yaw}° off the front, pitch {pitch:+d}°",
                 render_camera(five, yaw, pitch, fps, noise_px=2.0), 5) for pitch in (-10, 10)]
    out += side_and_front("3 squats, then 3 knee raises", squat_motion(squat_phase(3, fps))
                          + knee_raise_motion(3, fps), 3)
    out += side_and_front("3 squats on one leg", single_leg_squat_motion(3, fps), 3)
    return out
