"""VSION's own BlazePose runtime: model files, detector decoding, regions, landmarks, multi-person tracking,
chunked videos, and equivalence with MediaPipe's legacy Pose graph on the Pose2Sim demo."""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import shutil

import av
import cv2
import numpy as np
import pytest

from capture import demo
from reconstruction import models
from reconstruction.blazepose import (
    N_ANCHORS,
    Detector,
    OneEuroFilter,
    Roi,
    crop,
    project,
    refine_on_heatmap,
    roi_from_keypoints,
    ssd_anchors,
    weighted_nms,
)
from reconstruction.landmarks import N_JOINTS
from reconstruction.pose2d import estimate_videos
from reconstruction.pose_runtime import (
    MultiPoseEstimator,
    PeopleArrays,
    PersonPose,
    identity_jumps,
    join_chunks,
    link_tracks,
    main_track,
    stack_people,
)

FRAMES = 8  # frames per video in the fast tests


def first_frames(path, n: int = FRAMES) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), container.decode(video=0))]


def single(camera: int):
    return demo.pose2sim_file(f"videos/cam0{camera}.mp4")


def multi(camera: int):
    return demo.pose2sim_file(f"videos/cam0{camera}.mp4", demo.POSE2SIM_MULTI_DEMO)


def legacy_points(path: str, n: int) -> np.ndarray:
    """``(n, 33, 2)`` px: MediaPipe's legacy graph on the first ``n`` frames (run in its own process)."""
    from reconstruction.pose2d import PoseEstimator

    with PoseEstimator() as estimator:
        return np.array([estimator.process(rgb)[0] for rgb in first_frames(path, n)])


def in_own_process(fn, *args):
    """Two TFLite builds in one process can share native symbols; each engine gets its own process."""
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture(scope="module")
def estimator():
    return MultiPoseEstimator(max_people=4)


# ---------------------------------------------------------------------------------------------- model files
def test_models_come_from_the_installed_wheel_and_are_checked(tmp_path):
    for model in models.MODELS:
        path = models.model_path(model)
        assert path.is_file() and models._digest(path) == model.sha256
        assert "mediapipe==0.10.21" in model.source and "Apache-2.0" in model.source
    with pytest.raises(models.ModelError, match="pose_detection: .* is missing; .*pip install mediapipe==0.10.21"):
        models.model_path(models.POSE_DETECTOR, root=tmp_path)
    fake = tmp_path / models.POSE_LANDMARKS.member
    fake.parent.mkdir(parents=True)
    shutil.copyfile(models.model_path(models.POSE_LANDMARKS), fake)
    with open(fake, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(models.ModelError, match=r"pose_landmark_full: .* \(SHA-256 differs"):
        models.model_path(models.POSE_LANDMARKS, root=tmp_path)


# ---------------------------------------------------------------------------------------------- geometry
def test_anchors_follow_the_detector_graph():
    anchors = ssd_anchors()
    assert anchors.shape == (N_ANCHORS, 2) and anchors.dtype == np.float32
    # stride 8: 28 x 28 cells x 2 anchors, then stride 16: 14 x 14 x 2, then stride 32 (3 layers): 7 x 7 x 6
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], 0.5 / 28)
    assert np.allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(anchors[28 * 28 * 2], 0.5 / 14)
    assert np.allclose(anchors[28 * 28 * 2 + 14 * 14 * 2:][:6], 0.5 / 7)
    assert np.allclose(anchors[-1], 6.5 / 7)


def test_region_from_keypoints_points_the_body_up():
    upright = roi_from_keypoints(np.array([100.0, 200.0]), np.array([100.0, 150.0]))
    assert (upright.x, upright.y, upright.size) == (100.0, 200.0, 125.0) and upright.rotation == pytest.approx(0)
    lying = roi_from_keypoints(np.array([100.0, 200.0]), np.array([150.0, 200.0]))  # head to the right
    assert lying.rotation == pytest.approx(math.pi / 2)
    for roi, point in ((upright, (100, 150)), (lying, (150, 200))):
        # the body-circle point lies straight above the centre of the region's picture, 0.4 of a side away
        assert np.allclose(project(np.array([0.5, 0.1]), roi), point, atol=1e-6)


def test_crop_and_project_are_inverse():
    rgb = np.zeros((400, 600, 3), np.uint8)
    cv2.circle(rgb, (420, 130), 3, (255, 255, 255), -1)
    roi = Roi(380.0, 180.0, 200.0, rotation=0.6)
    image = crop(rgb, roi.x, roi.y, roi.size, roi.size, roi.rotation, 256, cv2.BORDER_REPLICATE)
    ys, xs = np.nonzero(image[:, :, 0] > 128)
    spot = np.array([xs.mean() + 0.5, ys.mean() + 0.5]) / 256  # pixel centres, in [0, 1] of the region
    assert np.allclose(project(spot, roi), (420, 130), atol=1.5)
    assert Roi(0, 0, 10).iou(Roi(0, 0, 10)) == 1 and Roi(0, 0, 10).iou(Roi(20, 0, 10)) == 0
    assert Roi(0, 0, 10).iou(Roi(5, 0, 10)) == pytest.approx(50 / 150)


