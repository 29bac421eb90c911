"""Reconstruction against synthetic truth: robust triangulation, filtering, synchronization, pipeline errors."""
from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import CameraGroup
from calibration.io import save_toml
from reconstruction import exports, filtering, metrics, sync
from reconstruction.landmarks import N_JOINTS
from reconstruction.pipeline import Options, ProcessError, process_take, triangulate_file
from reconstruction.triangulate import triangulate, triangulate_plain
from tests.helpers.motion import joint_errors, observe, person_motion
from tests.helpers.synthetic import camera_ring

FPS = 30.0


@pytest.fixture(scope="module")
def scene():
    cameras = camera_ring(6)
    truth = person_motion(600, FPS, seed=1)
    return CameraGroup(cameras), truth


def _reconstruct(group, obs):
    tri = triangulate(group, obs.points, obs.scores)
    return tri, filtering.smooth(tri.points, FPS)


def test_robust_triangulation_meets_the_targets_under_mediapipe_like_corruption(scene):
    group, truth = scene
    obs = observe(list(group.cameras), truth, seed=2)  # 3 px noise, 8 % dropped, 5 % outliers, 3 % swaps
    tri, points = _reconstruct(group, obs)
    err_mm = joint_errors(points, truth) * 1000
    assert np.nanmean(err_mm) <= 15
    assert np.nanpercentile(err_mm, 95) <= 30
    assert np.nanmax(np.nanmean(err_mm, axis=1)) <= 150
    assert metrics.reconstructed_percent(points) >= 98
    plain_mm = np.nanmean(joint_errors(triangulate_plain(group, obs.points, obs.scores), truth)) * 1000
    assert plain_mm > 2 * np.nanmean(err_mm)
    # Most injected swaps (3 % of 600 frames) are recognised and undone.
    assert tri.swapped.sum() >= 12


def test_a_bystander_taking_over_one_camera_is_rejected(scene):
    group, truth = scene
    obs = observe(list(group.cameras), truth, seed=3, outliers=0.0, swaps=0.0, bystander=(2, 100, 300))
    tri, points = _reconstruct(group, obs)
    assert tri.rejected[2, 100:300].mean() > 0.9
    assert tri.rejected[[0, 1, 3, 4, 5]].sum() == 0
    err_mm = joint_errors(points, truth) * 1000
    assert np.nanmean(err_mm[100:300]) <= 15


def test_two_cameras_must_agree(scene):
    group, truth = scene
    obs = observe(list(group.cameras), truth[:20], seed=4, outliers=0, swaps=0, drop=0)
    points, scores = obs.points.copy(), obs.scores.copy()
    scores[1:, :, 0] = 0  # the nose seen by one camera only
    tri = triangulate(group, points, scores)
    assert np.isnan(tri.points[:, 0]).all()
    assert np.isfinite(tri.points[:, 1:]).all()


def test_fill_gaps_fills_short_interior_gaps_only():
    t = np.arange(60, dtype=float)
    points = np.repeat(np.stack([t, 2 * t, -t], 1)[:, None], 2, axis=1)
    points[5:15, 0] = np.nan      # 10 frames: filled
    points[20:31, 0] = np.nan     # 11 frames: kept missing
    points[:3, 1] = np.nan        # at the start: kept missing
    out = filtering.fill_gaps(points)
    np.testing.assert_allclose(out[5:15, 0, 0], t[5:15])
    assert np.isnan(out[20:31, 0]).all() and np.isnan(out[:3, 1]).all()


def test_lowpass_is_zero_phase_and_removes_fast_jitter():
    t = np.arange(600) / 60.0
    slow = np.sin(2 * np.pi * 1.0 * t)
    points = np.zeros((600, 1, 3))
    points[:, 0, 0] = slow + 0.05 * np.sin(2 * np.pi * 20 * t)
    points[300:310, 0] = np.nan
    out = filtering.lowpass(points, 60.0, 6.0)
    inside = np.r_[20:290, 320:580]
    assert np.max(np.abs(out[inside, 0, 0] - slow[inside])) < 0.01  # no lag, jitter gone
    assert np.isnan(out[300:310]).all()
    with pytest.raises(ValueError, match="half the frame rate"):
        filtering.lowpass(points, 10.0, 6.0)


def test_remove_spikes_drops_isolated_jumps():
    points = np.zeros((50, 1, 3))
    points[:, 0, 0] = np.linspace(0, 1, 50)
    points[25, 0, 2] = 0.5
    out = filtering.remove_spikes(points)
    assert np.isnan(out[25, 0]).all() and np.isfinite(np.delete(out, 25, axis=0)).all()


def _shifted(obs, offsets):
    """Each camera's video starts ``offsets[c]`` frames later than the motion: drop its first frames."""
    return [obs.points[c, o:] for c, o in enumerate(offsets)], [obs.scores[c, o:] for c, o in enumerate(offsets)]


def test_auto_sync_recovers_known_offsets(scene):
    group, truth = scene
    obs = observe(list(group.cameras), truth, seed=5)
    true = np.array([0, 7, 3, 12, 0, 5])
    points, scores = _shifted(obs, 12 - true)  # camera c lags by true[c] frames
    speeds = [sync.keypoint_speed(p, s, FPS) for p, s in zip(points, scores)]
    first = sync.auto_offsets(speeds, max_lag=40)
    refined = sync.geometric_offsets(group, points, scores, first.offsets, 40)
    expected = (12 - true) - (12 - true).min()
    expected = expected.max() - expected
    np.testing.assert_array_equal(refined.offsets, expected)
    assert np.abs(first.offsets - expected).max() <= 2


