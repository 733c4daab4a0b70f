"""One exerciser frame to frame with one pose crop per frame: a learned person detector finds them, the
previous frame's joints give the next frame's whole-body box, and the detector looks again every few
seconds and whenever the pose becomes unsure (a deep squat, an occlusion). Bystanders cost nothing: they
are only counted in the detector's rounds. State lives per track id."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from squatpose.analysis.config import MIN_JOINT_SCORE
from squatpose.pose.predictor import Predictor
from squatpose.video.detector import Detection, PersonDetector, box_iou
from squatpose.video.person_box import person_box_from_legs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    """Scores are calibrated probabilities that a joint lies within 0.1 of the body size of the truth
    (docs/analysis.md, "Joint scores"); the defaults stand for the first built-in model's raw thresholds
    0.2 / 0.35 / 0.3, so that it followed people as before: joint_score is 0.3 mapped through its calibration;
    min_score and start_score compare a mean of calibrated scores, which is below the calibrated raw mean
    (the map is concave), so they are the values whose decisions best agree with the raw ones on the
    calibration crops of PARSE (disagreeing on 9 and 41 of 1830 crops, against 14 and 92 for the mapped
    0.34 and 0.65)."""

    min_score: float = 0.32        # mean joint score to accept a pose as "the person is still here"
    start_score: float = 0.59      # ... and to confirm a box refined from joints (photos)
    box_follow: float = 0.7        # share of the hips' move the box follows each frame (damps jitter)
    joint_score: float = MIN_JOINT_SCORE  # hips above this move the next frame's box (analysis: min_joint_score)
    max_missing_s: float = 1.5     # a followed person unsure this long is lost (a deep squat hides joints ~1 s)
    detect_s: float = 2.0          # while following someone confidently, run the detector this often
    unsure_detect_s: float = 0.25  # ... and this often while nobody is followed or the pose is unsure
    match_iou: float = 0.3         # a detection overlapping the followed box this much is that person
    real_share: float = 0.25       # another person counts when seen in this share of the detector's rounds


@dataclass
class Track:
    """One person's joints over time; frames where the person was not followed are absent."""

    track_id: int
    box: np.ndarray
    xy: dict[int, np.ndarray] = field(default_factory=dict)
    score: dict[int, np.ndarray] = field(default_factory=dict)
    misses: int = 0
    active: bool = True
    first_box: np.ndarray = field(init=False)   # where the person was found: to name them to the user

    def __post_init__(self) -> None:
        self.first_box = self.box.copy()


@dataclass(frozen=True)
class Crowd:
    """A detection round that saw several people: whom to offer the user to choose from."""

    frame: int
    frame_wh: tuple[int, int]
    boxes: list[np.ndarray]          # whole-body [x,y,w,h] image px, best first
    track_id: int | None             # the track followed in that frame (after the round)
    track_box: np.ndarray | None     # ... and its crop box in that frame


def track_rank(track: Track, hips: list[int]) -> float:
    """Frames seen × mean joint score × (0.5 + vertical hip travel relative to the box height, capped at 1)
    × box height: the exerciser moves up and down and is usually the largest person in view."""
    frames = sorted(track.xy)
    hips_y = np.array([track.xy[t][hips, 1].mean() for t in frames])
    travel = (np.percentile(hips_y, 95) - np.percentile(hips_y, 5)) / max(track.box[3], 1.0)
    mean_score = float(np.mean([track.score[t].mean() for t in frames]))
    return len(frames) * mean_score * (0.5 + min(travel * 2.0, 1.0)) * track.box[3]


