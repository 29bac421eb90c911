"""The Cameras page's API on the real app, a real config.yaml and real RTSP servers (gst-rtsp-server
on 127.0.0.1): add, test, record with, refuse while recording, refuse bad input, audit, remove."""
from __future__ import annotations

import json
import logging

import pytest

from config import secretbox
from settings import load_settings
from tests.helpers.accounts import create_users, signed_in, token
from tests.helpers.media import make_test_streams, make_test_video
from tests.helpers.servers import RtspServer, free_port, wait_until
from web.extensions import socketio

pytestmark = pytest.mark.slow
SECRET = "Top5ecret"
FAST = "camera: {open_timeout_s: 4, read_timeout_s: 3, backoff_initial_s: 0.2, backoff_max_s: 1.0}\n"


@pytest.fixture(scope="module")
def servers():
    streams = make_test_streams(2)
    plain = RtspServer(streams, audio_only=("sound",)).start()
    locked = RtspServer(streams[:1], auth=f"operator:{SECRET}").start()
    yield plain, locked
    plain.kill()
    locked.kill()


@pytest.fixture
def site(tmp_path, servers, monkeypatch):
    """A started app whose cameras live in a config.yaml with comments; its technician's client."""
    from app import create_app, start_app

    monkeypatch.delenv(secretbox.KEY_ENV, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"# the workshop\ncameras:   # left to right\n  - name: cam1\n    url: {servers[0].url(0)}   # pillar\n"
                      f"data_dir: data\n{FAST}security: {{login_rate_limit: 1000/minute}}\n")
    app = create_app(None, {"TESTING": True, "PROPAGATE_EXCEPTIONS": False}, config_path=config)
    start_app(app)
    create_users(app)
    client = signed_in(app, "technician")
    client.environ_base["HTTP_X_CSRFTOKEN"] = token(client)
    yield app, client, config
    app.extensions["vsion"].stop()


def health(client, name):
    return next((c for c in client.get("/api/cameras").get_json() if c["name"] == name), None)


def audit_rows(app, prefix="camera."):
    from accounts.audit import events

    with app.app_context():
        return [(e.action, e.target_id, e.detail) for e in events(action=prefix)]


def test_add_record_and_remove_a_camera_without_restart(site, servers, caplog):
    app, client, config = site
    caplog.set_level(logging.INFO)
    url = servers[1].url(0, credentials=False)
    reply = client.post("/api/cameras/config", json={"name": "door", "source": "rtsp", "url": url, "user": "operator",
                                                      "password": SECRET})
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert body["change"] == {"kept": ["cam1"], "added": ["door"], "removed": []}
    assert [c["name"] for c in body["cameras"]] == ["cam1", "door"] and body["cameras"][1]["has_password"]
    assert wait_until(lambda: (h := health(client, "door")) and h["status"] == "connected", timeout=30)
    text = config.read_text()
    assert SECRET not in text and secretbox.PREFIX in text and "# pillar" in text and "# the workshop" in text
    assert load_settings(config).cameras[1].url == f"rtsp://operator:{SECRET}@127.0.0.1:{servers[1].port}/cam1"

    sio = socketio.test_client(app, flask_test_client=client)
    ack = sio.emit("start recording", {"label": "with the new camera"}, callback=True)
    assert ack["ok"], ack
    refused = client.delete("/api/cameras/config/door")
    assert refused.status_code == 409 and refused.get_json()["code"] == "recording"
    assert client.put("/api/cameras/order", json={"names": ["door", "cam1"]}).status_code == 409
    assert config.read_text() == text
    wait_until(lambda: False, timeout=1.5)
    stopped = sio.emit("stop recording", {}, callback=True)
    frames = {c["name"]: c["frames"] for c in stopped["take"]["cameras"]}
    assert set(frames) == {"cam1", "door"} and frames["door"] > 10

    reply = client.delete("/api/cameras/config/door")
    assert reply.status_code == 200 and reply.get_json()["change"]["removed"] == ["door"]
    assert [c["name"] for c in client.get("/api/cameras").get_json()] == ["cam1"]
    assert "door" not in config.read_text() and "# pillar" in config.read_text()
    actions = [(a, t) for a, t, _ in audit_rows(app)]
    assert actions == [("camera.remove", "door"), ("camera.add", "door")]
    for text in (json.dumps(audit_rows(app)), json.dumps(body), client.get("/cameras").get_data(as_text=True),
                 "\n".join(r.getMessage() for r in caplog.records)):
        assert SECRET not in text