def test_geometric_sync_ignores_a_bystander(scene):
    group, truth = scene
    obs = observe(list(group.cameras), truth, seed=6, bystander=(1, 0, 350))
    points, scores = _shifted(obs, [0, 4, 0, 0, 9, 0])
    refined = sync.geometric_offsets(group, points, scores, np.zeros(6, int), 30)
    np.testing.assert_array_equal(refined.offsets, [9, 5, 9, 9, 0, 9])


def test_timestamp_alignment_marks_dropped_frames():
    period = 1e9 / 30
    a = (np.arange(100) * period).astype(np.int64)
    b = (np.arange(100) * period + 0.3 * period + 5 * period).astype(np.int64)
    b = np.delete(b, [40, 41])  # two frames lost
    al = sync.timestamp_alignment([a, b], 30.0)
    assert al.offsets.tolist() == [5, 0]  # b starts 5.3 periods after a
    assert al.index.shape[1] == 94
    row = al.index[1]
    assert (row == -1).sum() == 2 and row[0] == 0


# --------------------------------------------------------------------------- pipeline inputs and outputs

@pytest.fixture()
def calib_file(tmp_path, scene):
    group, _ = scene
    return save_toml(group, tmp_path / "calibration.toml")


def _keypoints(group, truth, names=None):
    obs = observe(list(group.cameras), truth, seed=7)
    names = names or group.names
    return exports.Keypoints2D(points=obs.points, scores=obs.scores, cameras=tuple(names), fps=FPS,
                               offsets=np.zeros(len(names), np.int64))


def test_triangulate_file_writes_every_output(tmp_path, scene):
    group, truth = scene
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, _keypoints(group, truth[:120]))
    out = tmp_path / "out"
    report = triangulate_file(npz, group, out)
    assert sorted(p.name for p in out.iterdir()) == ["pose3d.c3d", "pose3d.csv", "pose3d.trc", "report.json"]
    points, _ = exports.read_pose3d_csv(out / "pose3d.csv")
    assert points.shape == (120, N_JOINTS, 3)
    assert np.nanmean(joint_errors(points, truth[:120])) < 0.015
    assert report["reconstructed_pct"] >= 98 and set(report["reprojection_px"]) == set(group.names)
    assert report["mean_segment_cv_pct"] < 3


def test_triangulate_file_refuses_an_uncalibrated_camera(tmp_path, scene):
    group, truth = scene
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, _keypoints(group, truth[:10], names=[*group.names[:5], "cam9"]))
    with pytest.raises(ProcessError, match="cam9 is not in the calibration"):
        triangulate_file(npz, group, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_triangulate_file_refuses_wrong_shapes(tmp_path, scene):
    group, _ = scene
    npz = tmp_path / "bad.npz"
    np.savez(npz, points=np.zeros((6, 10, 17, 2), np.float32), scores=np.zeros((6, 10, 17), np.float32),
             cameras=np.array(group.names), fps=np.float64(30), offsets=np.zeros(6, np.int64))
    with pytest.raises(ProcessError, match="33"):
        triangulate_file(npz, group, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _video(path, fps=30, seconds=1.0, size=(320, 240)):
    from capture import demo

    return demo.write_test_pattern(path, "x", width=size[0], height=size[1], fps=fps, seconds=seconds)


def _take(tmp_path, specs):
    take = tmp_path / "take"
    take.mkdir()
    for name, kwargs in specs.items():
        _video(take / f"{name}.mp4", **kwargs)
    return take


def _small_group(names, size=(320, 240)):
    cams = camera_ring(len(names), size=size)
    return CameraGroup([c.__class__(name=n, size=size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                        for n, c in zip(names, cams)])


@pytest.mark.parametrize("specs, sync_method, message", [
    ({"cam1": {"fps": 30}, "cam2": {"fps": 25}}, "auto", "different frame rates"),
    ({"cam1": {"seconds": 1.0}, "cam2": {"seconds": 0.5}}, "none", "different lengths"),
    ({"cam1": {}, "cam2": {"size": (640, 480)}}, "auto", "calibrated at 320x240"),
    ({"cam1": {}, "cam7": {}}, "auto", "cam7 is not in the calibration"),
    ({"cam1": {}, "cam2": {}}, "timestamps", "timestamps.csv: missing"),
])
def test_process_refuses_bad_takes_before_writing_anything(tmp_path, specs, sync_method, message):
    take = _take(tmp_path, specs)
    out = tmp_path / "out"
    with pytest.raises(ProcessError, match=message):
        process_take(take, _small_group(["cam1", "cam2"]), out, Options(sync=sync_method))
    assert not out.exists()


def test_process_refuses_an_empty_take(tmp_path):
    (tmp_path / "take").mkdir()
    with pytest.raises(ProcessError, match="empty"):
        process_take(tmp_path / "take", _small_group(["cam1", "cam2"]), tmp_path / "out")
    (tmp_path / "take" / "cam1.mp4").write_bytes(b"")
    (tmp_path / "take" / "cam2.mp4").write_bytes(b"")
    with pytest.raises(ProcessError, match="cam1"):
        process_take(tmp_path / "take", _small_group(["cam1", "cam2"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()
