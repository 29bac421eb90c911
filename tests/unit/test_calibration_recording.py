"""Calibration from a recorded take: the timing rule, the usable views, a take of the synthetic
studio against the truth, and a take without the board."""
import subprocess
import sys

import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.camera import CameraGroup
from calibration.detect import detect_board
from calibration.intrinsics import CalibrationError
from calibration.recording import (
    ScanOptions,
    _Cursor,
    _looks_together,
    extrinsics_from_take,
    intrinsics_from_take,
)
from calibration.views import MAX_BLUR_PX, edge_blur_px
from tests.helpers.paths import ROOT
from tests.helpers.studio import _write_held_video, compare, recorded_take, wizard_videos
from tests.helpers.synthetic import camera_ring, intrinsic_poses, render_board

BOARD = Checkerboard(9, 6, 115)


def _frames(start_s: float, period_s: float, n: int, tag: int):
    """Tiny pictures whose first pixel says which camera and frame they are."""
    for i in range(n):
        image = np.zeros((4, 4), np.uint8)
        image[0, 0], image[0, 1] = tag, i
        yield start_s + i * period_s, image


def test_cameras_are_together_only_within_half_a_frame_period():
    """At 10 fps, a camera 30 ms behind the reference is paired frame for frame; one 60 ms
    behind sits out the first reference frame (60 ms away) and joins the others with the frame
    before, 40 ms earlier; one at a lower rate joins only the reference frames it has a picture
    for within 50 ms."""
    cursors = {"ref": _Cursor(_frames(0.0, 0.1, 20, 1)), "late": _Cursor(_frames(0.03, 0.1, 20, 2)),
               "later": _Cursor(_frames(0.06, 0.1, 20, 3)), "slow": _Cursor(_frames(0.0, 0.3, 8, 4))}
    times: dict = {}
    looks = list(_looks_together(cursors, 0.0, BOARD, 0.2, times))
    by_camera: dict = {}
    for look in looks:
        by_camera.setdefault(look.camera, []).append((look.sample, look.time_s, int(look.image[0, 1])))
    assert [frame for _, _, frame in by_camera["ref"]] == list(range(0, 19, 2))
    for sample, t, _ in by_camera["late"] + by_camera["later"]:
        assert abs(t - times[sample]) <= 0.05 + 1e-9
    assert [frame for _, _, frame in by_camera["late"]] == list(range(0, 19, 2))
    assert [frame for _, _, frame in by_camera["later"]] == list(range(1, 18, 2))
    assert [times[s] for s, _, _ in by_camera["slow"]] == pytest.approx([0.0, 0.6, 1.2, 1.8])
    for look in looks:  # the frame after the looked-at one comes along, for the stillness check
        assert int(look.following[0, 1]) == int(look.image[0, 1]) + 1


def test_edge_blur_tells_sharp_from_blurred_views():
    cam = camera_ring(1, seed=0)[0]
    R, t = intrinsic_poses(cam, BOARD, 1, seed=3)[0]
    sharp = render_board(cam, BOARD, R, t, seed=0, blur_sigma=0.8)
    blurred = render_board(cam, BOARD, R, t, seed=0, blur_sigma=3.0)
    det = detect_board(sharp, BOARD)
    assert edge_blur_px(sharp, det) < 1.5 < MAX_BLUR_PX < edge_blur_px(blurred, det)


def _empty_take(folder, cams):
    """A take of 12 frames per camera (10 fps) of the room without the board."""
    folder.mkdir()
    for k, cam in enumerate(cams):
        image = render_board(cam, BOARD, np.eye(3), np.array([0.0, 0.0, -50.0]), seed=k)
        _write_held_video(folder / f"{cam.name}.mp4", [(image, 12)], 10)
        rows = [f"{i},{i * 9000},{10**12 + i * 10**8},{10**18 + i * 10**8},0" for i in range(12)]
        (folder / f"{cam.name}.timestamps.csv").write_text("frame,pts,monotonic_ns,wall_time_ns,missing_before\n"
                                                           + "\n".join(rows) + "\n")
    return folder


def test_a_take_without_the_board_is_refused(tmp_path):
    cams = camera_ring(2, seed=0)
    take = _empty_take(tmp_path / "take", cams)
    with pytest.raises(CalibrationError, match=r"no 9x6 checkerboard, 115 mm squares in the recording \(frames read: "
                                               r"cam1 12, cam2 12\)"):
        intrinsics_from_take(take, BOARD, options=ScanOptions(workers=1))
    with pytest.raises(CalibrationError, match="no 9x6 checkerboard"):
        extrinsics_from_take(take, CameraGroup(cams), BOARD, options=ScanOptions(workers=1))
    with pytest.raises(CalibrationError, match="no camera video"):
        intrinsics_from_take(tmp_path, BOARD)


@pytest.mark.slow
def test_calibration_from_a_recorded_take_meets_the_live_wizard_accuracy(tmp_path):
    """The live wizard's videos of the synthetic studio, as a recorded take whose cameras run
    free (offsets up to 0.4 frame, jitter): each camera's intrinsics, then the positions and
    the floor from the same take; the live wizard test's bounds."""
    videos = wizard_videos()
    take = recorded_take(videos, tmp_path / "take")
    calls = []
    intrinsics = intrinsics_from_take(take, videos.board, progress=lambda *a: calls.append(a))
    assert calls[-1][0] == calls[-1][1] or calls[-1][2].startswith("intrinsics")
    for cam in videos.truth:
        found = intrinsics[cam.name]
        assert found.rms_px < 0.3 and found.used >= 8 and abs(found.camera.matrix[0, 0] / cam.matrix[0, 0] - 1) < 0.01
    group = CameraGroup([intrinsics[c.name].camera for c in videos.truth])
    floor = (videos.loop_s - 4.0 - 0.1, videos.loop_s)
    result = extrinsics_from_take(take, group, videos.board, floor_window_s=floor)
    errors = compare(videos.truth, list(result.group.cameras))
    assert errors["camera_centre_error_mm_max"] < 10
    assert errors["relative_rotation_error_deg_max"] < 0.2
    assert errors["focal_error_pct_max"] < 0.5
    world = max(np.linalg.norm(c.center - t.center) for c, t in zip(result.group.cameras, videos.truth))
    assert world < 0.02
    assert len(result.board_poses) >= 10  # the ten moments (and the floor), each once


def test_take_command_errors(tmp_path):
    cams = camera_ring(2, seed=0)
    take = _empty_take(tmp_path / "take", cams)
    out = tmp_path / "calib.toml"

    def vsion(*args):
        return subprocess.run([sys.executable, str(ROOT / "app.py"), "calibrate", "take", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    proc = vsion(take, "--out", out)
    assert proc.returncode != 0 and "no 9x6 checkerboard" in proc.stderr and "Traceback" not in proc.stderr
    proc = vsion(take, "--out", out, "--floor-s", "45")
    assert proc.returncode != 0 and "START:END" in proc.stderr
    assert not out.exists()
