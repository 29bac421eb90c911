"""User administration and calibration import, through the real app and its SQLite database."""
from __future__ import annotations

import io
import re

import pytest

from calibration.camera import CameraGroup
from calibration.io import load_toml, save_toml
from capture import demo
from tests.helpers.accounts import login
from tests.helpers.synthetic import camera_ring


def _token(client, path: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_admin_creates_users_others_may_not(client):
    login(client, "admin")
    token = _token(client, "/admin/users")
    reply = client.post("/api/users", json={"username": "paul", "role": "expert", "password": "long enough to sign in"},
                        headers={"X-CSRFToken": token})
    assert reply.status_code == 201 and reply.get_json()["role"] == "expert"
    assert "paul" in [u["username"] for u in client.get("/api/users").get_json()["users"]]
    for payload, message in [({"username": "paul", "role": "expert", "password": "long enough to sign in"}, "already exists"),
                             ({"username": "x", "role": "expert", "password": "long enough to sign in"}, "username"),
                             ({"username": "anne", "role": "boss", "password": "long enough to sign in"}, "role"),
                             ({"username": "anne", "role": "trainee", "password": "short"}, "password"),
                             ({"username": "PAUL", "role": "expert", "password": "long enough to sign in"},
                              "already exists"),
                             ({"username": "\uff30\uff41\uff55\uff4c", "role": "expert",  # full-width "Paul"
                               "password": "long enough to sign in"}, "already exists"),
                             ({"username": "anne", "role": "admin", "password": "aaaaaaaaaa"}, "password"),
                             ({"username": "anne", "role": "admin", "password": "aaaaaaaaaaaaaaaa"},
                              "too easy to guess"),
                             ({"username": "anne", "role": "trainee", "password": "long enough to sign in", "admin": True}, "admin")]:
        reply = client.post("/api/users", json=payload, headers={"X-CSRFToken": token})
        assert reply.status_code == 400 and message in reply.get_json()["error"], (payload, reply.get_json())
    assert client.post("/api/users", json={"username": "anne", "role": "trainee", "password": "long enough to sign in"}).status_code == 400
    assert "password" not in str(client.get("/api/users").get_json())


@pytest.mark.parametrize("role", ["technician", "expert", "trainee"])
def test_only_admins_manage_users(client, role):
    login(client, role)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/api/users").status_code == 403


def _upload(client, token, name: str, data: bytes):
    return client.post("/api/calibrations/import", data={"file": (io.BytesIO(data), name)},
                       headers={"X-CSRFToken": token}, content_type="multipart/form-data")


def test_technician_imports_and_activates_a_calibration(client, app, tmp_path):
    login(client, "technician")
    token = _token(client, "/calibration")
    # The Pose2Sim file names its cameras cam01..cam04; this rig has cam1, cam2: refused, with the reason.
    qca = demo.pose2sim_file("calibration/Calib.qca.txt").read_bytes()
    reply = _upload(client, token, "Calib.qca.txt", qca)
    assert reply.status_code == 400 and "4 camera(s)" in reply.get_json()["error"]
    # Two cameras named otherwise: matched in order.
    other = save_toml(CameraGroup(camera_ring(2)), tmp_path / "rig.toml").read_bytes()
    reply = _upload(client, token, "rig.toml", other)
    assert reply.status_code == 201, reply.get_json()
    meta = reply.get_json()
    assert meta["mapped"] == {"cam1": "cam1", "cam2": "cam2"} and meta["active"]
    settings = app.extensions["vsion"].settings
    assert load_toml(settings.calibration_path).names == ["cam1", "cam2"]
    assert meta["id"] in [s["id"] for s in client.get("/api/calibrations").get_json()]
    for name, data, code in [("rig.exe", other, 400), ("rig.toml", b"not = [a calibration", 400),
                             ("big.toml", b"#" * (1024 * 1024 + 1), 413)]:
        assert _upload(client, token, name, data).status_code == code, name
    assert client.post("/api/calibrations/import", data={}, headers={"X-CSRFToken": token}).status_code == 400
    assert _upload(client, "", "rig.toml", other).status_code == 400  # no CSRF token


def test_trainees_cannot_import_calibrations(client):
    login(client, "trainee")
    assert client.post("/api/calibrations/import").status_code in (400, 403)
