"""Calibration health on the synthetic studio: a camera turned by 1 deg after calibration is
flagged, from a board shown now and from the live skeleton; untouched cameras are not."""
import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.camera import CameraGroup
from calibration.health import CameraHealth, HealthReport, board_health, skeleton_health, sustained
from tests.helpers.motion import observe, person_motion
from tests.helpers.studio import board_shows, turned
from tests.helpers.synthetic import camera_ring

BOARD = Checkerboard(9, 6, 115)


@pytest.fixture(scope="module")
def studio():
    """The calibration in force (the truth, with its board reprojection error), and the rig as it
    is now: cam3 turned by 1 deg about a tilted axis through its centre."""
    ring = camera_ring(6, seed=0)
    calibration = CameraGroup(ring, {"reprojection_median_px": {c.name: 0.1 for c in ring}})
    return calibration, ring, [turned(c, 1.0) if c.name == "cam3" else c for c in ring]


def _board_shows(cams, seed):
    return board_shows(cams, BOARD, seed=seed)


def _errors(report: HealthReport) -> dict:
    return {c.name: c.error_px for c in report.cameras}


def test_board_shown_now_flags_the_turned_camera(studio):
    calibration, ring, now = studio
    sound = board_health(calibration, _board_shows(ring, seed=5), BOARD)
    assert sound.moved == [] and max(e for e in _errors(sound).values() if e is not None) < 0.5
    report = board_health(calibration, _board_shows(now, seed=5), BOARD)
    assert report.moved == ["cam3"], report.to_dict()
    errors = _errors(report)
    assert errors["cam3"] > 10 and all(e < 0.5 for n, e in errors.items() if n != "cam3" and e is not None)
    assert report.cameras[2].limit_px == pytest.approx(4.1)  # max(2 x 0.1, 0.1 + 4) px


def test_board_seen_by_two_cameras_uses_the_board_shape(studio):
    """One camera's view of the board places it (its shape is known) for the other."""
    calibration, ring, _ = studio
    show = _board_shows(ring, seed=5)[0]
    pair = dict(list(show.items())[:2])
    report = board_health(calibration, [pair], BOARD)
    assert report.moved == [] and all(c.error_px is not None for c in report.cameras if c.name in pair)


def test_live_skeleton_flags_the_turned_camera(studio):
    calibration, ring, now = studio
    person = person_motion(frames=60, seed=1)  # 2 s at 30 fps, noisy like MediaPipe
    sound = skeleton_health(calibration, *vars(observe(ring, person, seed=2)).values())
    assert sound.moved == []
    report = skeleton_health(calibration, *vars(observe(now, person, seed=2)).values())
    assert report.moved == ["cam3"], report.to_dict()
    errors = _errors(report)
    assert errors["cam3"] > report.cameras[2].limit_px
    assert errors["cam3"] > 2 * max(e for n, e in errors.items() if n != "cam3")


def test_sustained_and_bad_input(studio):
    calibration, _, _ = studio

    def report(*moved):
        return HealthReport("skeleton", tuple(CameraHealth(n, 20.0 if n in moved else 5.0, 500, 5.0, 10.0, n in moved)
                                              for n in ("cam1", "cam2", "cam3")))

    assert sustained([report("cam3"), report("cam3")]) == []  # two checks are not enough
    assert sustained([report("cam3"), report("cam2", "cam3"), report("cam3")]) == ["cam3"]
    assert sustained([report("cam3"), report(), report("cam3")]) == []
    with pytest.raises(ValueError, match="unknown camera cam9"):
        board_health(calibration, [{"cam9": None}], BOARD)
    with pytest.raises(ValueError, match="points2d must be"):
        skeleton_health(calibration, np.zeros((2, 3, 33, 2)), np.zeros((2, 3, 33)))
