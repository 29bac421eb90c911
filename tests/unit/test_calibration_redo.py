"""Batch board detection (quick rejection, worker processes) and "cameras moved: redo positions",
on the synthetic studio (known truth)."""
import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.camera import CameraGroup
from calibration.detect import detect_board, find_board
from calibration.extrinsics import redo_positions
from calibration.intrinsics import CalibrationError
from calibration.io import load_toml, save_toml
from calibration.parallel import run_tasks
from calibration.pipeline import detections_from_frames
from tests.helpers.studio import moved_rig_folder
from tests.helpers.synthetic import camera_ring, extrinsic_moments, intrinsic_poses, project_corners, render_board

BOARD = Checkerboard(9, 6, 115)


def _find(task):
    return find_board(task[1], BOARD)


def test_find_board_finds_what_the_thorough_search_finds():
    """Whole boards near the image's corners (outer squares cut), at steep angles, and pictures
    without a board: the quick path agrees with every detector run on the whole picture."""
    cams = camera_ring(6, seed=0)
    pictures = [render_board(cams[0], BOARD, R, t, seed=v, contrast=0.6 if v % 2 else 1.0, light_gradient=0.3)
                for v, (R, t) in enumerate(intrinsic_poses(cams[0], BOARD, 8, seed=3))]
    truth = [project_corners(cams[0], BOARD, R, t) for R, t in intrinsic_poses(cams[0], BOARD, 8, seed=3)]
    poses, _ = extrinsic_moments(cams, BOARD, 3, seed=7)
    for R, t in poses:
        for k in range(len(cams)):  # every camera: the board whole, cut, from behind or out of view
            pictures.append(render_board(cams[k], BOARD, R, t, seed=k, light_gradient=0.2))
            truth.append(project_corners(cams[k], BOARD, R, t))
    quick = {k: det for (k, _), det in run_tasks(_find, enumerate(pictures), workers=2)}  # on worker processes
    for k, (image, true) in enumerate(zip(pictures, truth)):
        thorough, fast = detect_board(image, BOARD), quick[k]
        assert (fast is None) == (thorough is None)
        if fast is not None:
            assert np.median(np.linalg.norm(fast.corners - true, axis=1)) < 0.2
    assert sum(d is None for d in quick.values()) >= 5  # the pictures without a (whole) board were seen


def test_redo_positions_recovers_a_moved_camera(tmp_path):
    """Cam3 is moved 25 cm and turned 8 deg after calibration: new board views with the
    intrinsics kept give its new pose (world frame from the floor board)."""
    calibration, moved = moved_rig_folder(tmp_path)
    detections, _ = detections_from_frames(tmp_path, calibration.names, BOARD)
    result = redo_positions(calibration, detections, BOARD, floor_moment="floor")
    errors_mm = [1000 * np.linalg.norm(a.center - b.center) for a, b in zip(result.group.cameras, moved)]
    assert max(errors_mm) <= 5.0, errors_mm
    assert errors_mm[2] <= 5.0
    changes = {c["name"]: c for c in result.group.metadata["position_changes"]}
    assert abs(changes["cam3"]["centre_shift_mm"] - 250) < 5 and abs(changes["cam3"]["rotation_deg"] - 8) < 0.1
    assert all(c["centre_shift_mm"] < 5 for n, c in changes.items() if n != "cam3")
    assert result.group.metadata["intrinsics"] == {"note": "kept"}
    for before, after in zip(calibration.cameras, result.group.cameras):
        assert np.array_equal(before.matrix, after.matrix) and np.array_equal(before.dist, after.dist)
    # The moves are kept in the saved calibration.toml (the wizard saves what it solved).
    kept = {k: v for k, v in result.group.metadata.items() if k != "intrinsics"}  # this rig's stand-in intrinsics
    saved = load_toml(save_toml(CameraGroup(result.group.cameras, kept), tmp_path / "calibration.toml"))
    assert saved.metadata["position_changes"] == pytest.approx(result.group.metadata["position_changes"])


def test_redo_positions_needs_every_camera():
    truth = camera_ring(3, seed=0)
    det = detect_board(render_board(truth[0], BOARD, *intrinsic_poses(truth[0], BOARD, 1, seed=1)[0], seed=0), BOARD)
    with pytest.raises(CalibrationError, match="no board views for camera cam3"):
        redo_positions(CameraGroup(truth), {"cam1": {"a": det}, "cam2": {"a": det}}, BOARD)
