"""The live engine (analysis/online.py) on synthetic squat tracks: its events, the same repetitions as
`analyze_tracks` on the same frames, frames that come unevenly, and constant memory over an endless stream."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.penn_action import load_penn_action
from helpers.synthetic_squats import counting_scenarios, render, squat_phase, squat_tracks, walk_motion
from squatpose.analysis import analyze_tracks
from squatpose.analysis.online import LiveEvent, OnlineAnalyzer
from squatpose.analysis.tracks import JointTracks

FPS = 30.0
PENN = Path(__file__).resolve().parents[1] / "../shared/data/penn_action/squat_train.json"


def feed(tracks: JointTracks, times: np.ndarray | None = None,
         **kwargs) -> tuple[OnlineAnalyzer, list[LiveEvent]]:
    """Every frame of `tracks` into a fresh engine (at `times`, default frame / fps), then finish()."""
    engine = OnlineAnalyzer(tracks.joint_names, **kwargs)
    times = tracks.times if times is None else times
    events = [e for t, xy,
              score in zip(times, tracks.xy, tracks.score) for e in engine.push(float(t), xy, score)]
    return engine, events + engine.finish()


def kinds(events: list[LiveEvent]) -> list[str]:
    return [e.event for e in events]


def test_three_squats_give_the_events_in_order() -> None:
    tracks = squat_tracks(3, "side", noise_px=2.0)
    engine, events = feed(tracks)
    said = [k for k in kinds(events) if k != "bottom"]
    assert said == ["person_found"] + ["rep_started", "rep_completed"] * 3 + ["summary"]
    done = [e for e in events if e.event == "rep_completed"]
    assert [e.data["rep"] for e in done] == [1, 2, 3]
    for e in done:   # parallel-depth squats: thighs horizontal at the bottom (synthetic_squats)
        assert e.data["depth"] == pytest.approx(0.5, abs=0.08) and e.data["measured_by"] == "thigh angle"
        assert abs(e.data["thigh_angle"]) < 8 and e.data["descent_s"] == pytest.approx(1.2, abs=0.35)
        assert e.data["ascent_s"] == pytest.approx(1.0, abs=0.35)
    # a repetition is announced once it has ended (and min_phase_s more, for a glitch to merge)
    phase = squat_phase(3, FPS)
    ends = [i for i in range(1, len(phase)) if phase[i] == 0 and phase[i - 1] > 0]
    for e, end in zip(done, ends):
        assert end / FPS - 0.4 < e.t < end / FPS + 0.6
    summary = events[-1]
    assert summary.event == "summary" and summary.data["reps"] == 3
    assert summary.data["frames"] == tracks.n_frames
    assert engine.state.reps == 3 and engine.state.phase == "standing"


@pytest.mark.parametrize("view, noise, seed", [("side", 2.0, 0), ("front", 3.0, 1), ("side", 6.0, 2)])
def test_same_repetitions_as_the_file_analysis(view, noise, seed) -> None:
    tracks = squat_tracks(4, view, noise_px=noise, seed=seed)
    file = analyze_tracks(tracks)
    _, events = feed(tracks, frame_height=tracks.frame_wh[1] if tracks.frame_wh else None)
    done = [e for e in events if e.event == "rep_completed"]
    assert len(done) == file.reps == 4
    # the same repetitions: the file path moves its boundaries after the fact, the bottoms stay
    assert [e.data["depth"] for e in done] == [round(r.depth, 3) for r in file.repetitions]


def test_same_counts_as_the_file_analysis_on_the_counting_scenarios() -> None:
    """Hand-held camera, jumps, quarter squats (held until they make a set), long sets, oblique views."""
    for name, tracks, count in counting_scenarios(FPS)[::3]:
        engine, _ = feed(tracks)
        assert engine.summary()["reps"] == analyze_tracks(tracks).reps == count, name


@pytest.mark.skipif(not PENN.exists(), reason=f"Penn Action tracks not found at {PENN}")
def test_same_counts_as_the_file_analysis_on_penn_action() -> None:
    clips = load_penn_action(PENN)[::6]   # 19 clips of the 114, every view
    for clip in clips:
        tracks = clip.tracks(occluded_score=0.2)
        engine, _ = feed(tracks)
        assert engine.summary()["reps"] == analyze_tracks(tracks).reps == 1, clip.clip


def test_frames_that_come_unevenly_still_count() -> None:
    """A camera that drops frames: the engine uses each frame's own time."""
    tracks = squat_tracks(3, "side", noise_px=2.0)
    rng = np.random.default_rng(3)
    keep = np.sort(rng.choice(tracks.n_frames, size=tracks.n_frames // 2, replace=False))  # half, at random
    thinned = JointTracks(FPS, tracks.joint_names, tracks.xy[keep], tracks.score[keep])
    engine, events = feed(thinned, times=keep / FPS)
    assert engine.summary()["reps"] == 3
    done = [e for e in events if e.event == "rep_completed"]
    assert all(e.data["descent_s"] == pytest.approx(1.2, abs=0.4) for e in done)


def test_person_lost_and_found_again() -> None:
    tracks = squat_tracks(2, "side")
    engine = OnlineAnalyzer(tracks.joint_names)
    events = [e for i in range(60) for e in engine.push(i / FPS, tracks.xy[i], tracks.score[i])]
    events += [e for i in range(60, 120) for e in engine.push(i / FPS, None, None)]   # nobody for two seconds
    events += [e for i in range(120, 150) for e in engine.push(i / FPS, tracks.xy[i], tracks.score[i])]
    presence = [e for e in events if e.event.startswith("person_")]
    assert kinds(presence) == ["person_found", "person_lost", "person_found"]
    lost = presence[1]
    assert lost.t == pytest.approx(60 / FPS + 1.0, abs=0.05)
    assert "hips, knees and feet" in lost.data["message"]


def test_walking_in_and_out_counts_nothing() -> None:
    walk_in = walk_motion(3.0, FPS, speed=1.0, forward=-6.0)
    walk_out = walk_motion(3.0, FPS, speed=1.0, forward=float(walk_in.hip[-1, 0, 0]))
    engine, events = feed(render(walk_in + walk_out, "side", FPS, noise_px=2.0))
    assert engine.summary()["reps"] == 0 and "rep_completed" not in kinds(events)


def test_bad_input_is_refused_clearly() -> None:
    tracks = squat_tracks(1, "side")
    engine = OnlineAnalyzer(tracks.joint_names)
    engine.push(0.0, tracks.xy[0], tracks.score[0])
    with pytest.raises(ValueError, match="frame times must increase"):
        engine.push(0.0, tracks.xy[1], tracks.score[1])
    with pytest.raises(ValueError, match="frame times must increase"):
        engine.push(float("nan"), tracks.xy[1], tracks.score[1])
    with pytest.raises(ValueError, match="view must be one of"):
        OnlineAnalyzer(tracks.joint_names, view="top")
    nan_scores = np.full(tracks.n_joints, np.nan)
    assert engine.push(1.0, tracks.xy[1], nan_scores) == []   # NaN scores: nobody there, no crash


def deep_size(root: object) -> int:
    """Bytes held by `root` and everything it refers to (numpy arrays by their buffers), each object once;
    classes, modules and functions are shared code, not state, and are not followed."""
    import gc
    import sys
    import types

    seen, stack, total = set(), [root], 0
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += obj.nbytes if isinstance(obj, np.ndarray) and obj.base is None else sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def test_memory_stays_constant_over_100000_frames(monkeypatch) -> None:
    """An endless stream: squats and spells with nobody in view (55 min at 30 fps, 800 repetitions); once
    its windows are full and it remembers as many repetitions' records as it keeps (MAX_REPS, 100 here),
    the engine holds no more after 100 000 frames than after 20 000."""
    from squatpose.analysis import online

    monkeypatch.setattr(online, "MAX_REPS", 100)
    squats = squat_tracks(6, "side", noise_px=2.0)
    xy = np.concatenate([squats.xy, np.full_like(squats.xy[:90], np.nan)])
    score = np.concatenate([squats.score, np.zeros_like(squats.score[:90])])
    engine = OnlineAnalyzer(squats.joint_names)
    sizes, frames = {}, 100_000
    for i in range(frames):
        engine.push(i / FPS, xy[i % len(xy)], score[i % len(xy)])
        if i + 1 in (20_000, frames):
            sizes[i + 1] = deep_size(engine)
    # 133 cycles, and two reps into the next
    assert engine.summary()["reps"] == 6 * (frames // len(xy)) + 2 == 800
    assert len(engine.counted) == 100
    assert abs(sizes[frames] - sizes[20_000]) < 2_000, sizes   # bytes
