"""Person boxes frame to frame: detect, then follow the previous frame's joints; one state per track id."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from squatpose.pose.predictor import Predictor
from squatpose.video.motion import MotionPrior
from squatpose.video.person_box import detect_people, person_box_from_legs, window_boxes

log = logging.getLogger(__name__)

MOTION_WEIGHT = 0.1  # rank bonus per doubling of motion density: enough to break ties with still look-alikes


@dataclass(frozen=True)
class TrackerConfig:
    min_score: float = 0.2         # mean joint score to accept a pose as "the person is still here"
    start_score: float = 0.35      # ... and to start following someone new (false finds score lower)
    box_follow: float = 0.7        # weight of the new box against the previous one (damps jumps)
    max_box_change: float = 2.5    # a new box more than this many times larger/smaller is not trusted
    joint_score: float = 0.3       # joints above this define the next frame's box
    max_missing_s: float = 2.0     # a track unsure this long ends (a deep squat can hide joints ~1 s)
    lost_detect_s: float = 0.25    # while nobody is tracked, look for someone this often (a scan costs ~65 crops)
    detect_s: float = 1.5          # look for other people this often
    new_track_iou: float = 0.3     # a detection overlapping a track more than this is that track
    max_people: int = 3            # people followed at once (each costs one crop per frame)
    duplicate_iou: float = 0.5     # two tracks overlapping this much follow one person: keep the older
    duplicate_joint_gap: float = 0.1  # ... as do two whose joints are this close (fraction of box height)


@dataclass
class Track:
    """One person's joints over time; frames where the person was not seen are absent."""

    track_id: int
    box: np.ndarray
    xy: dict[int, np.ndarray] = field(default_factory=dict)
    score: dict[int, np.ndarray] = field(default_factory=dict)
    misses: int = 0
    active: bool = True


def track_rank(track: Track, hips: list[int]) -> float:
    """Frames seen × mean joint score × (0.5 + vertical hip travel relative to the box height, capped at 1)
    × box height: the exerciser moves up and down and is usually the largest person in view (a mirror
    image or a bystander further back is smaller)."""
    frames = sorted(track.xy)
    hips_y = np.array([track.xy[t][hips, 1].mean() for t in frames])
    travel = (np.percentile(hips_y, 95) - np.percentile(hips_y, 5)) / max(track.box[3], 1.0)
    mean_score = float(np.mean([track.score[t].mean() for t in frames]))
    return len(frames) * mean_score * (0.5 + min(travel * 2.0, 1.0)) * track.box[3]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def best_windows(predictor: Predictor, image_rgb: np.ndarray, motion: MotionPrior | None = None,
                 avoid: list[np.ndarray] | None = None, n: int = 1, avoid_iou: float = 0.3) -> list[np.ndarray]:
    """The `n` person-shaped windows, not overlapping each other, in which the model is most confident
    (the model as its own detector), favouring windows where things move when a motion prior is given;
    windows overlapping the boxes in `avoid` (people already followed) are skipped."""
    windows = window_boxes((image_rgb.shape[1], image_rgb.shape[0]))
    windows = np.array([w for w in windows if all(iou(w, box) <= avoid_iou for box in avoid or [])])
    if not len(windows):
        return []
    rank = predictor.predict(image_rgb, windows).score.mean(axis=1)
    if motion is not None:
        rank = rank + MOTION_WEIGHT * np.clip(np.log2([max(motion.ratio(w), 1e-3) for w in windows]), -2, 2)
    chosen: list[np.ndarray] = []
    for i in np.argsort(-rank):
        if len(chosen) == n:
            break
        if all(iou(windows[i], c) <= avoid_iou for c in chosen):
            chosen.append(windows[i])
    return chosen


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


