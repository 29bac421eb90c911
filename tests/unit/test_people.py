"""Several people against synthetic truth: association across cameras, tracking over time,
synchronization, the person of interest, and the per-person outputs of ``triangulate``."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from calibration.camera import CameraGroup
from reconstruction import exports, sync
from reconstruction.association import associate
from reconstruction.interest import PeopleError, WorkArea, coverage, default_work_area, select_person
from reconstruction.people import reconstruct_people
from reconstruction.pipeline import Options, ProcessError, triangulate_file
from reconstruction.tracking import track_people
from tests.helpers.motion import joint_errors, observe_people, two_people
from tests.helpers.synthetic import camera_ring

FPS = 30.0
FRAMES = 360


@pytest.fixture(scope="module")
def scene():
    """Two people passing each other 0.5 m apart (and hiding each other in some views), the
    second entering after 1 s and leaving 1.5 s before the end, seen by four cameras with
    MediaPipe-like corruptions and 2D track ids that are arbitrary, swap and fragment."""
    cameras = camera_ring(4)
    truth = two_people(FRAMES, FPS, seed=0)
    present = np.ones((2, FRAMES), bool)
    present[1, :30] = present[1, -45:] = False
    obs = observe_people(cameras, truth, seed=3, present=present)
    return CameraGroup(cameras), truth, present, obs


def _identities(obs, tracks: np.ndarray) -> np.ndarray:
    """(C, F) true person behind a reconstructed person's 2D at each camera and frame, -1 where none."""
    C, F = tracks.shape
    ident = obs.identity[np.arange(C)[:, None], np.clip(tracks, 0, None), np.arange(F)[None]]
    return np.where(tracks >= 0, ident, -1)


def test_the_scene_is_hard_enough(scene):
    _, _, present, obs = scene
    # Every camera's 2D ids are arbitrary: some id shows both people over the take, some people get new ids.
    mixed = [(np.unique(row[row >= 0]).size > 1) for cam in obs.identity for row in cam]
    assert any(mixed)
    assert obs.points.shape[1] > 2
    # Each person is hidden whole by the other in some view at times.
    for n in (0, 1):
        hidden = present[n][None] & ~(obs.identity == n).any(axis=1)
        assert hidden.sum() >= 5


def test_two_people_crossing_are_reconstructed_with_no_identity_swap(scene):
    group, truth, present, obs = scene
    result = reconstruct_people(group, obs.points, obs.scores, FPS)
    assert [p.id for p in result.people] == [1, 2]
    matched = set()
    for person in result.people:
        ident = _identities(obs, person.tracks)
        n = int(np.bincount(ident[ident >= 0]).argmax())
        matched.add(n)
        assert ((ident >= 0) & (ident != n)).sum() == 0, f"person {person.id}: 2D of somebody else"
        assert person.present[present[n]].mean() >= 0.97
        assert not person.present[~present[n]].any()
        err_mm = joint_errors(person.points, truth[n])[present[n]] * 1000
        assert np.nanmean(err_mm) <= 15
        assert np.isfinite(person.points[present[n]]).all(axis=-1).mean() >= 0.97
    assert matched == {0, 1}


def test_association_never_mixes_people(scene):
    group, _, _, obs = scene
    candidates = associate(group, obs.points, obs.scores)
    C = len(group)
    seen, kept = 0, 0
    for f in range(FRAMES):
        for members in candidates.members[f]:
            ids = {int(obs.identity[c, members[c], f]) for c in range(C) if members[c] >= 0}
            assert len(ids) <= 1
            kept += int((members >= 0).sum())
        seen += int(((obs.identity[:, :, f] >= 0) & (np.isfinite(obs.points[:, :, f]).all(-1).sum(-1) >= 5)).sum())
    assert kept >= 0.95 * seen


