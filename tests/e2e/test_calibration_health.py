"""Calibration health and full-resolution captures on a real server whose four file cameras show a
board lying still where every camera sees it, each camera with a half-size preview sub-stream (as
an IP camera's): the checks and the wizard's captures work on the main streams' pictures; a camera
turned by 1 deg since the calibration is flagged, the untouched ones are not."""
import re

import cv2
import pytest

from calibration.camera import CameraGroup
from calibration.io import save_toml
from tests.helpers.studio import still_board_videos, turned

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def studio():
    return still_board_videos()


@pytest.fixture(scope="module")
def server(studio, tmp_path_factory):
    from tests.helpers.servers import VsionServer

    cams = [{"name": cam.name, "url": str(path), "preview_url": str(preview)}
            for cam, path, preview in zip(studio.truth, studio.paths, studio.previews)]
    vsion = VsionServer(tmp_path_factory.mktemp("health"), cams)
    vsion.start()
    vsion.wait_connected(len(cams))
    yield vsion
    vsion.stop()


def in_force(server, cameras) -> None:
    """Make ``cameras`` the calibration in force (board reprojection error 0.1 px each)."""
    group = CameraGroup(cameras, {"reprojection_median_px": {c.name: 0.1 for c in cameras}})
    save_toml(group, server.data_dir / "calibration.toml")


def check(session, server) -> dict:
    page = session.get(server.url + "/calibration").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    reply = session.post(server.url + "/api/calibration/health", json={"source": "board"},
                         headers={"X-CSRFToken": token}, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_wizard_captures_at_the_main_streams_resolution(server, studio):
    events = server.socket(server.login("tech"))
    assert events.call("calibration begin", {})["ok"]
    assert events.call("calibration focus", {"step": "camera", "camera": 1})["ok"]
    live = events.wait_for("calibration live", lambda d: d["camera"] == 1 and d["captured"] >= 1, timeout=60)
    assert live["image_size"] == [640, 360]  # the live view decodes the sub-stream
    checked = events.call("calibration check", {"camera": 0})
    assert checked["found"] and checked["image_size"] == [1280, 720]
    assert max(x for x, _ in checked["corners"]) > 640  # corners in the main stream's pixels
    assert events.call("calibration capture", {"camera": 0})["ok"]
    events.close()
    sessions = server.data_dir / "calibration" / "sessions"
    pictures = sorted(sessions.glob("*/intrinsics/*/*.png"))
    assert {p.parent.name for p in pictures} == {"cam1", "cam2"}
    for picture in pictures:
        assert cv2.imread(str(picture), cv2.IMREAD_GRAYSCALE).shape == (720, 1280), picture


def test_health_flags_a_turned_camera_and_not_the_others(server, studio, record_property):
    session = server.login("tech")
    in_force(server, studio.truth)
    sound = check(session, server)
    assert sound["source"] == "board" and sound["moved"] == [] and sound["parts"] == 3
    assert all(c["error_px"] is not None and c["error_px"] < 1.0 for c in sound["cameras"]), sound
    in_force(server, [turned(c, 1.0) if c.name == "cam3" else c for c in studio.truth])
    report = check(session, server)
    errors = {c["name"]: c["error_px"] for c in report["cameras"]}
    limits = {c["name"]: c["limit_px"] for c in report["cameras"]}
    record_property("health_sound_px", {c["name"]: c["error_px"] for c in sound["cameras"]})
    record_property("health_turned_px", errors)
    assert report["moved"] == ["cam3"], report
    assert errors["cam3"] > limits["cam3"] and all(e < limits[n] for n, e in errors.items() if n != "cam3")
    # The Cameras page shows it (its list and the status event carry the latest report).
    listed = session.get(server.url + "/api/cameras/config").json()["calibration_health"]
    assert listed["moved"] == ["cam3"] and listed["checked_at"] == report["checked_at"]
    assert session.get(server.url + "/api/calibration/health").json()["moved"] == ["cam3"]
    events = server.socket(session)
    status = events.wait_for("camera status", timeout=10)
    assert status["health"]["moved"] == ["cam3"]
    events.close()
