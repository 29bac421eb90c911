"""Calibration accuracy on the synthetic studio (known truth), and detection robustness."""
from dataclasses import replace

import cv2
import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.detect import canonical_order, detect_board
from calibration.extrinsics import calibrate_extrinsics
from calibration.intrinsics import CalibrationError, calibrate_intrinsics
from tests.helpers.studio import run_studio
from tests.helpers.synthetic import camera_ring, intrinsic_poses, project_corners, render_board

BOARD = Checkerboard(9, 6, 115)


def same_order(corners, truth) -> bool:
    """Every corner is nearest to its own true corner (pixel-level detections are enough to tell)."""
    nearest = np.argmin(np.linalg.norm(corners[:, None] - truth[None], axis=2), axis=1)
    return bool((nearest == np.arange(len(truth))).all())


@pytest.fixture(scope="module")
def ring():
    return camera_ring(6, seed=3)


def test_corner_order_survives_half_turns_and_detectors(ring):
    cam = ring[0]
    for v, (R, t) in enumerate(intrinsic_poses(cam, BOARD, 6, seed=5)):
        img = render_board(cam, BOARD, R, t, seed=v, blur_sigma=1.2, noise_sigma=3, contrast=0.6, light_gradient=0.5)
        truth = project_corners(cam, BOARD, R, t)
        det = detect_board(img, BOARD)
        assert det is not None
        error = np.linalg.norm(det.corners - truth, axis=1)
        assert np.median(error) < 0.1 and error.max() < 1.0  # right order, sub-pixel (worst: a corner at the border)
        turned = detect_board(img[::-1, ::-1].copy(), BOARD)  # the board seen upside down
        h, w = img.shape
        assert np.abs((np.array([w - 1, h - 1]) - turned.corners) - truth).max() < 1.0
        ok, classic = cv2.findChessboardCorners(img, BOARD.pattern_size)  # the other detector, its own order
        if ok:
            ordered = canonical_order(classic.reshape(-1, 2).astype(float), img, BOARD)
            assert same_order(ordered, truth)
            mirrored = classic.reshape(BOARD.rows, BOARD.cols, 2)[:, ::-1].reshape(-1, 2).astype(float)
            assert same_order(canonical_order(mirrored, img, BOARD), truth)


def test_intrinsics_refuse_few_or_clustered_views(ring):
    cam = ring[1]
    poses = intrinsic_poses(cam, BOARD, 8, seed=1)
    dets = [detect_board(render_board(cam, BOARD, R, t, seed=i), BOARD) for i, (R, t) in enumerate(poses)]
    with pytest.raises(CalibrationError, match="at least 6 are needed"):
        calibrate_intrinsics(dets[:4], BOARD, cam.name, cam.size)
    middle = np.array(cam.size) / 2
    clustered = [replace(d, corners=middle + 0.3 * (d.corners - middle)) for d in dets]  # all near the centre
    with pytest.raises(CalibrationError, match="cover"):
        calibrate_intrinsics(clustered, BOARD, cam.name, cam.size)


def test_camera_sharing_no_view_is_named(ring):
    cams = ring[:3]
    from calibration.camera import CameraGroup
    from calibration.detect import Detection

    group = CameraGroup([c.with_pose(np.zeros(3), np.zeros(3)) for c in cams])
    det = Detection(np.zeros((54, 2)), np.arange(54), (1280, 720), "x")
    with pytest.raises(CalibrationError, match="cam3 shares no board view"):
        calibrate_extrinsics(group, {"cam1": {"a": det}, "cam2": {"a": det}, "cam3": {"b": det}}, BOARD)


@pytest.mark.slow
def test_studio_accuracy_beats_the_targets():
    """6 cameras around a 3 m circle, 60 board moments: the issue's figures."""
    metrics = run_studio(moments=60, refine_intrinsics=True).metrics
    assert metrics["focal_error_pct_max"] <= 0.3
    assert metrics["principal_point_error_px_max"] <= 2.0
    assert metrics["camera_centre_error_mm_max"] <= 5.0
    assert metrics["relative_rotation_error_deg_max"] <= 0.1
    assert metrics["scale_error_pct"] <= 0.1
    assert metrics["outliers_removed"] == 0
    assert max(metrics["extrinsic_median_reprojection_px"].values()) < 0.2


def test_extrinsics_refuse_ambiguous_boards_and_wrong_resolutions(ring):
    from calibration.camera import CameraGroup
    from calibration.detect import Detection

    group = CameraGroup(ring[:2])
    det = Detection(np.zeros((54, 2)), np.arange(54), (1280, 720), "x")
    views = {"cam1": {"a": det}, "cam2": {"a": det}}
    with pytest.raises(CalibrationError, match="half a turn"):
        calibrate_extrinsics(group, views, Checkerboard(8, 6, 100))
    small = Detection(np.zeros((54, 2)), np.arange(54), (640, 360), "x")
    with pytest.raises(CalibrationError, match="cam2: its views are 640x360 but its intrinsics are for 1280x720"):
        calibrate_extrinsics(group, {"cam1": {"a": det}, "cam2": {"a": small}}, BOARD)