def test_tracking_keeps_people_apart_when_they_cross_closely():
    """Two people 0.35 m apart at the crossing, one entering late and one leaving early, with
    noisy centres, frames where the association found nobody and a couple of centres 0.4 m off."""
    rng = np.random.default_rng(0)
    F = 240
    t = np.arange(F) / FPS
    a = np.stack([-1.0 + 0.25 * t, np.full(F, -0.175), np.full(F, 1.0)], 1)
    b = np.stack([1.0 - 0.25 * t, np.full(F, 0.175), np.full(F, 1.0)], 1)
    centres = np.full((F, 3, 3), np.nan)
    order = rng.random(F) < 0.5                                          # candidates come in any order
    centres[:, 0] = np.where(order[:, None], a, b) + rng.normal(0, 0.02, (F, 3))
    centres[:, 1] = np.where(order[:, None], b, a) + rng.normal(0, 0.02, (F, 3))
    truth = np.where(order[:, None], [0, 1], [1, 0])
    pair = centres[:, :2]
    pair[:20][truth[:20] == 1] = np.nan                                  # b enters at frame 20
    pair[200:][truth[200:] == 0] = np.nan                                # a leaves at frame 200
    centres[rng.random((F, 3)) < 0.05] = np.nan                           # missed candidates
    pair[150:152][truth[150:152] == 0] += [0.0, -0.3, -0.3]               # two poor candidates for a
    centres[100:103, 2] = [3.0, 3.0, 1.0]                                 # a 3-frame ghost far away
    cameras = np.ones((F, 3, 4), bool)
    labels = track_people(centres, cameras, FPS)
    assert labels.max() == 1                                              # two people, the ghost is nobody
    assert (labels[:, 2] == -1).all()
    for person in (0, 1):
        mine = labels[:, :2] == person
        assert len(np.unique(truth[mine])) == 1 and mine.sum() >= 180


def test_sync_with_two_people_finds_known_offsets(scene):
    group, _, _, obs = scene
    true = np.array([0, 7, 3, 12])
    start = 12 - true
    points = [obs.points[c][:, s:] for c, s in enumerate(start)]
    scores = [obs.scores[c][:, s:] for c, s in enumerate(start)]
    found = sync.auto_alignment(group, points, scores, FPS)
    expected = start - start.min()
    np.testing.assert_array_equal(found.offsets, expected.max() - expected)
    assert found.score.min() >= 0.6


def test_default_work_area_is_the_middle_of_the_calibrated_volume():
    group = CameraGroup(camera_ring(6))
    area = default_work_area(group)
    assert area.contains(np.zeros(2)) and area.x1 - area.x0 >= 1.0 and area.y1 - area.y0 >= 1.0
    assert area.x1 - area.x0 <= 2.5 and area.y1 - area.y0 <= 2.5
    x, y = np.meshgrid(np.linspace(area.x0, area.x1, 5), np.linspace(area.y0, area.y1, 5))
    seen = coverage(group, x, y)
    assert seen[2, 2] == 6 and seen.min() >= 5                              # seen by every camera, or nearly
    # Two cameras back to back see nothing in common.
    a, b = camera_ring(2)
    R = np.diag([-1.0, 1.0, -1.0]) @ b.R                                  # b turned round on the spot
    away = b.with_pose(cv2.Rodrigues(R)[0].ravel(), -R @ b.center)
    with pytest.raises(PeopleError, match="two cameras"):
        default_work_area(CameraGroup([a, away]))


