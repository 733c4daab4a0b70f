"""Drawing: pose overlays on BGR frames (OpenCV) and report plots (matplotlib).

The only module that knows colours. Left joints/limbs are blue, right orange, others grey.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure

from squatpose import atomic
from squatpose.analysis.angles import interior_angle
from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.joints import JOINT_SETS, leg_chains

LEFT_BGR = (255, 144, 30)
RIGHT_BGR = (0, 140, 255)
CENTRE_BGR = (200, 200, 200)
TEXT_BGR = (255, 255, 255)
PANEL_BGR = (20, 20, 20)
LEFT_HEX, RIGHT_HEX, BOTH_HEX = "#1e90ff", "#ff8c00", "#222222"
DEPTH_HEX, START_HEX, BOTTOM_HEX, END_HEX = "#2ca02c", "#2ca02c", "#d62728", "#9467bd"
REP_SHADE_HEX, PARTIAL_SHADE_HEX, MOVING_SHADE_HEX = "#2ca02c", "#bbbbbb", "#ffcc00"
ABOVE_HEX, BELOW_HEX, NEUTRAL_HEX = "#ff7f0e", "#2ca02c", "#1f77b4"
KNEE_3D_HEX = "#8c564b"

DEFAULT_EDGES: tuple[tuple[str, str], ...] = JOINT_SETS["lower8"].edges


def _side_colour(name: str) -> tuple[int, int, int]:
    if name.startswith("left_"):
        return LEFT_BGR
    if name.startswith("right_"):
        return RIGHT_BGR
    return CENTRE_BGR


def _thickness(frame: np.ndarray) -> int:
    return max(2, int(round(frame.shape[0] / 240)))


def draw_skeleton(frame_bgr: np.ndarray, xy: np.ndarray, score: np.ndarray,
                  joint_names: Sequence[str], edges: Sequence[tuple[str, str]] = DEFAULT_EDGES,
                  min_score: float = MIN_JOINT_SCORE) -> np.ndarray:
    """Draw limbs and joints in place on frame_bgr (H, W, 3); xy (K, 2) pixels, score (K,).
    Joints below min_score (or NaN) and limbs touching them are skipped. Returns the frame."""
    names = list(joint_names)
    ok = (np.asarray(score) >= min_score) & np.isfinite(xy).all(axis=-1)
    thick = _thickness(frame_bgr)
    for a, b in edges:
        if a in names and b in names and ok[names.index(a)] and ok[names.index(b)]:
            pa, pb = xy[names.index(a)], xy[names.index(b)]
            colour = _side_colour(a) if _side_colour(a) == _side_colour(b) else CENTRE_BGR
            cv2.line(frame_bgr, (int(round(pa[0])), int(round(pa[1]))),
                     (int(round(pb[0])), int(round(pb[1]))), colour, thick, cv2.LINE_AA)
    for k in np.flatnonzero(ok):
        centre = (int(round(xy[k, 0])), int(round(xy[k, 1])))
        cv2.circle(frame_bgr, centre, thick + 2, _side_colour(names[k]), -1, cv2.LINE_AA)
        cv2.circle(frame_bgr, centre, thick + 2, PANEL_BGR, 1, cv2.LINE_AA)
    return frame_bgr


def draw_overlay_text(frame_bgr: np.ndarray, lines: Sequence[str],
                      origin: tuple[int, int] = (10, 10)) -> np.ndarray:
    """Draw `lines` in a dark panel with its top-left corner at origin; in place, returns frame."""
    scale = max(0.5, frame_bgr.shape[0] / 720)
    thick = max(1, int(round(scale * 2)))
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0] for line in lines]
    if not sizes:
        return frame_bgr
    line_h = max(h for _, h in sizes) + int(12 * scale)
    x0, y0 = origin
    x1 = x0 + max(w for w, _ in sizes) + int(16 * scale)
    y1 = y0 + line_h * len(lines) + int(8 * scale)
    roi = frame_bgr[y0:y1, x0:x1]
    roi[:] = (0.35 * roi + 0.65 * np.array(PANEL_BGR)).astype(frame_bgr.dtype)
    for i, line in enumerate(lines):
        y = y0 + line_h * (i + 1)
        cv2.putText(frame_bgr, line, (x0 + int(8 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    TEXT_BGR, thick, cv2.LINE_AA)
    return frame_bgr


def _label_box(text: str, scale: float, thick: int) -> tuple[int, int]:
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick + 2)
    return w, h + base


def _put_label(frame_bgr: np.ndarray, text: str, top_left: tuple[int, int], colour: tuple[int, int, int],
               scale: float, thick: int) -> None:
    """Text with a dark outline, its box's top-left corner at `top_left`."""
    _, h = _label_box(text, scale, thick)
    pos = (int(top_left[0]), int(top_left[1]) + h)
    cv2.putText(frame_bgr, text, pos, cv2.FONT_HERSHEY_SIMPLEX, scale, PANEL_BGR, thick + 2, cv2.LINE_AA)
    cv2.putText(frame_bgr, text, pos, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def _label_style(frame_shape: tuple[int, ...]) -> tuple[float, int, int]:
    scale = max(0.5, frame_shape[0] / 900)
    return scale, max(1, int(round(scale * 2))), int(12 * scale)


def knee_label_boxes(knees: dict[str, tuple[np.ndarray, np.ndarray, float]], frame_shape: tuple[int, ...]
                     ) -> list[tuple[str, str, int, int, int, int]]:
    """Where each knee's angle label goes: [(side, text, x, y, w, h)] with (x, y) the box's top-left.
    knees: {side: (knee xy, direction away from the leg (2,), angle)}. A label sits beside its knee on
    the side the knee bulges to (in front of a bent leg, outside a straight one); when two labels would
    overlap (legs side by side in a side view) the second moves below the first."""
    scale, thick, gap = _label_style(frame_shape)
    placed: list[tuple[str, str, int, int, int, int]] = []
    for side, (knee, away, angle) in sorted(knees.items()):
        if not (np.isfinite(angle) and np.isfinite(knee).all()):
            continue
        text = f"{angle:.0f} deg"  # Hershey fonts lack the degree sign
        w, h = _label_box(text, scale, thick)
        x = knee[0] + gap if away[0] >= 0 else knee[0] - gap - w
        y = knee[1] - h / 2
        for _, _, bx, by, bw, bh in placed:
            if x < bx + bw and bx < x + w and y < by + bh and by < y + h:
                y = by + bh + gap / 2
        x = float(np.clip(x, 0, max(0, frame_shape[1] - w)))
        y = float(np.clip(y, 0, max(0, frame_shape[0] - h)))
        placed.append((side, text, int(x), int(y), w, h))
    return placed


def draw_knee_labels(frame_bgr: np.ndarray, knees: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """Write each knee's angle where knee_label_boxes puts it, in the side's colour; in place."""
    scale, thick, _ = _label_style(frame_bgr.shape)
    for side, text, x, y, _, _ in knee_label_boxes(knees, frame_bgr.shape):
        _put_label(frame_bgr, text, (x, y), LEFT_BGR if side == "left" else RIGHT_BGR, scale, thick)
    return frame_bgr


def knee_label_anchors(xy: np.ndarray, score: np.ndarray, names: Sequence[str],
                min_score: float) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """{side: (knee xy, direction away from the legs, interior knee angle)} for the sides whose hip,
    knee and ankle are confident. Away: outwards, from the other knee, where the legs stand apart in
    the image (front, back); where they overlap (side view), the way the knee bulges from its
    hip-ankle line (forwards in a squat)."""
    chains = {side: idx for side, idx in leg_chains(names).items() if (score[idx] >= min_score).all()}
    knees = {side: xy[idx[1]] for side, idx in chains.items()}
    out = {}
    for side, idx in chains.items():
        hip, knee, ankle = xy[idx]
        other = [k for s, k in knees.items() if s != side]
        leg = np.linalg.norm(ankle - hip)
        if other and abs(knee[0] - other[0][0]) >= 0.15 * leg:
            away = np.array([np.sign(knee[0] - other[0][0]), 0.0])
        else:
            away = knee - (hip + ankle) / 2
            if np.linalg.norm(away) < 0.05 * leg:
                away = np.array([1.0 if side == "left" else -1.0, 0.0])
        out[side] = (knee, away, float(interior_angle(hip, knee, ankle)))
    return out


def draw_pose_with_angles(image_bgr: np.ndarray, xy: np.ndarray, score: np.ndarray,
                          joint_names: Sequence[str], min_score: float = MIN_JOINT_SCORE) -> np.ndarray:
    """Copy of image_bgr with the skeleton and interior knee angles (180 = straight) drawn."""
    out = image_bgr.copy()
    draw_skeleton(out, xy, score, joint_names, DEFAULT_EDGES, min_score)
    return draw_knee_labels(out, knee_label_anchors(xy, score, joint_names, min_score))


def annotate_frame(frame_bgr: np.ndarray, xy: np.ndarray, score: np.ndarray,
                   joint_names: Sequence[str], lines: Sequence[str], min_score: float = MIN_JOINT_SCORE,
                   knee_angles: bool = True) -> np.ndarray:
    """Skeleton, knee angles (unless knee_angles=False, e.g. front views where the 2D angle
    misleads) and a text panel (rep counter, phase...) drawn in place."""
    draw_skeleton(frame_bgr, xy, score, joint_names, DEFAULT_EDGES, min_score)
    if knee_angles:
        draw_knee_labels(frame_bgr, knee_label_anchors(xy, score, joint_names, min_score))
    return draw_overlay_text(frame_bgr, lines)


SHEET_TILE_HEIGHT = 320


def heatmap_sheet(image_rgb: np.ndarray, heatmaps: np.ndarray, matrix: np.ndarray,
                  joint_names: Sequence[str], path: str | os.PathLike, stride: int = 4) -> Path:
    """Write a PNG grid: the model's input crop, then each joint's heatmap (K, h, w) blended over
    it with its name and peak value. matrix: (2, 3) image -> crop-input affine; the crop is
    (w * stride, h * stride) pixels (the codec's stride, 4 by default)."""
    k, h, w = heatmaps.shape
    size = (w * stride, h * stride)
    zoom = max(1.0, SHEET_TILE_HEIGHT / size[1])  # small model inputs would make an unreadable sheet
    tile_wh = (round(size[0] * zoom), round(size[1] * zoom))
    crop = cv2.cvtColor(cv2.warpAffine(image_rgb, np.asarray(matrix, np.float64), size,
                                       flags=cv2.INTER_LINEAR), cv2.COLOR_RGB2BGR)
    crop = cv2.resize(crop, tile_wh, interpolation=cv2.INTER_LINEAR)
    tiles = [draw_overlay_text(crop.copy(), ["input"], (2, 2))]
    for name, hm in zip(joint_names, heatmaps):
        heat = cv2.resize(np.clip(hm, 0, 1).astype(np.float32), tile_wh, interpolation=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
        # Opacity follows the heat, so the picture stays visible where the model sees nothing.
        alpha = (0.8 * heat / max(float(heat.max()), 1e-3))[..., None]
        tile = (crop.astype(np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)
        tiles.append(draw_overlay_text(tile, [f"{name} {float(hm.max()):.2f}"], (2, 2)))
    cols = math.ceil(math.sqrt(k + 1))
    tiles += [np.zeros_like(crop)] * (cols * math.ceil((k + 1) / cols) - len(tiles))
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    ok, png = cv2.imencode(".png", np.vstack(rows))
    if not ok:
        raise OSError(f"{path}: cannot encode the heatmap sheet")
    return atomic.write_bytes(path, png.tobytes())


PLOT_DPI = 150  # report plots: 4.6 in wide = 690 px, sharp at 640 px on a desktop, readable shrunk to a phone


def _shade_reps(ax, spans: Sequence[tuple[float, float]], colour: str, label: str) -> None:  # type: ignore[no-untyped-def]
    for i, (a, b) in enumerate(spans):
        ax.axvspan(a, b, color=colour, alpha=0.12, lw=0, label=label if i == 0 else None)


def _legend_below(ax, columns: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Legend under the axes, so the plot keeps its width on a narrow (phone) screen."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=columns, fontsize=8, frameon=False)


def timeline_figure(times: np.ndarray, knee_lr: np.ndarray, knee: np.ndarray, depth: np.ndarray,
                    markers: dict[str, np.ndarray], rep_spans: Sequence[tuple[float, float]],
                    partial_spans: Sequence[tuple[float, float]], moving: np.ndarray,
                    side_view: bool, knee_3d: np.ndarray | None = None) -> Figure:
    """Knee angle (T,) per side (T, 2) and depth (T,) over time, with repetition markers
    {'start'|'bottom'|'end': times (R,)} and shaded repetitions / walking; knee_3d: (T,) the
    one-camera 3D knee angle, drawn dashed when given. Sized to stay readable on a phone."""
    fig = Figure(figsize=(4.6, 6.8))
    ax_k, ax_d = fig.subplots(2, 1, sharex=True)
    if side_view:
        ax_k.plot(times, knee_lr[:, 0], color=LEFT_HEX, lw=1, alpha=0.7, label="left")
        ax_k.plot(times, knee_lr[:, 1], color=RIGHT_HEX, lw=1, alpha=0.7, label="right")
        ax_k.plot(times, knee, color=BOTH_HEX, lw=1.8, label="both")
    if knee_3d is not None and np.isfinite(knee_3d).any():
        ax_k.plot(times, knee_3d, color=KNEE_3D_HEX, lw=1.8, ls="--", label="3D estimate")
    ax_k.set_title("knee angle (180° = straight)" if side_view else
                   "knee angle, 3D estimate (180° = straight)", fontsize=10)
    ax_k.set_ylabel("degrees")
    ax_d.plot(times, depth, color=DEPTH_HEX, lw=1.8, label="how far down")
    for name, colour, marker in (("start", START_HEX, "^"), ("bottom", BOTTOM_HEX, "v"),
                                 ("end", END_HEX, "s")):
        t = markers.get(name, np.array([]))
        y = np.interp(t, times, np.nan_to_num(depth)) if len(t) else t
        ax_d.scatter(t, y, color=colour, marker=marker, zorder=3, label=name)
    for ax in (ax_k, ax_d):
        _shade_reps(ax, rep_spans, REP_SHADE_HEX, "repetition")
        _shade_reps(ax, partial_spans, PARTIAL_SHADE_HEX, "unfinished")
        if moving.any():
            ax.fill_between(times, 0, 1, where=moving, transform=ax.get_xaxis_transform(),
                            color=MOVING_SHADE_HEX, alpha=0.2, lw=0, label="feet moving")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    ax_d.set_title("how far down: hip-to-ankle distance shortened", fontsize=10)
    ax_d.set_ylabel("share of leg length\n(about 0.5 = thighs parallel)", fontsize=9)
    ax_d.set_xlabel("time (s)")
    for ax in (ax_k, ax_d):
        if ax.get_legend_handles_labels()[0]:
            _legend_below(ax, 3)
    fig.tight_layout(h_pad=2.5)
    return fig


VERDICT_HEX = {"below": BELOW_HEX, "parallel": NEUTRAL_HEX, "above": ABOVE_HEX}
MAX_LABELLED_BARS = 30  # per-repetition bars with their names and values; beyond, a numbered axis


def depth_bars_figure(numbers: Sequence[int], angles: Sequence[float | None], sds: Sequence[float | None],
                      verdicts: Sequence[str | None]) -> Figure:
    """Per repetition: the thigh's angle to the horizontal at the lowest point with its ± one sd,
    coloured by verdict (below, about, above parallel), the parallel line drawn; repetitions without
    a value are marked 'not measured'. Sized to stay readable on a phone; a long set gets a numbered
    axis and no text on each bar."""
    fig = Figure(figsize=(4.6, 3.6))
    ax = fig.subplots()
    few = len(numbers) <= MAX_LABELLED_BARS
    labels = [f"rep {n}" for n in numbers] if few else [str(n) for n in numbers]
    values = np.array([np.nan if a is None else a for a in angles], dtype=float)
    errors = np.array([0.0 if s is None else s for s in sds], dtype=float)
    colours = [VERDICT_HEX.get(v, "#cccccc") for v in verdicts]
    bars = ax.bar(labels, np.nan_to_num(values), yerr=np.where(np.isfinite(values), errors, 0.0),
                  color=colours, capsize=4, error_kw={"lw": 1.2, "ecolor": BOTH_HEX})
    texts = ["not\nmeasured" if not np.isfinite(v) else
             "about\nparallel" if d == "parallel" else f"{abs(v):.0f}° {'below' if v < 0 else 'above'}"
             for v, d in zip(values, verdicts)]
    for bar, value, err, text in zip(bars, values, errors, texts if few else []):  # beyond the error bar
        end = 0.0 if not np.isfinite(value) else value + np.copysign(err, value)
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, end), xytext=(0, 4 if end >= 0 else -4),
                    textcoords="offset points", ha="center", va="bottom" if end >= 0 else "top", fontsize=8)
    finite = values[np.isfinite(values)]
    reach = np.abs(finite) + errors[np.isfinite(values)] + 9 if finite.size else np.array([20.0])
    ax.set_ylim(-max(20.0, float(reach.max())), max(20.0, float(reach.max())))
    ax.axhline(0, color=BOTH_HEX, lw=1.5, ls="--")
    ax.text(1.0, 0, " parallel", transform=ax.get_yaxis_transform(), va="center", fontsize=9)
    ax.set_ylabel("thigh angle at the bottom (°)\n+ above parallel, − below", fontsize=9)
    ax.set_title("depth of each repetition (± its uncertainty)", fontsize=10)
    ax.tick_params(labelsize=9)
    if not few:
        ax.set_xlabel("repetition")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def bottom_3d_figure(poses: Sequence[tuple[str, np.ndarray]], max_cols: int = 4, total: int | None = None
                     ) -> Figure:
    """3D stick figures, one panel per (title, points (3, 2, 3)): hip, knee, ankle per side
    (left, right) in camera coordinates (x right, y down, z away from the camera), drawn with
    up as up, the camera in front and equal scales on all axes. NaN sides are left out. `total`: how
    many repetitions there are when `poses` shows only some of them (said in the title)."""
    cols = max(1, min(max_cols, len(poses)))
    rows = math.ceil(len(poses) / cols)
    fig = Figure(figsize=(3.2 * cols, 3.4 * rows))
    for i, (title, pts) in enumerate(poses):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        centre = np.nanmean(pts[0], axis=0)  # mid-hip
        xyz = (pts - centre)[..., [0, 2, 1]] * np.array([1.0, 1.0, -1.0])  # x, depth, up
        for side, colour in ((0, LEFT_HEX), (1, RIGHT_HEX)):
            leg = xyz[:, side]
            if np.isfinite(leg).all():
                ax.plot(leg[:, 0], leg[:, 1], leg[:, 2], "-o", color=colour, lw=2.5, ms=4)
        if np.isfinite(xyz[0]).all():
            ax.plot(xyz[0, :, 0], xyz[0, :, 1], xyz[0, :, 2], "-", color=BOTH_HEX, lw=1.5)
        half = max(float(np.nanmax(np.abs(xyz))), 1.0)
        for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setter(-half, half)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=12, azim=-25)  # mostly from the side, where the knee bend shows
        ax.set_xlabel("x (px)", fontsize=7)
        ax.set_ylabel("depth (px, away)", fontsize=7)
        ax.set_zlabel("up (px)", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(title, fontsize=9)
    shown = f"; {len(poses)} of {total} repetitions" if total and total > len(poses) else ""
    fig.suptitle(f"legs at the bottom, 3D from one camera (left blue, right orange){shown}", fontsize=10)
    fig.tight_layout()
    return fig