def test_test_says_what_it_found_or_why_not(site, servers):
    app, client, config = site
    plain, locked = servers
    before = config.read_text()
    ok = client.post("/api/cameras/test", json={"source": "rtsp", "url": plain.url(1)}).get_json()["main"]
    assert ok["ok"] and (ok["codec"], ok["width"], ok["height"]) == ("h264", 1280, 720) and ok["fps"] == 30
    assert ok["snapshot"].startswith("data:image/jpeg;base64,") and ok["rtt_ms"] is not None and ok["open_ms"] > 0
    cases = {
        "unauthorized": {"url": locked.url(0, credentials=False), "user": "operator", "password": "wrong"},
        "unreachable": {"url": f"rtsp://127.0.0.1:{free_port()}/cam1"},
        "no_video": {"url": plain.url_of("sound")},
        "not_found": {"url": plain.url_of("nothing-here")},
    }
    for code, fields in cases.items():
        result = client.post("/api/cameras/test", json={"source": "rtsp", **fields}).get_json()["main"]
        assert not result["ok"] and result["failure"]["code"] == code, (code, result)
        assert "wrong" not in json.dumps(result)
    file_result = client.post("/api/cameras/test", json={"source": "file", "file": str(make_test_video())}).get_json()
    assert file_result["main"]["ok"] and file_result["main"]["width"] == 640
    assert config.read_text() == before and audit_rows(app) == []  # a test changes nothing


def test_a_test_of_a_stored_camera_uses_its_stored_password(site, servers):
    app, client, config = site
    locked = servers[1]
    add = client.post("/api/cameras/config", json={"name": "door", "source": "rtsp", "url": locked.url(0)})
    assert add.status_code == 201
    view = add.get_json()["cameras"][1]
    assert (view["user"], view["has_password"], view["url"]) == ("operator", True, locked.url(0, credentials=False))
    again = client.post("/api/cameras/test", json={"source": "rtsp", "url": view["url"], "user": "operator",
                                                   "camera": "door"}).get_json()["main"]
    assert again["ok"], again
    # the form sent back as shown (password empty): the camera is unchanged and keeps running
    handler = app.extensions["vsion"].processor.handlers[1]
    same = client.put("/api/cameras/config/door", json={"name": "door", "source": "rtsp", "url": view["url"],
                                                        "user": "operator"})
    assert same.status_code == 200 and same.get_json()["change"]["kept"] == ["cam1", "door"]
    assert app.extensions["vsion"].processor.handlers[1] is handler
    (_, _, detail), _ = audit_rows(app)
    assert detail["changed"] == [] and "url" not in json.dumps(detail)


@pytest.mark.parametrize("payload, status, code", [
    ({"name": "x", "source": "rtsp", "url": "http://192.0.2.1/video"}, 400, "not_rtsp"),
    ({"name": "x", "source": "rtsp", "url": "ftp://192.0.2.1/video"}, 400, "not_rtsp"),
    ({"name": "x", "source": "webcam", "url": "rtsp://192.0.2.1/video"}, 400, "invalid"),
    ({"name": "CAM1", "source": "demo", "demo": 1}, 400, "name_taken"),
    ({"name": "cam 2", "source": "demo", "demo": 1}, 400, "bad_name"),
    ({"name": "x", "source": "file", "file": "/no/such/video.mp4"}, 400, "no_file"),
])
def test_bad_input_changes_nothing(site, payload, status, code):
    app, client, config = site
    before = config.read_text()
    reply = client.post("/api/cameras/config", json=payload)
    assert (reply.status_code, reply.get_json()["code"]) == (status, code), reply.get_json()
    assert "\n" not in reply.get_json()["error"]
    assert config.read_text() == before and app.extensions["vsion"].processor.names == ["cam1"]


def test_a_seventh_camera_and_unknown_cameras(site):
    app, client, config = site
    for i in range(2, 7):
        assert client.post("/api/cameras/config", json={"name": f"cam{i}", "source": "demo", "demo": 4}).status_code == 201
    before = config.read_text()
    seventh = client.post("/api/cameras/config", json={"name": "cam7", "source": "demo", "demo": 4})
    assert seventh.status_code == 400 and seventh.get_json()["code"] == "too_many"
    assert client.delete("/api/cameras/config/nope").status_code == 404
    assert client.put("/api/cameras/order", json={"names": ["cam1"]}).get_json()["code"] == "bad_order"
    assert config.read_text() == before and len(app.extensions["vsion"].processor.names) == 6


def test_a_server_without_a_configuration_file_says_so(app):
    client = signed_in(app, "admin")
    reply = client.post("/api/cameras/config", json={"name": "cam9", "source": "demo", "demo": 1},
                        headers={"X-CSRFToken": token(client)})
    assert reply.status_code == 409 and reply.get_json()["code"] == "no_config_file"
    assert "without a configuration file" in reply.get_json()["error"]
    assert client.get("/api/cameras/config").get_json()["editable"] is False