def test_person_of_interest_is_the_one_in_the_work_area():
    F = 100
    inside = np.zeros((F, 2))
    outside = np.full((F, 2), 3.0)
    area = WorkArea(-0.5, -0.5, 0.5, 0.5)
    choice = select_person({1: outside, 2: inside}, area, FPS)
    assert (choice.person, choice.reason, choice.problems) == (2, "work_area", ())
    assert choice.in_area_pct == {1: 0.0, 2: 100.0}

    nobody_inside = select_person({1: outside, 2: np.where(np.arange(F)[:, None] < 50, outside, np.nan)}, area, FPS)
    assert nobody_inside.person == 1 and [p.code for p in nobody_inside.problems] == ["no_one_in_work_area"]

    crowded = select_person({1: inside, 2: inside + 0.1, 3: outside}, area, FPS)
    assert crowded.person == 1 and [p.code for p in crowded.problems] == ["several_in_work_area"]
    assert "person 1" in crowded.problems[0].message and "person 2" in crowded.problems[0].message

    assert select_person({1: outside, 2: inside}, area, FPS, chosen=1).person == 1
    with pytest.raises(PeopleError, match="person 7 does not exist"):
        select_person({1: outside}, area, FPS, chosen=7)
    empty = select_person({}, area, FPS)
    assert empty.person is None and empty.problems[0].code == "nobody"
    with pytest.raises(PeopleError):
        WorkArea(1.0, 0.0, 0.0, 1.0)


def test_a_person_seen_by_one_camera_only_is_reported(scene):
    group, truth, _, _ = scene
    third = truth[0] + np.array([0.0, 1.6, 0.0])
    obs = observe_people(list(group.cameras), np.stack([truth[0], third]), seed=9)
    points, scores = obs.points.copy(), obs.scores.copy()
    lonely = obs.identity == 1
    keep = lonely & (np.arange(len(group))[:, None, None] == 1)            # only camera 2 sees the third
    points[lonely & ~keep] = np.nan
    scores[lonely & ~keep] = 0.0
    result = reconstruct_people(group, points, scores, FPS)
    assert len(result.people) == 1
    problems = result.problems(group.names, FPS)
    assert [p.code for p in problems] == ["seen_by_one_camera"] and problems[0].message.startswith("cam2 ")


# --------------------------------------------------------------------------- files


def _people_keypoints(scene) -> exports.Keypoints2D:
    group, _, _, obs = scene
    return exports.Keypoints2D(points=obs.points[:, 0], scores=obs.scores[:, 0], cameras=tuple(group.names),
                               fps=FPS, offsets=np.zeros(len(group), np.int64), points_people=obs.points,
                               scores_people=obs.scores)


def test_keypoints_keep_their_person_axis(tmp_path, scene):
    kp = _people_keypoints(scene)
    path = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(path, kp)
    back = exports.load_keypoints(path)
    np.testing.assert_array_equal(back.points_people, kp.points_people)
    np.testing.assert_array_equal(back.scores_people, kp.scores_people)
    with pytest.raises(exports.ExportError, match="points_people must have shape"):
        exports.Keypoints2D(points=kp.points, scores=kp.scores, cameras=kp.cameras, fps=FPS, offsets=kp.offsets,
                            points_people=kp.points_people[:, :, :10], scores_people=kp.scores_people[:, :, :10])
    with pytest.raises(exports.ExportError, match="go together"):
        exports.Keypoints2D(points=kp.points, scores=kp.scores, cameras=kp.cameras, fps=FPS, offsets=kp.offsets,
                            points_people=kp.points_people)