def test_weighted_nms_keeps_every_person():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [51, 50, 61, 60]], np.float64)
    scores = np.array([0.9, 0.6, 0.8, 0.7])
    keypoints = np.arange(4 * 4 * 2, dtype=np.float64).reshape(4, 4, 2)
    out = weighted_nms(scores, boxes, keypoints)
    assert [s for s, _, _ in out] == [0.9, 0.8]
    assert np.allclose(out[0][1], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5)
    assert np.allclose(out[1][2], (0.8 * keypoints[2] + 0.7 * keypoints[3]) / 1.5)


def test_heatmap_refinement():
    logits = np.full((64, 64, 3), -10.0, np.float32)
    logits[30, 20, 0] = logits[30, 21, 0] = 10.0  # landmark 0: a peak between two cells
    logits[10, 10, 2] = -1.0  # landmark 2: confidence below 0.5 everywhere
    xy = np.array([[22.5 / 64, 29.2 / 64], [-0.5, 0.5], [10.1 / 64, 10.2 / 64]], np.float32)
    out = refine_on_heatmap(xy, logits)
    assert np.allclose(out[0], (20.5 / 64, 30 / 64), atol=1e-3)
    assert np.array_equal(out[1:], xy[1:])  # outside the heatmap; too weak


def test_one_euro_filter():
    f = OneEuroFilter(0.01, 10.0, 1.0, hz=30.0)
    assert np.array_equal(f(np.array([5.0, 7.0])), [5.0, 7.0])  # the first value passes
    assert np.allclose(f(np.array([5.0, 7.0])), [5.0, 7.0])
    moved = [f(np.array([15.0, 7.0]), value_scale=0.01)[0] for _ in range(30)]
    assert 5 < moved[0] < 15 and np.all(np.diff(moved) >= 0) and moved[-1] == pytest.approx(15, abs=0.5)


# ---------------------------------------------------------------------------------------------- detector
def test_detector_on_real_pictures():
    detector = Detector()
    rgb = first_frames(single(1), 1)[0]
    found = detector(rgb)
    assert found and found[0].score > 0.9
    best = found[0]
    assert best.box.shape == (4,) and best.keypoints.shape == (4, 2)
    height, width = rgb.shape[:2]
    assert 0 < best.roi.x < width and 0 < best.roi.y < height and height / 3 < best.roi.size < 2 * height
    assert detector(np.full((480, 640, 3), 127, np.uint8)) == []
    # the second person of Demo_MultiPerson's cam03 is too small in the letterboxed picture: the tiles find her
    crowd = first_frames(multi(3), 1)[0]
    assert len(Detector(tiles=False)(crowd)) == 1 and len(Detector(tiles=True)(crowd)) == 2


# ---------------------------------------------------------------------------------------------- tracking
def test_estimator_follows_one_person_like_the_legacy_graph(estimator):
    path = single(1)
    estimator.reset()
    people = [estimator.process(rgb) for rgb in first_frames(path)]
    assert all(len(p) == 1 and p[0].track_id == 0 for p in people)
    pose = people[0][0]
    assert pose.points.shape == (N_JOINTS, 2) and pose.points.dtype == np.float32 and pose.scores.dtype == np.float32
    assert 0 <= pose.scores.min() and pose.scores.max() <= 1 and pose.presence > 0.9
    assert estimator.detections == 1
    reference = in_own_process(legacy_points, str(path), FRAMES)
    gap = np.linalg.norm(np.array([p[0].points for p in people]) - reference, axis=-1)
    assert np.median(gap[0]) < 0.1  # the same detection and the same region: the same landmarks
    assert np.median(gap) < 2.0


def test_estimator_finds_two_people_and_keeps_their_ids(estimator):
    for camera in (1, 2, 4):
        estimator.reset()
        frames = [estimator.process(rgb) for rgb in first_frames(multi(camera))]
        assert all([p.track_id for p in people] == [0, 1] for people in frames), camera
        people = stack_people(frames)
        assert people.points.shape == (2, FRAMES, N_JOINTS, 2) and identity_jumps(people.points) == 0


def test_estimator_keeps_an_id_across_a_gap_and_resets(estimator):
    frames = first_frames(single(2))
    estimator.reset()
    blank = np.full_like(frames[0], 127)
    seen = [estimator.process(rgb) for rgb in frames[:3] + [blank] + frames[3:]]
    assert seen[3] == [] and all([p.track_id for p in people] == [0] for people in seen[:3] + seen[4:])
    estimator.reset()
    assert [p.track_id for p in estimator.process(frames[0])] == [0]
    with pytest.raises(ValueError, match="uint8 RGB"):
        estimator.process(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="at least 1"):
        MultiPoseEstimator(max_people=0)


