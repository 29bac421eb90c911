"""Several people live, against synthetic truth: the frame-by-frame tracker, everybody at one instant
(association, tracking and triangulation per frame set), who the worker is and what the live view
says; the work area and the choices of a worker that processing takes up (points where they stood,
a person chosen again from a take's outputs)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.camera import CameraGroup
from live.people import PERSIST_S, ChoiceError, WorkerChoice, lone_cameras
from reconstruction import exports
from reconstruction.instant import LivePeople
from reconstruction.interest import (
    MAX_HINT,
    PeopleError,
    WorkArea,
    checked_hint,
    hint_from,
    nearest_to_hint,
    select_person,
)
from reconstruction.pipeline import Options, ProcessError, choose_again, triangulate_file
from reconstruction.tracking import OnlineTracker
from tests.helpers.motion import joint_errors, observe_people, two_people
from tests.helpers.synthetic import camera_ring

FPS = 30.0
FRAMES = 300
EVERY = 3  # live frame sets come about 10 a second: one frame in three


@pytest.fixture(scope="module")
def scene():
    """Two people passing each other 0.5 m apart (hiding each other in some views), the second
    entering after 1 s, seen by four cameras with MediaPipe-like corruptions."""
    cameras = camera_ring(4)
    truth = two_people(FRAMES, FPS, seed=0)
    present = np.ones((2, FRAMES), bool)
    present[1, :30] = False
    return CameraGroup(cameras), truth, present, observe_people(cameras, truth, seed=3, present=present)


def _frame_set(obs, f: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """Each camera's 2D people at frame f as the live workers give them (absent rows left out),
    and who they truly are."""
    people, who = [], []
    for c in range(obs.points.shape[0]):
        seen = np.isfinite(obs.points[c, :, f]).any(axis=(-1, -2))
        people.append((obs.points[c, seen, f], obs.scores[c, seen, f]))
        who.append(obs.identity[c, seen, f])
    return people, who


def test_online_tracker_numbers_confirmed_people_and_reuses_free_numbers():
    tracker = OnlineTracker()
    walk = lambda t, y: [0.3 * t, y, 1.0]  # noqa: E731
    ids = []
    for t in range(12):
        centres = np.array([walk(t, -0.3), walk(t, 0.3)] + ([[5.0, 5.0, 1.0]] if 3 <= t < 8 else []))
        ids.append([None if w is None else w.person for w in tracker.update(centres, np.ones((len(centres), 4), bool), 10.0)])
    assert ids[0] == [None, None] and ids[2] == [1, 2]  # confirmed at their third sighting
    assert all(row[:2] == [1, 2] for row in ids[2:])
    assert ids[5][2] == 3 and tracker.people() == [1, 2, 3]
    for _ in range(15):  # the third person leaves; the first two stay
        tracker.update(np.array([walk(12, -0.3), walk(12, 0.3)]), np.ones((2, 4), bool), 10.0)
    assert tracker.people() == [1, 2]
    for _ in range(3):  # a newcomer gets the smallest free number
        last = tracker.update(np.array([walk(12, -0.3), walk(12, 0.3), [-4.0, 0.0, 1.0]]), np.ones((3, 4), bool), 10.0)
    assert last[2].person == 3
    with pytest.raises(ValueError, match="rate_hz"):
        tracker.update(np.zeros((0, 3)), np.zeros((0, 4), bool), 0.0)


def test_live_people_follow_two_people_who_cross_without_an_identity_swap(scene):
    group, truth, present, obs = scene
    live = LivePeople(group)
    owners: dict[int, set[int]] = {}
    errors = {0: [], 1: []}
    for f in range(0, FRAMES, EVERY):
        people2d, who = _frame_set(obs, f)
        instant = live.update(people2d, FPS / EVERY)
        for person in instant.people:
            true = {int(who[c][m]) for c, m in enumerate(person.members) if m >= 0}
            assert len(true) == 1, f"frame {f}: person {person.id} is made of two people's 2D"
            owners.setdefault(person.id, set()).update(true)
            n = true.pop()
            errors[n].append(np.nanmean(joint_errors(person.points[None], truth[n, f][None])))
        for c, ids in enumerate(instant.owners):  # each 2D person is labelled with the 3D person it is part of
            assert len(ids) == len(people2d[c][0])
    assert sorted(owners) == [1, 2] and all(len(v) == 1 for v in owners.values())
    for n in (0, 1):
        seen = present[n, ::EVERY].sum()
        assert len(errors[n]) >= 0.9 * seen
        assert np.median(errors[n]) * 1000 <= 20  # unfiltered, as the live view shows it


def _instant(scene, f):
    group, _, _, obs = scene
    live = LivePeople(group)
    for g in range(f - 9, f + 1, EVERY):
        instant = live.update(_frame_set(obs, g)[0], 10.0)
    return instant, live


def test_the_worker_is_the_person_in_the_work_area_unless_one_was_clicked(scene):
    instant, live = _instant(scene, 45)
    floors = {p.id: p.floor for p in instant.people}
    assert sorted(floors) == [1, 2]
    one = WorkArea(floors[1][0] - 0.2, floors[1][1] - 0.2, floors[1][0] + 0.2, floors[1][1] + 0.2)
    choice = WorkerChoice()
    followed = live.tracker.people()
    verdict = choice.decide(instant, followed, one, [], 0)
    assert (verdict.worker, verdict.main, verdict.inside, verdict.chosen) == (1, 1, (1,), None)
    with pytest.raises(ChoiceError, match="person 9 is not in view"):
        choice.choose(9)
    assert choice.choose(2) == 2
    verdict = choice.decide(instant, followed, one, [], 1_000_000)
    assert (verdict.worker, verdict.chosen) == (2, 2)
    # The chosen person leaves (no longer followed): the work area decides again.
    verdict = choice.decide(instant, [1], one, [], 2_000_000)
    assert (verdict.worker, verdict.chosen) == (1, None)


def test_live_problems_last_a_second_before_they_are_said(scene):
    instant, live = _instant(scene, 150)
    everyone = WorkArea(-3.0, -3.0, 3.0, 3.0)
    nowhere = WorkArea(10.0, 10.0, 11.0, 11.0)
    choice, second = WorkerChoice(), int(PERSIST_S * 1e9)
    followed = live.tracker.people()
    assert choice.decide(instant, followed, everyone, ["cam2"], 0).problems == ()
    later = choice.decide(instant, followed, everyone, ["cam2"], second)
    assert [p["code"] for p in later.problems] == ["several_in_work_area", "seen_by_one_camera"]
    assert later.problems[1]["camera"] == "cam2" and later.worker in (1, 2)
    assert choice.decide(instant, followed, nowhere, [], 2 * second).problems == ()  # a new problem starts its second
    verdict = choice.decide(instant, followed, nowhere, [], 3 * second)
    assert [p["code"] for p in verdict.problems] == ["no_one_in_work_area"] and verdict.worker is None
    assert verdict.main in (1, 2)  # the older pages are still shown somebody


def test_a_chosen_workers_places_are_kept_for_the_takes(scene):
    instant, live = _instant(scene, 60)
    choice = WorkerChoice()
    choice.decide(instant, live.tracker.people(), None, [], 0)
    choice.choose(2)
    for k in range(10):  # every 0.1 s: kept every 0.2 s
        choice.decide(instant, live.tracker.people(), None, [], int(k * 1e8))
    rows = choice.samples(0, int(2e9))
    assert [r[0] for r in rows] == [0.0, 0.2, 0.4, 0.6, 0.8]
    np.testing.assert_allclose(rows[0][1:], instant.by_id(2).floor, atol=1e-3)
    assert choice.samples(int(5e8), int(2e9))[0][0] == 0.1  # times from the take's start


def test_lone_cameras_are_those_seeing_somebody_nobody_is_made_of(scene):
    group, _, _, obs = scene
    instant, _ = _instant(scene, 60)
    people2d, _ = _frame_set(obs, 60)
    assert lone_cameras(instant, people2d) == []
    ghost = np.full((1, 33, 2), 50.0, np.float32)  # somebody only camera 3 sees
    people2d[3] = (np.concatenate([people2d[3][0], ghost]), np.concatenate([people2d[3][1], np.ones((1, 33), np.float32)]))
    owners = list(instant.owners)
    owners[3] = np.append(owners[3], 0)
    assert lone_cameras(type(instant)(instant.people, tuple(owners)), people2d) == [3]


# --------------------------------------------------------------------------- the work area and a chosen worker offline
@pytest.mark.parametrize("corners, problem", [
    ((1.0, 0.0, 0.0, 1.0), "x0 < x1"), ((0.0, 0.0, 0.1, 1.0), "at least 0.2 m"), ((0.0, 0.0, 200.0, 1.0), "within 100 m"),
    ((0.0, 0.0, float("nan"), 1.0), "finite"), ((0, 0, 1), "four numbers"), (("0", 0, 1, 1), "finite"),
    ((True, 0.0, 1.0, 1.0), "finite"), (None, "four numbers")])
def test_bad_work_areas_are_refused(corners, problem):
    with pytest.raises(PeopleError, match=problem):
        WorkArea.checked(corners)


def test_checked_hints():
    assert checked_hint([[0.0, 1.0, 2.0]]).shape == (1, 3)
    for bad in ([[0.0, 1.0]], [[-1.0, 0.0, 0.0]], [[0.0, float("inf"), 0.0]], [["a", 0, 0]],
                [[0.0, 0.0, 0.0]] * (MAX_HINT + 1)):
        with pytest.raises(PeopleError):
            checked_hint(bad)


def test_the_person_where_the_chosen_one_stood_is_found_again():
    F = 90
    t = np.arange(F) / FPS
    floor = {1: np.stack([t, np.zeros(F)], 1), 2: np.stack([t, np.full(F, 0.6)], 1)}
    floor[2][:20] = np.nan
    hint = np.array([[1.0, 1.0, 0.55], [2.0, 2.0, 0.65], [2.9, 2.9, 0.6]])
    assert nearest_to_hint(floor, hint, FPS) == 2
    assert nearest_to_hint(floor, hint + [0, 0, 5.0], FPS) is None  # nobody stood there
    area = WorkArea(-1.0, -0.2, 4.0, 0.2)
    assert select_person(floor, area, FPS, hint=hint).reason == "hint"
    lost = select_person(floor, area, FPS, hint=hint + [0, 0, 5.0])
    assert (lost.person, lost.reason) == (1, "work_area")
    assert [p.code for p in lost.problems] == ["chosen_person_not_found"]


def test_hint_from_a_persons_trajectory():
    points = np.full((60, 33, 3), np.nan)
    points[10:, 23] = [1.0, 2.0, 0.9]
    points[10:, 24] = [1.2, 2.0, 0.9]
    rows = hint_from(points, np.arange(60) / FPS, every_s=0.5)
    assert rows[0] == [round(10 / FPS, 3), 1.1, 2.0] and len(rows) == 4
    assert len(hint_from(np.zeros((3 * MAX_HINT, 33, 3)), np.arange(3 * MAX_HINT) / 100.0, every_s=0.0)) <= MAX_HINT


def _people_keypoints(scene) -> exports.Keypoints2D:
    _, _, _, obs = scene
    return exports.Keypoints2D(points=obs.points[:, 0], scores=obs.scores[:, 0], cameras=tuple(f"cam{i + 1}" for i in
                               range(obs.points.shape[0])), fps=FPS, offsets=np.zeros(obs.points.shape[0], np.int64),
                               points_people=obs.points, scores_people=obs.scores)


def test_a_takes_worker_is_chosen_again_from_its_outputs(tmp_path, scene):
    group, _, _, _ = scene
    group = CameraGroup([c for c in group.cameras], {})
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, _people_keypoints(scene))
    out = tmp_path / "processed"
    first = triangulate_file(npz, group, out, Options(work_area=(-2.0, -1.0, 2.0, 0.0)))
    (out / "keypoints2d.npz").write_bytes(npz.read_bytes())  # as process_take leaves it
    report = json.loads((out / "report.json").read_text())
    report["sync"] = {"method": "timestamps", "offsets": {n: 0 for n in group.names}, "score": None}
    (out / "report.json").write_text(json.dumps(report))
    assert first["people"]["person_of_interest"] == 1
    second, _ = exports.read_pose3d_csv(out / "pose3d_p2.csv")
    again = choose_again(out, group, Options(person=2, work_area=(-2.0, -1.0, 2.0, 0.0)))
    assert again["people"]["person_of_interest"] == 2 and again["people"]["selection"] == "chosen"
    assert again["sync"]["method"] == "timestamps"  # the take's synchronization is kept
    np.testing.assert_array_equal(exports.read_pose3d_csv(out / "pose3d.csv")[0], second)
    assert exports.load_keypoints(out / "keypoints2d.npz").points_people is not None
    # Where person 2 stood finds them again, as processing the take again from scratch would.
    hint = tuple(tuple(r) for r in hint_from(second, np.arange(len(second)) / FPS))
    found = triangulate_file(npz, group, tmp_path / "again", Options(person_hint=hint, work_area=(-2.0, -1.0, 2.0, 0.0)))
    assert found["people"]["person_of_interest"] == 2 and found["people"]["selection"] == "hint"
    with pytest.raises(ProcessError, match="no keypoints2d.npz"):
        choose_again(tmp_path / "nowhere", group, Options(person=2))
