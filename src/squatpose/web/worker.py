"""What runs in a worker process: one job (video analysis or photo pose), progress written to the
job folder, the final state written to job.json. Never runs in the server's event loop.

The worker writes a job only while it owns it (ownership.Lease): its results go to a folder of its own
(`.out.<owner>`) and are moved to `out/` with the final state, both only if the server has not settled
the job since. A worker process ends with its server (lifeline.py)."""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from squatpose import atomic
from squatpose.analysis.config import AnalysisConfig
from squatpose.web import lifeline
from squatpose.web.jobs import read_json, write_json
from squatpose.web.ownership import Lease, Superseded

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25  # at most four progress writes per second
PID_FILE = "worker.pid"  # which worker process runs the job: the one that fails if that process dies
PEOPLE_WIDTH = 960  # the frame to click a person on: wide enough to tell people apart, small to send
POSE_SPAN, VIDEO_SPAN = (0.0, 0.8), (0.82, 0.97)  # shares of the progress bar: joints, annotated video
BROWSER_CODEC = "h264"  # what browsers play from an .mp4; anything else (mp4v) gets a WebM copy
_predictors: dict[tuple[str, float], object] = {}  # per worker process: (checkpoint, mtime) → Predictor
_analysis_config = AnalysisConfig()  # per worker process: the server's (`serve --config/--set`)


class Cancelled(Exception):
    """The job was deleted while it ran."""


def init_worker(threads: int, analysis_config: AnalysisConfig | None = None) -> None:
    """Process-pool initializer: end with the server; share the CPU between the workers; the analysis
    config every job of this process uses; log to stderr."""
    lifeline.die_with_parent()
    import torch

    global _analysis_config
    torch.set_num_threads(max(1, threads))
    _analysis_config = analysis_config or AnalysisConfig()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(name)s: %(message)s")


def run_tracked(job_fn: Callable[[str, str | None, str], str], job_dir: str, checkpoint: str | None,
                owner: str) -> str:
    """Note this process's id in the job folder, then run the job (unless the server settled it since it
    was queued: then nothing is written)."""
    if not Lease(Path(job_dir), owner).held():
        log.info("job %s was settled before it started: not run", Path(job_dir).name)
        return "superseded"
    (Path(job_dir) / PID_FILE).write_text(str(os.getpid()))
    return job_fn(job_dir, checkpoint, owner)


def warm_up() -> bool:
    """Import the analysis stack now, so the first job does not pay for it."""
    import squatpose.api  # noqa: F401
    import squatpose.photo  # noqa: F401

    return True


class Progress:
    """Writes progress.json (throttled); raises Cancelled when the job was deleted, Superseded when the
    server settled it since (the lease no longer holds). Each stage fills its `span` of the whole bar,
    so the bar moves on through the writing stages; a stage without a span and without frames is shown
    as indeterminate."""

    def __init__(self, folder: Path, lease: Lease) -> None:
        self.folder, self.lease = folder, lease
        self.stage_name = "starting"
        self.span: tuple[float, float] | None = None
        self._last = 0.0

    def stage(self, name: str, done: int = 0, total: int = 0, span: tuple[float, float] | None = None) -> None:
        self.stage_name, self.span = name, span
        self._write(done, total)

    def frame(self, done: int, total: int) -> None:
        """on_frame callback: done of total frames (total 0 when unknown)."""
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S or (total and done >= total):
            self._write(done, total)

    def _write(self, done: int, total: int) -> None:
        self._last = time.monotonic()
        if (self.folder / "cancel").exists():
            raise Cancelled()
        self.lease.check()
        lo, hi = self.span or (0.0, 1.0)
        fraction = lo + (hi - lo) * min(1.0, done / total) if total else (None if self.span is None else lo)
        write_json(self.folder / "progress.json",
                   {"stage": self.stage_name, "done": done, "total": total, "fraction": fraction,
                    "updated": time.time()})


