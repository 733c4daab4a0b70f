"""The tracker with a scripted fake detector and fake pose model (both injected): ids, one crop per frame,
deep-squat score dips, occlusion and re-acquisition, a bystander, the main-person choice, the count of
people seen; and `extract_tracks` on real video files written at test time."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    FakeDetector,
    FakePredictor,
    Person,
    render_scene,
    still,
    write_video,
)

from squatpose.video.detector import box_iou
from squatpose.video.extract import NoPersonError, extract_tracks
from squatpose.video.tracker import PersonTracker, TrackerConfig

FPS = 30.0


def run(people: list[Person], user_box=None, **config) -> tuple[PersonTracker, FakePredictor, FakeDetector]:
    predictor, detector = FakePredictor(), FakeDetector()
    tracker = PersonTracker(predictor, detector, TrackerConfig(**config), user_box, fps=FPS)
    for t, frame in enumerate(render_scene(people)):
        tracker.step(frame[..., ::-1], t)
    return tracker, predictor, detector


def hips_x(track, t: int) -> float:
    return float(track.xy[t][:2, 0].mean())


def test_one_person_one_crop_per_frame_and_the_detector_every_two_seconds():
    tracker, predictor, detector = run([Person("red", still([100, 40, 60, 160], 90), np.full(90, 0.8))])
    assert tracker.crowd is None   # nobody to choose from
    assert predictor.calls == [1] * 90
    assert detector.calls == 2          # frames 0 and 60
    assert list(tracker.tracks) == [0]
    track = tracker.main_track()
    assert sorted(track.xy) == list(range(90))
    assert track.xy[89][0] == pytest.approx([100 + 0.65 * 60, 40 + 80], abs=2)
    assert track.score[89] == pytest.approx(np.full(6, 0.8), abs=0.02)
    assert tracker.people_seen() == 1


def test_deep_squat_score_dip_is_followed_through():
    n = 120
    down = np.clip(np.concatenate([np.linspace(0, 1, 40), np.ones(30), np.linspace(1, 0, 50)]), 0, 1)
    boxes = np.stack([np.full(n, 130.0), 40 + 50 * down, 60 + 10 * down, 160 - 50 * down], axis=1)
    score = np.where(down > 0.95, 0.1, 0.8)   # joints hidden at the bottom: the pose is unsure ~1 s
    tracker, predictor, detector = run([Person("red", boxes, score)])
    assert list(tracker.tracks) == [0] and tracker.followed is tracker.tracks[0]
    track = tracker.tracks[0]
    assert sorted(track.xy) == list(range(n))
    assert detector.calls > 2           # it looked again while the pose was unsure
    assert predictor.calls == [1] * n
    bottom, end = int(np.argmax(down)), n - 1
    assert track.xy[bottom][0, 1] == pytest.approx(90 + 0.5 * 110, abs=3)
    assert track.xy[end][0, 1] == pytest.approx(40 + 80, abs=3)


@pytest.mark.parametrize(("back_at", "same_id"), [(100, True), (240, False)])
def test_occlusion_then_reacquisition(back_at, same_id):
    n = 150
    boxes = still([100, 40, 60, 160], n)
    boxes[30:90] = np.nan                # out of view for 2 s: longer than a squat can hide anyone
    boxes[90:, 0] = back_at
    tracker, _, _ = run([Person("red", boxes, np.full(n, 0.8))])
    assert list(tracker.tracks) == ([0] if same_id else [0, 1])
    first = tracker.tracks[0]
    assert not set(first.xy) & set(range(30, 90))   # the unsure tail was dropped, not kept as the person
    again = tracker.followed
    assert again is not None and again.track_id == (0 if same_id else 1)
    assert min(t for t in again.xy if t >= 90) <= 90 + 8
    assert hips_x(again, n - 1) == pytest.approx(back_at + 30, abs=3)


def test_bystander_walking_behind_costs_nothing_and_is_counted():
    n = 180
    down = (1 - np.cos(np.linspace(0, 6 * np.pi, n))) / 2       # three squats
    exerciser = np.stack([np.full(n, 60.0), 40 + 40 * down, np.full(n, 60.0), 160 - 40 * down], axis=1)
    walker = np.full((n, 4), np.nan)
    walker[45:135] = np.stack([np.linspace(280, 10, 90), np.full(90, 80.0), np.full(90, 35.0),
                               np.full(90, 110.0)], axis=1)
    tracker, predictor, detector = run([Person("blue", walker, np.full(n, 0.8)),
                                        Person("red", exerciser, np.full(n, 0.8))])
    assert predictor.calls == [1] * n                # one crop per frame, bystander or not
    assert detector.calls == 3
    assert list(tracker.tracks) == [0] and tracker.main_track().track_id == 0
    assert all(60 <= hips_x(tracker.tracks[0], t) <= 120 for t in range(n))
    assert tracker.people_seen() == 2
    crowd = tracker.crowd   # rounds at frames 0 (alone), 60 and 120 (both): the first of the most is kept
    assert tracker.rounds == [1, 2, 2] and crowd.frame == 60 and crowd.frame_wh == (320, 240)
    walker_x = 280 - 270 * (60 - 45) / 89
    assert np.array(crowd.boxes) == pytest.approx(np.array([[60, 40 + 40 * down[60], 60, 160 - 40 * down[60]],
                                                            [walker_x, 80, 35, 110]]), abs=1.5)
    assert crowd.track_id == 0
    assert box_iou(crowd.track_box, crowd.boxes[0]) > box_iou(crowd.track_box, crowd.boxes[1])


def test_one_off_false_find_and_a_single_frame_do_not_count_as_people():
    shelf = np.full((90, 4), np.nan)
    shelf[0] = [250, 20, 30, 100]
    tracker, _, detector = run([Person("red", still([100, 40, 60, 160], 90), np.full(90, 0.8)),
                                Person("green", shelf, np.full(90, 0.5))])
    assert detector.calls == 2 and tracker.rounds == [2, 1]
    assert tracker.people_seen() == 1
    one_frame, _, _ = run([Person("red", still([40, 40, 60, 160], 1), np.ones(1)),
                           Person("blue", still([200, 60, 50, 130], 1), np.ones(1))])
    assert one_frame.rounds == [2] and one_frame.people_seen() == 1


def test_main_person_is_the_biggest_unless_the_user_gives_a_box():
    people = [Person("red", still([20, 90, 40, 110], 30), np.full(30, 0.8)),
              Person("blue", still([180, 30, 70, 180], 30), np.full(30, 0.8))]
    biggest, _, _ = run(people)
    assert hips_x(biggest.main_track(), 29) == pytest.approx(180 + 35, abs=3)
    assert biggest.crowd.frame == 0
    assert [list(b) for b in biggest.crowd.boxes] == [[20, 90, 40, 110], [180, 30, 70, 180]]
    chosen, _, detector = run(people, user_box=[20, 90, 40, 110])
    assert hips_x(chosen.main_track(), 29) == pytest.approx(20 + 20, abs=3)
    assert detector.calls == 1   # the user's box needs no detector to start, only its regular look


def test_extract_tracks_on_a_video_file_warns_about_real_people_only(tmp_path):
    n = 180
    walker = np.full((n, 4), np.nan)
    walker[30:150] = np.stack([np.linspace(280, 200, 120), np.full(120, 60.0), np.full(120, 40.0),
                               np.full(120, 120.0)], axis=1)
    frames = render_scene([Person("red", still([60, 40, 60, 160], n), np.full(n, 0.8)),
                           Person("blue", walker, np.full(n, 0.8))])
    video = write_video(tmp_path / "two.mp4", frames, FPS)
    found = extract_tracks(video, FakePredictor(), detector=FakeDetector(), progress=False)
    assert found.n_frames == n and found.people == 2 and found.followed == 1.0
    assert "2 people were seen" in found.warnings[0] and "--box" in found.warnings[0]
    assert set(found.timings) == {"decode", "detection", "pose", "tracking"}
    web = extract_tracks(video, FakePredictor(), detector=FakeDetector(), box_hint=False, progress=False)
    assert "--box" not in web.warnings[0]
    alone = write_video(tmp_path / "one.mp4", frames[:1], FPS)
    assert extract_tracks(alone, FakePredictor(), detector=FakeDetector(), progress=False).warnings == []
    empty = write_video(tmp_path / "empty.mp4", [np.full((240, 320, 3), 20, np.uint8)] * 10, FPS)
    with pytest.raises(NoPersonError, match=r"empty.mp4: no person found in any of its 10 frames \(is the "
                                            r"whole"):
        extract_tracks(empty, FakePredictor(), detector=FakeDetector(), box_hint=False, progress=False)


def test_extract_tracks_names_the_people_to_choose_from_and_the_one_followed(tmp_path):
    """Two people from the start, the bigger (blue) followed; with the other's box, the other is."""
    n = 90
    people = [Person("red", still([20, 90, 40, 110], n), np.full(n, 0.8)),
              Person("blue", still([180, 30, 70, 180], n), np.full(n, 0.8))]
    video = write_video(tmp_path / "two.mp4", render_scene(people), FPS)
    found = extract_tracks(video, FakePredictor(), detector=FakeDetector(), box_hint=False, progress=False)
    seen = found.people_seen
    assert (seen.count, seen.frame, seen.time_s, seen.frame_wh) == (2, 0, 0.0, (320, 240))
    assert seen.boxes == [[20, 90, 40, 110], [180, 30, 70, 180]] and seen.followed == 1
    assert found.warnings[0].startswith("2 people were seen; the analysis follows the one moving most")
    chosen = extract_tracks(video, FakePredictor(), detector=FakeDetector(), box=seen.boxes[0],
                            progress=False)
    # the clicked whole-body box says whom; the crop is the detector's, as for a person found automatically
    pose_h = 2.6 * 110 / 2
    assert chosen.people_seen.followed == 0
    expected = [40 - 0.3 * pose_h, 145 - pose_h / 2, 0.6 * pose_h, pose_h]
    assert chosen.people_seen.followed_box == pytest.approx(expected, abs=0.1)
    assert chosen.tracks.xy[-1, 0, 0] == pytest.approx(20 + 0.65 * 40, abs=2)
    alone = write_video(tmp_path / "one.mp4", render_scene(people[1:]), FPS)
    one = extract_tracks(alone, FakePredictor(), detector=FakeDetector(), progress=False).people_seen
    assert (one.count, one.frame_wh, one.boxes, one.frame, one.followed) == (1, (320, 240), [], None, None)
