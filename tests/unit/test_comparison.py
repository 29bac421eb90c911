"""Scoring attempts against a reference on synthetic motions with known relations."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from reconstruction.exports import write_pose3d_csv
from scoring.motion import ComparisonError, Step, compare, compare_folders, dtw, joint_angles
from tests.helpers.motion import person_motion, slower
from tests.helpers.paths import ROOT

FPS = 30.0


@pytest.fixture(scope="module")
def reference():
    return person_motion(600, FPS, seed=1)


def test_joint_angles_of_a_known_pose():
    pose = np.zeros((1, 33, 3))
    pose[0, 11], pose[0, 13], pose[0, 15] = [0, 0.2, 1.4], [0, 0.2, 1.1], [0.3, 0.2, 1.1]   # left arm: 90 deg elbow
    pose[0, 12], pose[0, 14], pose[0, 16] = [0, -0.2, 1.4], [0, -0.2, 1.1], [0, -0.2, 0.8]  # right arm straight
    pose[0, 23], pose[0, 24] = [0, 0.1, 0.9], [0, -0.1, 0.9]
    pose[0, 25], pose[0, 26], pose[0, 27], pose[0, 28] = [0, 0.1, 0.5], [0, -0.1, 0.5], [0, 0.1, 0.1], [0, -0.1, 0.1]
    angles = joint_angles(pose)[0]
    np.testing.assert_allclose(angles[[0, 1, 6, 7, 8]], [90, 180, 180, 180, 0], atol=1e-6)
    assert np.isnan(joint_angles(np.full((1, 33, 3), np.nan))).all()


def test_dtw_recovers_a_known_warp():
    a = np.sin(np.linspace(0, 6, 50))
    b = np.sin(np.linspace(0, 6, 80))
    path = dtw(np.abs(a[:, None] - b[None, :]))
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (49, 79)
    assert (np.diff(path, axis=0) >= 0).all()
    np.testing.assert_allclose(path[:, 0] / 49, path[:, 1] / 79, atol=0.06)


def test_the_same_take_scores_at_least_99(reference):
    steps = [Step("first", 0, 8), Step("second", 8, 19.9)]
    result = compare(reference, reference, FPS, FPS, steps)
    assert result["score"] >= 99
    assert [s["score"] for s in result["per_step"]] == [100.0, 100.0]
    assert result["speed_ratio"] == pytest.approx(1.0, abs=0.01)


def test_the_same_motion_30_percent_slower_scores_at_least_90(reference):
    result = compare(slower(reference, 1.3), reference, FPS, FPS)
    assert result["score"] >= 90
    assert result["speed_ratio"] == pytest.approx(1.3, abs=0.05)
    # The alignment maps attempt time to reference time at the 1.3 ratio.
    times = np.array(result["alignment"])
    np.testing.assert_allclose(times[:, 0], 1.3 * times[:, 1], atol=0.6)


def test_a_different_task_scores_clearly_lower(reference):
    same = compare(slower(reference, 1.3), reference, FPS, FPS)["score"]
    other = compare(person_motion(600, FPS, seed=1, task="lift"), reference, FPS, FPS)
    assert other["score"] <= 70 and other["score"] <= same - 25
    assert len(other["worst"]) == 3
    assert {m["joint"] for m in other["worst"]} <= set(other["per_joint"])


def test_reconstruction_noise_costs_little(reference):
    noisy = reference + np.random.default_rng(0).normal(0, 0.005, reference.shape)  # 5 mm, unfiltered
    assert compare(noisy, reference, FPS, FPS)["score"] >= 90


def test_per_step_scores_find_the_wrong_step(reference):
    attempt = reference.copy()
    attempt[300:600] = person_motion(600, FPS, seed=1, task="lift")[300:600]  # second half done differently
    result = compare(attempt, reference, FPS, FPS, [Step("first", 0, 9.5), Step("second", 10.5, 19.9)])
    first, second = (s["score"] for s in result["per_step"])
    assert first >= 90 and second <= first - 20
    assert all(m["reference_s"] >= 9 for m in result["worst"][:1])


def test_compare_command_writes_the_contract_file(tmp_path, reference):
    ref_dir, att_dir = tmp_path / "reference", tmp_path / "attempt"
    ref_dir.mkdir()
    att_dir.mkdir()
    write_pose3d_csv(ref_dir / "pose3d.csv", reference, FPS)
    write_pose3d_csv(att_dir / "pose3d.csv", slower(reference, 1.3), FPS)
    (ref_dir / "steps.json").write_text(json.dumps([{"name": "all", "start_s": 0, "end_s": 19}]))
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "compare", att_dir, ref_dir, "--out", out],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["score"] >= 90 and result["per_step"][0]["name"] == "all"
    assert set(result["per_joint"]) == {"left_elbow", "right_elbow", "left_shoulder", "right_shoulder", "left_hip",
                                        "right_hip", "left_knee", "right_knee", "trunk_inclination"}
    assert "score" in done.stdout

    (ref_dir / "steps.json").write_text(json.dumps([{"name": "", "start_s": 3, "end_s": 1}]))
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "compare", att_dir, ref_dir, "--out",
                           tmp_path / "bad.json"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "step 1" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "bad.json").exists()


def test_compare_folders_needs_processed_takes(tmp_path, reference):
    (tmp_path / "a").mkdir()
    (tmp_path / "r").mkdir()
    write_pose3d_csv(tmp_path / "r" / "pose3d.csv", reference, FPS)
    with pytest.raises(ComparisonError, match="no pose3d.csv"):
        compare_folders(tmp_path / "a", tmp_path / "r")
    write_pose3d_csv(tmp_path / "a" / "pose3d.csv", np.full((20, 33, 3), np.nan), FPS)
    with pytest.raises(ComparisonError, match="too few joints"):
        compare_folders(tmp_path / "a", tmp_path / "r")