def scrub(message: str, folder: Path, input_name: str, kind: str) -> str:
    """An error message without the server's paths: the upload becomes 'the uploaded video', other
    files are named relative to the job or data folder, the home folder becomes ~."""
    message = message.replace(str(folder / input_name), f"the uploaded {'photo' if kind == 'image' else 'video'}")
    for base, name in ((folder, "the job folder"), (folder.parent.parent, "the data folder")):
        message = message.replace(str(base) + os.sep, "").replace(str(base), name)  # models/x.pt, not /home/...
    home = os.path.expanduser("~")
    return message.replace(home, "~") if len(home) > 1 else message


def _predictor(checkpoint: str | None):  # noqa: ANN202 - Predictor, imported lazily
    from squatpose.pose.predictor import Predictor, default_checkpoint

    path = Path(checkpoint) if checkpoint else default_checkpoint()
    key = (str(path), path.stat().st_mtime)
    if key not in _predictors:
        _predictors.clear()  # one model per worker at a time
        _predictors[key] = Predictor.from_checkpoint(path)
    return _predictors[key]


def browser_copy(src: Path, dest: Path, progress: Progress) -> bool:
    """Re-encode an mp4 browsers may not play (OpenCV's 'mp4v') as VP8 WebM; False if not possible."""
    from squatpose.media.video_reader import VideoError, iter_frames_bgr, opened_video
    from squatpose.media.video_writer import NoEncoder, encode_video

    def frames(cap, total: int):  # noqa: ANN001, ANN202 - a capture in, BGR frames out
        progress.stage("preparing the video for the browser", 0, total, (VIDEO_SPAN[1], 1.0))
        for done, frame in enumerate(iter_frames_bgr(cap), 1):
            yield frame
            progress.frame(done, total)

    try:
        with opened_video(src, fallback_fps=30.0) as (cap, info), atomic.replacing(dest) as tmp:
            size = (info.width, info.height)
            if not encode_video(tmp, frames(cap, max(info.n_frames, 0)), info.fps, size, webm=True)[0]:
                raise VideoError(f"{src}: no frame could be read")
    except VideoError as exc:
        log.warning("cannot make a WebM copy: %s", exc)
        return False
    except NoEncoder:
        log.warning("cannot make a WebM copy of %s (no VP8 encoder here)", src)
        return False
    return True


def write_people_frame(video: Path, index: int, dest: Path, max_width: int = PEOPLE_WIDTH) -> None:
    """Frame `index` of the video (the one the people to choose from were seen in) as a JPEG at most
    `max_width` px wide; the boxes stay in the video's pixels, the page scales them."""
    import itertools

    import cv2

    from squatpose.media.video_reader import iter_frames_bgr, opened_video

    with opened_video(video, fallback_fps=30.0) as (cap, _):
        frame = next(itertools.islice(iter_frames_bgr(cap), index, None), None)
    if frame is None:
        raise ValueError(f"{video}: frame {index} could not be read again")
    if frame.shape[1] > max_width:
        size = (max_width, round(frame.shape[0] * max_width / frame.shape[1]))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ValueError(f"{video}: frame {index} could not be encoded as JPEG")
    atomic.write_bytes(dest, jpeg.tobytes())


def _run_video(folder: Path, record: dict, checkpoint: str | None, progress: Progress, out: Path) -> dict:
    from squatpose.api import analyze

    progress.stage("loading the model")
    predictor = _predictor(checkpoint)
    progress.stage("finding the joints in each frame", span=POSE_SPAN)

    def on_frame(done: int, total: int) -> None:
        progress.frame(done, total)
        if total and done >= total:
            progress.stage("measuring the squats and drawing the plots", span=(POSE_SPAN[1], VIDEO_SPAN[0]))

    def on_annotate(done: int, total: int) -> None:
        if progress.span != VIDEO_SPAN:
            progress.stage("drawing the annotated video", done, total, VIDEO_SPAN)
        progress.frame(done, total)

    analyze(folder / record["input"], out, view=record["view"], predictor=predictor, box=record.get("box"),
            config=_analysis_config, progress=False, box_hint=False, on_frame=on_frame,  # people to click, not --box
            on_annotate=on_annotate, source_name=record.get("upload_name") or None)
    summary = read_json(out / "summary.json") or {}
    people = summary.get("people") or {}
    if len(people.get("boxes") or []) >= 2:
        try:
            write_people_frame(folder / record["input"], people["frame"], out / "people.jpg")
        except (ValueError, OSError) as exc:  # the analysis stands; only the choice of person is not offered
            log.warning("job %s: no frame to choose a person on: %s", folder.name, exc)
    codec = summary.get("video_codec")
    if codec != BROWSER_CODEC and (out / "annotated.mp4").is_file():
        browser_copy(out / "annotated.mp4", out / "annotated.webm", progress)
    return {"reps": summary.get("reps"), "video_codec": codec, "view_used": (summary.get("view") or {}).get("label")}


