"""Angles and RULA from a reconstructed skeleton against the synthetic truth.

The forward-kinematic person of tests/helpers/motion.py (walking, and lifting from low with the trunk
bent forwards) is seen by 6 calibrated cameras with MediaPipe-like corruptions (3 px noise,
8 % of joints dropped, 5 % confident outliers, 3 % of frames with left and right swapped in one
camera), reconstructed as the pipeline does (robust triangulation, spike removal, gap filling,
6 Hz low-pass), and its angles compared with those of the noise-free skeleton (same definitions).
"""
import numpy as np
import pytest

from calibration.camera import CameraGroup
from reconstruction import filtering
from reconstruction.triangulate import triangulate
from scoring.angles import compute_angles
from scoring.rula import rula_scores
from tests.helpers.motion import observe, person_motion
from tests.helpers.synthetic import camera_ring

FPS = 30.0
CHECKED = ("trunk_flexion", "left_upper_arm_elevation", "right_upper_arm_elevation", "left_upper_arm_flexion",
           "right_upper_arm_flexion", "left_elbow_flexion", "right_elbow_flexion", "left_knee_flexion",
           "right_knee_flexion")


def reconstructed(truth: np.ndarray, seed: int) -> np.ndarray:
    group = CameraGroup(camera_ring(6))
    obs = observe(list(group.cameras), truth, seed=seed)
    tri = triangulate(group, obs.points, obs.scores)
    return filtering.smooth(tri.points, FPS)


@pytest.fixture(scope="module", params=["walk", "lift"])
def scene(request):
    truth = person_motion(900, FPS, seed=1, task=request.param)
    return request.param, compute_angles(truth), compute_angles(reconstructed(truth, seed=2))


def test_angle_rmse_within_3_degrees(scene):
    task, truth, estimate = scene
    for name in CHECKED:
        error = estimate[name] - truth[name]
        assert np.isfinite(error).mean() > 0.99, name
        rmse = float(np.sqrt(np.nanmean(error**2)))
        assert rmse <= 3.0, f"{task} {name}: RMSE {rmse:.2f} deg"


def test_rula_action_level_agrees_on_95_percent_of_frames(scene):
    task, truth, estimate = scene
    same = rula_scores(estimate)["rula_action_level"] == rula_scores(truth)["rula_action_level"]
    assert same.mean() >= 0.95, f"{task}: {100 * same.mean():.1f} %"


def test_the_lift_bends_the_trunk(scene):
    task, truth, _ = scene
    if task == "lift":
        assert np.nanmax(truth["trunk_flexion"]) > 40  # the lift covers RULA's 20-60 deg trunk band
        assert np.nanmax(truth["left_knee_flexion"]) > 60
