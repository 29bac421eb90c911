"""``process`` and ``triangulate`` from the command line, on the real Pose2Sim demo and on bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from capture import demo
from reconstruction import exports
from tests.helpers.paths import ROOT


def run(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def pose2sim(tmp_path_factory):
    """The Pose2Sim demo as an imported take: four unsynchronized videos and the Qualisys calibration."""
    folder = tmp_path_factory.mktemp("pose2sim")
    take = folder / "take"
    take.mkdir()
    for i in range(1, 5):
        (take / f"cam0{i}.mp4").symlink_to(demo.pose2sim_file(f"videos/cam0{i}.mp4"))
    calib = folder / "calibration.toml"
    done = run("calibrate", "import", demo.pose2sim_file("calibration/Calib.qca.txt"), "--out", calib)
    assert done.returncode == 0, done.stderr
    return take, calib


@pytest.fixture(scope="module")
def processed(pose2sim, tmp_path_factory):
    take, calib = pose2sim
    out = tmp_path_factory.mktemp("out")
    done = run("process", take, "--calibration", calib, "--out", out, "--sync", "auto")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


@pytest.mark.slow
def test_process_pose2sim_demo_meets_the_targets(processed):
    out, stdout = processed
    assert "synchronization offsets (frames)" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["cameras"] == ["cam01", "cam02", "cam03", "cam04"]
    # The four videos are within a few frames of each other; every camera agrees with the
    # others' 3D at its offset for most of its detections.
    offsets = report["sync"]["offsets"]
    assert max(offsets.values()) <= 6
    assert min(report["sync"]["score"].values()) >= 0.4
    assert report["median_reprojection_px"] <= 11
    assert report["mean_segment_cv_pct"] <= 6
    assert report["reconstructed_pct"] >= 95
    assert set(report["timings_s"]) >= {"pose2d", "sync", "triangulation", "filtering", "total"}
    assert any("1080x1920" in w for w in report["warnings"])  # two videos are 8 px narrower than calibrated
    kp = exports.load_keypoints(out / "keypoints2d.npz")
    assert kp.points.shape == (4, report["frames"], 33, 2) and kp.fps == pytest.approx(60)
    points, times = exports.read_pose3d_csv(out / "pose3d.csv")
    trc, fps = exports.read_trc(out / "pose3d.trc")
    np.testing.assert_allclose(trc, points, atol=1e-5, equal_nan=True)
    assert fps == pytest.approx(60) and times[1] == pytest.approx(1 / 60, abs=1e-6)


@pytest.mark.slow
def test_triangulate_reproduces_process_from_its_keypoints(processed, pose2sim, tmp_path):
    out, _ = processed
    _, calib = pose2sim
    done = run("triangulate", out / "keypoints2d.npz", "--calibration", calib, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    a, _ = exports.read_pose3d_csv(out / "pose3d.csv")
    b, _ = exports.read_pose3d_csv(tmp_path / "pose3d.csv")
    np.testing.assert_allclose(a, b, atol=1e-6, equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose3d.c3d", "pose3d.csv", "pose3d.trc", "report.json"]
    done = run("triangulate", out / "keypoints2d.npz", "--calibration", calib, "--out", tmp_path / "raw", "--no-filter")
    assert done.returncode == 0 and json.loads((tmp_path / "raw" / "report.json").read_text())["filter"]["cutoff_hz"] is None


@pytest.mark.slow
def test_ergonomics_of_the_pose2sim_demo(processed, tmp_path):
    # The demo person steps sideways with the arms held out: the curves must stay in a human range.
    out, _ = processed
    (tmp_path / "pose3d.csv").write_bytes((out / "pose3d.csv").read_bytes())
    done = run("ergonomics", tmp_path, "--out", tmp_path / "ergonomics.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "ergonomics.json").read_text())
    ranges = {"trunk_flexion": (-30, 45), "trunk_side_bend": (-50, 50), "neck_flexion": (-30, 45),
              "left_upper_arm_elevation": (0, 120), "right_upper_arm_elevation": (0, 120),
              "left_elbow_flexion": (0, 150), "right_elbow_flexion": (0, 150),
              "left_knee_flexion": (0, 100), "right_knee_flexion": (0, 100)}
    for name, (low, high) in ranges.items():
        values = np.array([np.nan if v is None else v for v in report["series"]["angles"][name]], dtype=float)
        assert np.isfinite(values).mean() > 0.95, name
        assert low <= np.nanmin(values) and np.nanmax(values) <= high, (name, np.nanmin(values), np.nanmax(values))
    assert set(report["series"]["rula_score"]) <= set(range(1, 8)) and set(report["series"]["reba_score"]) <= set(
        range(1, 16))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["angles.mot", "ergonomics.csv", "ergonomics.json",
                                                          "pose3d.bvh", "pose3d.csv"]


def test_cli_errors_are_one_line_and_write_nothing(tmp_path):
    from calibration.camera import CameraGroup
    from calibration.io import save_toml
    from tests.helpers.synthetic import camera_ring

    calib = save_toml(CameraGroup(camera_ring(2)), tmp_path / "calibration.toml")
    bad = tmp_path / "bad.npz"
    bad.write_text("not an archive")
    out = tmp_path / "out"
    for args, message in [
        (("triangulate", bad, "--calibration", calib, "--out", out), "bad.npz"),
        (("process", tmp_path, "--calibration", calib, "--out", out), "empty"),
        (("process", tmp_path, "--calibration", calib, "--out", out, "--sync", "sometimes"), "sometimes"),
        (("triangulate", bad, "--calibration", tmp_path / "missing.toml", "--out", out), "missing.toml"),
    ]:
        done = run(*args)
        assert done.returncode != 0
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    assert not out.exists()