# ---------------------------------------------------------------------------------------------- video level
def person(track_id: int, x: float, size: float = 100.0) -> PersonPose:
    points = np.tile(np.array([x, 50.0], np.float32), (N_JOINTS, 1)) + np.arange(N_JOINTS, dtype=np.float32)[:, None]
    return PersonPose(track_id, points, np.full(N_JOINTS, 0.9, np.float32), Roi(x, 50.0, size), 1.0)


def test_stacking_and_the_main_person():
    frames = [[person(3, 10)], [person(3, 12), person(5, 300, size=400)], [], [person(5, 302, size=400)]]
    people = stack_people(frames)
    assert people.ids.tolist() == [3, 5] and people.points.shape == (2, 4, N_JOINTS, 2)
    assert people.present.tolist() == [[True, True, False, False], [False, True, False, True]]
    assert np.isnan(people.points[0, 2]).all() and not people.scores[0, 2].any()
    assert main_track(people.sizes) == 1  # seen less often but much larger
    assert main_track(stack_people([[], []]).sizes) is None


def test_chunks_are_joined_by_landmark_proximity():
    a = stack_people([[person(0, 10), person(1, 300)]] * 3)
    b = stack_people([[person(0, 302), person(1, 400), person(2, 12)]] * 3)  # other ids, other order, a newcomer
    assert link_tracks(a, b) == {0: 1, 2: 0}
    joined = join_chunks([a, b])
    assert joined.points.shape == (3, 6, N_JOINTS, 2)
    assert np.allclose(joined.points[0, :, 0, 0], [10, 10, 10, 12, 12, 12])
    assert np.allclose(joined.points[1, :, 0, 0], [300, 300, 300, 302, 302, 302])
    assert joined.present[2].tolist() == [False] * 3 + [True] * 3
    empty = PeopleArrays(np.zeros((0, 3, N_JOINTS, 2), np.float32), np.zeros((0, 3, N_JOINTS), np.float32),
                         np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
    assert join_chunks([empty, b]).points.shape == (3, 6, N_JOINTS, 2)


def test_estimate_videos_options(tmp_path):
    with pytest.raises(ValueError, match="unknown 2D pose engine 'openpose'"):
        estimate_videos({"cam1": single(1)}, engine="openpose")
    with pytest.raises(ValueError, match="max_people must be at least 1"):
        estimate_videos({"cam1": single(1)}, max_people=0)


@pytest.mark.slow
def test_chunked_video_keeps_people_rows():
    """Demo_MultiPerson cam01 in chunks of 30 frames: the same two rows as in one chunk."""
    path = multi(1)
    whole = estimate_videos({"cam01": path}, workers=1, chunk_frames=1000)["cam01"]
    chunked = estimate_videos({"cam01": path}, workers=2, chunk_frames=30)["cam01"]
    assert whole.points_people.shape == chunked.points_people.shape == (2, 100, N_JOINTS, 2)
    assert chunked.scores_people.shape == (2, 100, N_JOINTS) and chunked.main == whole.main
    gap = np.linalg.norm(whole.points_people - chunked.points_people, axis=-1)
    assert np.nanmedian(gap) < 3.0
    assert np.array_equal(chunked.points, chunked.points_people[chunked.main], equal_nan=True)


@pytest.mark.slow
def test_equivalence_with_the_legacy_graph_on_demo_single_person():
    videos = {f"cam0{c}": single(c) for c in range(1, 5)}
    new = estimate_videos(videos, workers=2)
    old = estimate_videos(videos, workers=2, engine="legacy")
    for camera in videos:
        a, b = new[camera].points, old[camera].points
        gap = np.linalg.norm(a - b, axis=-1)
        assert np.isnan(a[:, 0, 0]).sum() <= np.isnan(b[:, 0, 0]).sum() + 2, camera
        assert np.nanmedian(gap) < 2.0, (camera, np.nanmedian(gap))
        assert new[camera].points_people.shape[0] == 1, camera


@pytest.mark.slow
def test_two_people_on_demo_multi_person():
    videos = {f"cam0{c}": multi(c) for c in range(1, 5)}
    result = estimate_videos(videos, workers=2)
    rates = []
    for camera, keypoints in result.items():
        points = keypoints.points_people
        assert 2 <= points.shape[0] <= 3 and identity_jumps(points) == 0, camera
        rates.append(np.mean((~np.isnan(points[:, :, 0, 0])).sum(axis=0) >= 2))
    assert np.mean(rates) >= 0.75 and min(rates) >= 0.4, rates