def _run_live(folder: Path, record: dict, checkpoint: str | None, progress: Progress, out: Path) -> dict:
    """A live set's joints (kept during the set; no frames) analysed like a keypoints file."""
    from squatpose.api import analyze

    progress.stage("measuring and writing the results")
    result = analyze(keypoints=folder / record["input"], out_dir=out, view=record["view"], config=_analysis_config,
                     progress=False)
    return {"reps": result.reps, "view_used": result.view.label}


def _run_image(folder: Path, record: dict, checkpoint: str | None, progress: Progress, out: Path) -> dict:
    from squatpose.photo import predict_image

    progress.stage("finding the joints")
    info = predict_image(folder / record["input"], out, checkpoint=checkpoint,
                         min_joint_score=_analysis_config.min_joint_score)
    stem = Path(record["input"]).stem
    os.replace(out / f"{stem}_pose.jpg", out / "pose.jpg")
    os.replace(out / f"{stem}_heatmaps.png", out / "heatmaps.png")
    result = {k: info[k] for k in ("box", "box_source", "joints", "angles") if k in info}
    write_json(out / "result.json", result)
    return {}


def run_job(job_dir: str, checkpoint: str | None, owner: str) -> str:
    """Run the job in `job_dir` as its `owner`; returns its final state ('done', 'failed', 'cancelled', or
    'superseded' when the server settled it meanwhile and nothing more was written). Expected errors (bad
    video, no person, unreadable photo) become a readable message in job.json."""
    folder = Path(job_dir)
    lease = Lease(folder, owner)
    staged = folder / f".out.{owner}"  # this run's results, moved to out/ only if the lease still holds
    progress = Progress(folder, lease)
    record, extra = read_json(folder / "job.json") or {}, {}
    try:
        progress.stage("starting")
        record = lease.write(state="running", started=time.time())
        staged.mkdir(exist_ok=True)
        run = {"video": _run_video, "live": _run_live}.get(record["kind"], _run_image)
        extra = run(folder, record, checkpoint, progress, staged)
    except Cancelled:
        log.info("job %s was deleted while running", folder.name)
        return "cancelled"
    except Superseded as exc:
        shutil.rmtree(staged, ignore_errors=True)
        log.warning("%s", exc)
        return "superseded"
    except (ValueError, OSError, RuntimeError) as exc:
        state, error = "failed", scrub(str(exc).replace(staged.name, "out"), folder, record.get("input", ""),
                                       record.get("kind", ""))
        log.info("job %s failed: %s", folder.name, error)
    except Exception as exc:  # anything else is a bug: keep the message, log the traceback
        log.exception("job %s crashed", folder.name)
        state = "failed"
        error = (f"unexpected error ({type(exc).__name__}): "
                 + scrub(str(exc).replace(staged.name, "out"), folder, record.get("input", ""), ""))
    else:
        state, error = "done", None
    if state != "done":
        shutil.rmtree(staged, ignore_errors=True)
    try:
        lease.finish({**extra, "state": state, "error": error, "finished": time.time()},
                     staged if state == "done" else None, folder / "out")
    except Superseded as exc:
        log.warning("%s", exc)
        return "superseded"
    write_json(folder / "progress.json", {"stage": state, "done": 0, "total": 0, "fraction": 1.0 if state == "done" else None})
    return state