def confirm_person(predictor: Predictor, image_rgb: np.ndarray, box: np.ndarray, config: TrackerConfig
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Run the model on a candidate box, then on the box of its joints → (box, xy, score), or None."""
    pose = predictor.predict(image_rgb, box[None])
    for _ in range(2):  # the joints' box is tighter than a detector's: two rounds settle it
        refined = person_box_from_legs(pose.xy[0], pose.score[0], predictor.joint_set.names, config.joint_score)
        if refined is None:
            break
        again = predictor.predict(image_rgb, refined[None])
        if again.score.mean() < pose.score.mean():
            break
        pose, box = again, refined
    if pose.score[0].mean() < config.start_score:
        return None
    return box, pose.xy[0], pose.score[0]


def main_detection(found: list[Detection], near: np.ndarray | None) -> Detection:
    """The person to follow: the one overlapping `near` (the last followed box) most, else the biggest
    confident one (the exerciser is usually the main subject of the clip)."""
    if near is not None:
        overlapping = max(found, key=lambda d: box_iou(d.box, near))
        if box_iou(overlapping.box, near) > 0:
            return overlapping
    return max(found, key=lambda d: d.box[3] * d.score)


class PersonTracker:
    """Follows one person; `step()` once per frame in order. `timings` splits the seconds spent."""

    def __init__(self, predictor: Predictor, detector: PersonDetector, config: TrackerConfig | None = None,
                 user_box: np.ndarray | None = None, fps: float = 30.0) -> None:
        self.predictor, self.detector = predictor, detector
        cfg = config or TrackerConfig()
        self.config = cfg
        self.max_misses = max(3, round(cfg.max_missing_s * fps))
        self.detect_every = max(1, round(cfg.detect_s * fps))
        self.unsure_every = max(1, round(cfg.unsure_detect_s * fps))
        self.hips = [predictor.joint_set.index(n) for n in ("left_hip", "right_hip")]
        self.tracks: dict[int, Track] = {}
        self._next_id = 0   # track ids are never reused (forget_before drops old tracks)
        self.followed: Track | None = None
        self.rounds: list[int] = []     # people found in each detection round
        self.crowd: Crowd | None = None   # the first round that found the most people (two or more)
        self.timings = {"detection": 0.0, "pose": 0.0}
        self._last_detect = -10**9
        self.user_track: Track | None = None   # started from the user's box, until a detection sizes it
        if user_box is not None:
            self.followed = self.user_track = self._new_track(np.asarray(user_box, np.float64))

    def _new_track(self, box: np.ndarray) -> Track:
        track = Track(self._next_id, np.asarray(box, np.float64))
        self._next_id += 1
        self.tracks[track.track_id] = track
        return track

    def step(self, frame_rgb: np.ndarray, t: int) -> None:
        unsure = self.followed is None or self.followed.misses > 0
        if t - self._last_detect >= (self.unsure_every if unsure else self.detect_every):
            self._last_detect = t
            self._detect(frame_rgb, t)
        if self.followed is not None:
            start = time.perf_counter()
            pose = self.predictor.predict(frame_rgb, self.followed.box[None])
            self.timings["pose"] += time.perf_counter() - start
            self._update(self.followed, t, pose.xy[0], pose.score[0])

    def _detect(self, frame_rgb: np.ndarray, t: int) -> None:
        start = time.perf_counter()
        found = self.detector(frame_rgb)
        self.timings["detection"] += time.perf_counter() - start
        self.rounds.append(len(found))
        if not found:
            return
        self._choose(found, t)
        if len(found) >= 2 and (self.crowd is None or len(found) > len(self.crowd.boxes)):
            followed = self.followed
            self.crowd = Crowd(t, (frame_rgb.shape[1], frame_rgb.shape[0]), [d.box.copy() for d in found],
                               None if followed is None else followed.track_id,
                               None if followed is None else followed.box.copy())

    def _choose(self, found: list[Detection], t: int) -> None:
        """Start following someone, or re-anchor an unsure followed person, from a detection round."""
        track = self.followed
        if track is not None and track is self.user_track:
            self._size_user_box(found, track)
        if track is None:   # start following: the same person again keeps their id
            lost = max((tr for tr in self.tracks.values() if tr.xy), key=lambda tr: max(tr.xy), default=None)
            chosen = main_detection(found, None if lost is None else lost.box)
            if lost is not None and box_iou(chosen.box, lost.box) > self.config.match_iou:
                lost.active, lost.misses, lost.box = True, 0, chosen.pose_box()
                self.followed = lost
            else:
                self.followed = self._new_track(chosen.pose_box())
            log.info("following track %d from frame %d", self.followed.track_id, t)
        elif track.misses > 0:  # unsure: re-anchor on the detector's whole-body box of the same person
            best = max(found, key=lambda d: box_iou(d.pose_box(), track.box))
            if box_iou(best.pose_box(), track.box) > self.config.match_iou:
                track.box = best.pose_box()

    def _size_user_box(self, found: list[Detection], track: Track) -> None:
        """The user's box says whom to follow; the detection of that person gives the crop the model is
        surest with (a box drawn or clicked around the body is tighter than that)."""
        def overlap(d: Detection) -> float:
            return max(box_iou(d.box, track.box), box_iou(d.pose_box(), track.box))

        best = max(found, key=overlap)
        if overlap(best) > self.config.match_iou:
            track.box, self.user_track = best.pose_box(), None

    def _update(self, track: Track, t: int, xy: np.ndarray, score: np.ndarray) -> None:
        # Unsure poses are kept too (their scores let the analysis gate them); only sure ones move the box.
        track.xy[t], track.score[t] = xy, score
        if score.mean() >= self.config.min_score:
            track.misses = 0
            hips = [i for i in self.hips if score[i] >= self.config.joint_score]
            if hips:  # the box keeps its size (set by the detector) and follows the hips it is centred on
                shift = xy[hips].mean(axis=0) - (track.box[:2] + track.box[2:] / 2)
                track.box = track.box + np.concatenate([self.config.box_follow * shift, [0.0, 0.0]])
            return
        track.misses += 1
        if track.misses > self.max_misses:
            track.active = False
            self.followed = None
            for lost in range(t - track.misses + 1, t + 1):  # the unsure tail was not this person
                track.xy.pop(lost, None)
                track.score.pop(lost, None)
            log.info("track %d lost at frame %d", track.track_id, t)

    def forget_before(self, t: int) -> None:
        """Drop what an endless stream does not need: poses of frames before `t` (the followed person's
        last `max_misses` frames stay, which a loss takes back), tracks left with none, detection rounds
        but the last hundred. Keeps a live tracker's memory constant."""
        keep_from = t - self.max_misses - 1
        for track_id, track in list(self.tracks.items()):
            for frame in [f for f in track.xy if f < keep_from]:
                del track.xy[frame], track.score[frame]
            if not track.xy and track is not self.followed and track is not self.user_track:
                del self.tracks[track_id]
        del self.rounds[:-100]

    def people_seen(self) -> int:
        """The most people the detector found at once in at least `real_share` of its rounds (and in two
        rounds at least): a bystander who stays counts, a one-off false find (a shelf, a poster) does not."""
        need = max(2, int(np.ceil(self.config.real_share * len(self.rounds))))
        counts = sorted(self.rounds, reverse=True)
        if len(counts) < need:  # too few rounds to confirm anyone beside the exerciser
            return min(1, counts[0]) if counts else 0
        return counts[need - 1]

    def main_track(self) -> Track | None:
        """The person exercising: followed longest, confidently, and moving up and down."""
        seen = [t for t in self.tracks.values() if t.xy]
        return max(seen, key=lambda tr: track_rank(tr, self.hips)) if seen else None

    def track_arrays(self, track: Track, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Track → xy `(T,K,2)` (NaN where unseen) and score `(T,K)` (0 where unseen)."""
        k = self.predictor.joint_set.num_joints
        xy, score = np.full((n_frames, k, 2), np.nan), np.zeros((n_frames, k))
        for t, points in track.xy.items():
            xy[t], score[t] = points, track.score[t]
        return xy, score