class PersonTracker:
    """Follows every person it finds; `step()` once per frame in order."""

    def __init__(self, predictor: Predictor, config: TrackerConfig | None = None,
                 user_box: np.ndarray | None = None, motion: MotionPrior | None = None, fps: float = 30.0) -> None:
        self.predictor = predictor
        cfg = config or TrackerConfig()
        self.max_misses = max(3, int(round(cfg.max_missing_s * fps)))
        self.lost_detect_every = max(1, int(round(cfg.lost_detect_s * fps)))
        self.detect_every = max(1, int(round(cfg.detect_s * fps)))
        self.motion = motion
        self.config = cfg
        self.tracks: dict[int, Track] = {}
        self._next_id = 0
        self._last_detect = -10**9
        if user_box is not None:
            self._new_track(np.asarray(user_box, np.float64))

    def _new_track(self, box: np.ndarray) -> Track:
        track = Track(self._next_id, box)
        self.tracks[track.track_id] = track
        self._next_id += 1
        return track

    def active(self) -> list[Track]:
        return [t for t in self.tracks.values() if t.active]

    def step(self, frame_rgb: np.ndarray, t: int) -> None:
        active = self.active()
        if active:
            pose = self.predictor.predict(frame_rgb, np.stack([tr.box for tr in active]))
            for track, xy, score in zip(active, pose.xy, pose.score):
                self._update(track, t, xy, score)
            self._drop_duplicates(t)
        interval = self.lost_detect_every if not self.active() else self.detect_every
        if t - self._last_detect >= interval:
            self._last_detect = t
            self._detect(frame_rgb, t)

    def _update(self, track: Track, t: int, xy: np.ndarray, score: np.ndarray) -> None:
        # Unsure poses are kept too (their scores let the analysis gate them); only sure ones move the box.
        track.xy[t], track.score[t] = xy, score
        if score.mean() >= self.config.min_score:
            track.misses = 0
            box = person_box_from_legs(xy, score, self.predictor.joint_set.names, self.config.joint_score)
            if box is not None and self._plausible(track.box, box):
                a = self.config.box_follow
                track.box = a * box + (1 - a) * track.box
            return
        track.misses += 1
        if track.misses > self.max_misses:
            track.active = False
            for lost in range(t - track.misses + 1, t + 1):  # the unsure tail was not this person
                track.xy.pop(lost, None)
                track.score.pop(lost, None)
            log.info("track %d lost at frame %d", track.track_id, t)

    def _plausible(self, old: np.ndarray, new: np.ndarray) -> bool:
        ratio = (new[2] * new[3]) / max(old[2] * old[3], 1e-6)
        return 1 / self.config.max_box_change <= ratio <= self.config.max_box_change

    def _revive(self, box: np.ndarray) -> Track | None:
        """A lost track whose last box overlaps `box`: the same person found again keeps their id."""
        lost = [tr for tr in self.tracks.values() if not tr.active and iou(tr.box, box) > self.config.new_track_iou]
        if not lost:
            return None
        track = max(lost, key=lambda tr: max(tr.xy, default=-1))
        track.active, track.misses = True, 0
        return track

    def _drop_duplicates(self, t: int) -> None:
        """Two tracks on one person (overlapping boxes, or the same joints found from a sub-window):
        keep the older."""
        active = sorted(self.active(), key=lambda tr: tr.track_id)
        for i, older in enumerate(active):
            for newer in active[i + 1:]:
                if older.active and newer.active and self._same_person(older, newer, t):
                    newer.active = False
                    log.info("track %d merged into track %d", newer.track_id, older.track_id)

    def _same_person(self, a: Track, b: Track, t: int) -> bool:
        if iou(a.box, b.box) > self.config.duplicate_iou:
            return True
        if t not in a.xy or t not in b.xy:
            return False
        gap = np.nanmean(np.linalg.norm(a.xy[t] - b.xy[t], axis=-1))
        return bool(gap < self.config.duplicate_joint_gap * min(a.box[3], b.box[3]))

    def _detect(self, frame_rgb: np.ndarray, t: int) -> None:
        """Start tracks for people not yet followed: detector boxes, and while nobody is tracked, the best
        of the model's own scan over person-shaped windows."""
        candidates = [box for box, _ in detect_people(frame_rgb)[:3]]
        candidates += best_windows(self.predictor, frame_rgb, self.motion, avoid=[tr.box for tr in self.active()],
                                   n=self.config.max_people)
        for box in candidates:
            if any(iou(box, tr.box) > self.config.new_track_iou for tr in self.active()):
                continue
            if len(self.active()) >= self.config.max_people:
                break
            found = confirm_person(self.predictor, frame_rgb, box, self.config)
            if found is not None and any(iou(found[0], tr.box) > self.config.new_track_iou for tr in self.active()):
                continue
            if found is not None:
                track = self._revive(found[0]) or self._new_track(found[0])
                track.box = found[0]
                self._update(track, t, found[1], found[2])
                log.info("track %d (re)started at frame %d", track.track_id, t)

    def people_seen(self, main: Track, share: float = 0.25) -> int:
        """Tracks ranked at least `share` of the main one: other people who were really in view (a
        brief or unsure find, such as a poster or a piece of equipment, ranks far lower)."""
        hips = [self.predictor.joint_set.index(n) for n in ("left_hip", "right_hip")]
        best = track_rank(main, hips)
        return sum(1 for tr in self.tracks.values() if tr.xy and track_rank(tr, hips) >= share * best)

    def main_track(self) -> Track | None:
        """The person exercising: seen often, confidently, and moving up and down (a squat moves the hips
        by a good part of the body height; a bystander or a mirror image mostly does not)."""
        seen = [t for t in self.tracks.values() if t.xy]
        hips = [self.predictor.joint_set.index(n) for n in ("left_hip", "right_hip")]
        return max(seen, key=lambda tr: track_rank(tr, hips)) if seen else None

    def track_arrays(self, track: Track, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Track → xy `(T,K,2)` (NaN where unseen) and score `(T,K)` (0 where unseen)."""
        k = self.predictor.joint_set.num_joints
        xy, score = np.full((n_frames, k, 2), np.nan), np.zeros((n_frames, k))
        for t, points in track.xy.items():
            xy[t], score[t] = points, track.score[t]
        return xy, score