def test_triangulate_writes_every_person_and_the_worker(tmp_path, scene):
    group, truth, present, _ = scene
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, _people_keypoints(scene))
    out = tmp_path / "out"
    # The first person walks along y = -0.25 m, the second along y = +0.25 m.
    report = triangulate_file(npz, group, out, Options(work_area=(-2.0, -1.0, 2.0, 0.0)))
    assert sorted(p.name for p in out.iterdir()) == ["people.json", "pose3d.c3d", "pose3d.csv", "pose3d.trc",
                                                     "pose3d_p1.csv", "pose3d_p2.csv", "report.json"]
    people = json.loads((out / "people.json").read_text())
    assert people["person_of_interest"] == report["people"]["person_of_interest"] == 1
    assert [p["id"] for p in people["people"]] == [1, 2]
    assert [p["person_of_interest"] for p in people["people"]] == [True, False]
    second = people["people"][1]
    assert abs(second["frames"] - present[1].sum()) <= 3 and second["frames_present"][0][0] in range(28, 34)
    assert 0.25 <= second["limb_lengths_m"]["left_upper_arm"] <= 0.35
    worker, _ = exports.read_pose3d_csv(out / "pose3d.csv")
    np.testing.assert_array_equal(worker, exports.read_pose3d_csv(out / "pose3d_p1.csv")[0])
    assert np.nanmean(joint_errors(worker, truth[0])) < 0.015
    assert report["reconstructed_pct"] >= 97 and report["median_reprojection_px"] < 6

    again = triangulate_file(npz, group, out, Options(work_area=(-2.0, 0.0, 2.0, 1.0)))
    assert again["people"]["person_of_interest"] == 2 and again["people"]["selection"] == "work_area"
    chosen = triangulate_file(npz, group, out, Options(person=1, work_area=(-2.0, 0.0, 2.0, 1.0)))
    assert chosen["people"]["person_of_interest"] == 1 and chosen["people"]["selection"] == "chosen"
    with pytest.raises(ProcessError, match="person 5 does not exist"):
        triangulate_file(npz, group, tmp_path / "none", Options(person=5))
    with pytest.raises(ProcessError, match="x0 < x1"):
        triangulate_file(npz, group, tmp_path / "none", Options(work_area=(1.0, 0.0, 0.0, 1.0)))
    assert not (tmp_path / "none").exists()


def test_two_people_in_the_default_work_area_are_reported(tmp_path, scene):
    group, _, _, _ = scene
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, _people_keypoints(scene))
    report = triangulate_file(npz, group, tmp_path / "out")
    codes = [p["code"] for p in report["people"]["problems"]]
    assert codes == ["several_in_work_area"]
    assert report["people"]["problems"][0]["message"] in report["warnings"]


def test_triangulate_reads_a_file_without_offsets(tmp_path, scene):
    group, truth, _, obs = scene
    one = obs.identity[:, 0] == 0                                           # the first 2D track, where it is person 1
    npz = tmp_path / "other-tool.npz"
    np.savez(npz, points=np.where(one[..., None, None], obs.points[:, 0], np.nan).astype(np.float32),
             scores=np.where(one[..., None], obs.scores[:, 0], 0.0).astype(np.float32),
             cameras=np.array(group.names), fps=np.float64(FPS))
    report = triangulate_file(npz, group, tmp_path / "out")
    assert report["sync"]["offsets"] == {name: 0 for name in group.names}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pose3d.c3d", "pose3d.csv", "pose3d.trc",
                                                                   "report.json"]


def test_aligned_keypoints_pad_the_person_axis_and_keep_the_old_keys():
    from reconstruction.pipeline import aligned_keypoints

    rng = np.random.default_rng(0)
    one = (rng.uniform(0, 100, (1, 12, 33, 2)).astype(np.float32), np.full((1, 12, 33), 0.9, np.float32))
    two = (rng.uniform(0, 100, (2, 10, 33, 2)).astype(np.float32), np.full((2, 10, 33), 0.8, np.float32))
    alignment = sync.offset_alignment([12, 10], [2, 0])
    kp = aligned_keypoints(["a", "b"], [one, two], alignment, FPS)
    assert kp.n_frames == 10 and kp.points_people.shape == (2, 2, 10, 33, 2)
    np.testing.assert_array_equal(kp.points_people[0, 0], one[0][0, 2:])
    assert np.isnan(kp.points_people[0, 1]).all() and (kp.scores_people[0, 1] == 0).all()
    np.testing.assert_array_equal(kp.points, kp.points_people[:, 0])
    single = aligned_keypoints(["a", "b"], [one, (two[0][:1], two[1][:1])], alignment, FPS)
    assert single.points_people is None and single.points.shape == (2, 10, 33, 2)
