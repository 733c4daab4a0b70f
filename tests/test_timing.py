"""Frame times from the container: resampling variable-rate tracks, and a real VFR clip made with ffmpeg."""
import subprocess

import numpy as np
import pytest
from conftest import FakeDetector, FakePredictor, Person, render_scene, write_video

from squatpose.media.video_reader import iter_frames_timed, open_video
from squatpose.video.extract import extract_tracks
from squatpose.video.timing import is_variable, resample_uniform

# 30 frames at 30 fps, then 30 at 10 fps: 3.9 s in all, while 60 frames ÷ the average rate looks like 3.8.
VFR_TIMES = np.concatenate([np.arange(30) / 30, 1.0 + np.arange(30) / 10])


def test_constant_and_variable_rates():
    assert not is_variable(np.arange(50) / 30 + np.random.default_rng(0).normal(0, 1e-3, 50))
    assert is_variable(VFR_TIMES)
    assert not is_variable(np.array([0.0, 0.0, 0.1]))   # no usable times: keep index ÷ fps


def test_resampling_puts_positions_at_even_times():
    x = 40 + 50 * VFR_TIMES                              # a joint moving at 50 px/s
    xy = np.stack([x, np.zeros(60)], axis=1)[:, None, :]
    score = np.ones((60, 1))
    score[45] = 0.0                                       # one missing frame stays missing around it
    xy[45] = np.nan
    fps, out_xy, out_score = resample_uniform(VFR_TIMES, xy, score)
    assert fps == pytest.approx(59 / 3.9)
    grid = np.arange(60) / fps
    valid = out_score[:, 0] > 0
    assert out_xy[valid, 0, 0] == pytest.approx(40 + 50 * grid[valid], abs=1e-6)
    near = np.abs(grid - VFR_TIMES[45]) < 0.1
    assert not valid[near].any() and valid.sum() >= 57


def make_vfr_clip(tmp_path, frames):
    """Re-time an OpenCV-written clip to VFR_TIMES with the ffmpeg that imageio-ffmpeg ships."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    cfr = write_video(tmp_path / "cfr.mp4", frames, 30.0)
    out = tmp_path / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-i", str(cfr),
                    "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB'", "-fps_mode", "vfr",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def test_vfr_clip_times_come_from_the_container(tmp_path):
    boxes = np.stack([40 + 50 * VFR_TIMES, np.full(60, 40.0), np.full(60, 40.0), np.full(60, 150.0)], axis=1)
    clip = make_vfr_clip(tmp_path, render_scene([Person("red", boxes, np.full(60, 0.8))]))
    cap, _ = open_video(clip)
    times = np.array([t for _, t in iter_frames_timed(cap)])
    assert times == pytest.approx(VFR_TIMES, abs=2e-3)
    found = extract_tracks(clip, FakePredictor(), detector=FakeDetector(), progress=False)
    assert found.tracks.fps == pytest.approx(59 / 3.9, rel=1e-3)
    grid = np.arange(60) / found.tracks.fps
    hips = found.tracks.xy[:, :2, 0].mean(axis=1)       # the fake puts the hips at x + 0.5 w
    assert hips == pytest.approx(40 + 50 * grid + 20, abs=2.5)
