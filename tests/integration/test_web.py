"""Login, pages, JSON endpoints, MJPEG feed and Socket.IO events, in process on file cameras."""
import time

import pytest

from tests.helpers.accounts import PASSWORDS, csrf_token, login
from tests.helpers.world import (
    wait_connected,
)
from web.extensions import socketio


def test_healthz_is_open(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["status"] == "ok" and body["cameras"] == 2


@pytest.mark.parametrize("path", ["/", "/api/cameras", "/video_feed/0", "/video_feed/5"])
def test_everything_else_needs_login(client, path):
    reply = client.get(path)
    if path == "/":
        assert reply.status_code == 302 and "/login" in reply.headers["Location"]
    else:
        assert reply.status_code == 401


def test_login_form_and_wrong_password(client):
    page = client.get("/login").get_data(as_text=True)
    for field in ('name="username"', 'name="password"', 'name="csrf_token"'):
        assert field in page
    token = csrf_token(client)
    reply = client.post("/login", data={"username": "admin", "password": "wrong-password", "csrf_token": token})
    assert reply.status_code == 401
    reply = client.post("/login", data={"username": "nobody", "password": "wrong-password", "csrf_token": token})
    assert reply.status_code == 401
    assert client.get("/api/cameras").status_code == 401


def test_login_needs_csrf_token(client):
    reply = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert reply.status_code in (400, 401)
    assert client.get("/api/cameras").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "/%09/evil.example", "/\\evil.example", "/%0A/x",
                                    "https://evil.example/", "/ok/../..//evil.example"])
def test_login_redirect_stays_on_site(client, target):
    token = csrf_token(client)
    reply = client.post(f"/login?next={target}", data={"username": "admin", "password": PASSWORDS["admin"],
                                                        "csrf_token": token})
    assert reply.status_code == 302
    location = reply.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location.split("/")[1]


def test_disabled_account_loses_its_session(client, app):
    login(client, "trainee")
    assert client.get("/api/cameras").status_code == 200
    with app.app_context():
        from database.base import db
        from database.models import User

        db.session.execute(db.update(User).where(User.username == "trainee").values(active=False))
        db.session.commit()
    assert client.get("/api/cameras").status_code == 401


def test_home_page_shows_every_camera(client):
    login(client, "trainee")
    page = client.get("/?lang=fr").get_data(as_text=True)
    assert page.count('class="camera"') == 2
    assert "/video_feed/0" in page and "/video_feed/1" in page
    assert "Enregistrer" in page and "Arrêter" in page
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Record" in page and "Stop" in page
    assert "<script>" not in page  # no inline script: the CSP forbids it


def test_api_cameras_contract(client):
    login(client)
    cams = wait_connected(client)
    assert [c["name"] for c in cams] == ["cam1", "cam2"]
    for cam in cams:
        assert {"name", "status", "fps", "dropped"} <= cam.keys()
        assert cam["width"] == 640 and cam["height"] == 360


def test_video_feed(client, app):
    login(client)
    assert client.get("/video_feed/2").status_code == 404
    wait_connected(client)
    reply = client.get("/video_feed/0", buffered=False)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    chunks = reply.response
    parts = [next(chunks) for _ in range(3)]
    reply.close()
    for part in parts:
        assert part.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n")
        jpeg = part.split(b"\r\n\r\n", 1)[1]
        assert jpeg[:2] == b"\xff\xd8" and jpeg.rstrip(b"\r\n")[-2:] == b"\xff\xd9"
    assert app.extensions["vsion"].processor.previews[0].viewers == 0


def test_socket_refused_without_login(app, client):
    sio = socketio.test_client(app, flask_test_client=client)
    assert not sio.is_connected()


def _errors(sio):
    return [e["args"][0] for e in sio.get_received() if e["name"] == "recording error"]


def test_recording_over_socketio(app, client):
    login(client, "expert")
    wait_connected(client)
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    names = [e["name"] for e in sio.get_received()]
    assert "recording status" in names and "camera status" in names

    ack = sio.emit("start recording", {"label": "first"}, callback=True)
    assert ack["ok"] and ack["recording"]
    status = [e["args"][0] for e in sio.get_received() if e["name"] == "recording status"]
    assert status and status[-1]["take_id"] == ack["take_id"]

    again = sio.emit("start recording", {}, callback=True)
    assert not again["ok"] and again["code"] == "refused" and "already recording" in again["message"]
    assert _errors(sio)[-1]["code"] == "refused"
    time.sleep(1.0)
    done = sio.emit("stop recording", {}, callback=True)
    assert done["ok"] and not done["recording"] and done["take_id"] == ack["take_id"]
    assert done["take"]["status"] == "complete"
    assert all(cam["frames"] > 0 for cam in done["take"]["cameras"])

    nothing = sio.emit("stop recording", {}, callback=True)
    assert not nothing["ok"] and "nothing is recording" in nothing["message"]
    sio.disconnect()


@pytest.mark.parametrize("payload, needle", [
    (["not", "an", "object"], "expected one JSON object"),
    ("text", "expected one JSON object"),
    ({"bogus": 1}, "bogus: unknown field"),
    ({"label": 5}, "label"),
    ({"label": "x" * 500}, "label"),
])
def test_bad_start_payloads_change_nothing(app, client, payload, needle):
    login(client)
    sio = socketio.test_client(app, flask_test_client=client)
    sio.get_received()
    ack = sio.emit("start recording", payload, callback=True)
    assert not ack["ok"] and ack["code"] == "invalid" and needle in ack["message"]
    assert _errors(sio)[-1]["message"] == ack["message"]
    assert not app.extensions["vsion"].processor.record_event.is_set()
    assert not list((app.extensions["vsion"].processor.takes_dir).glob("*"))
    extra = sio.emit("start recording", {}, 1, callback=True)
    assert not extra["ok"] and extra["code"] == "invalid"
    bad_stop = sio.emit("stop recording", {"take_id": "../../etc"}, callback=True)
    assert not bad_stop["ok"] and bad_stop["code"] == "invalid"
    sio.disconnect()


def test_users_create_cli(runner, app, tmp_path):
    # The CLI command builds its own app from a config file; reuse this app's settings.
    from click.testing import CliRunner

    import app as app_module
    from settings import dump_settings

    cfg = tmp_path / "config.yaml"
    dump_settings(app.extensions["vsion"].settings, cfg)
    cli = CliRunner()
    ok = cli.invoke(app_module.cli, ["users", "create", "marie", "--role", "trainee", "--config", str(cfg)],
                    input="a-long-password\n")
    assert ok.exit_code == 0, ok.output
    again = cli.invoke(app_module.cli, ["users", "create", "marie", "--role", "trainee", "--config", str(cfg)],
                       input="a-long-password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = cli.invoke(app_module.cli, ["users", "create", "paul", "--role", "expert", "--config", str(cfg)],
                       input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    weak = cli.invoke(app_module.cli, ["users", "create", "paul", "--role", "admin", "--config", str(cfg)],
                      input="aaaaaaaaaaaa\n")
    assert weak.exit_code != 0 and "too easy to guess" in weak.output
    twin = cli.invoke(app_module.cli, ["users", "create", "MARIE", "--role", "admin", "--config", str(cfg)],
                      input="another-long-password-9\n")
    assert twin.exit_code != 0 and "already exists" in twin.output
    role = cli.invoke(app_module.cli, ["users", "create", "paul", "--role", "boss", "--config", str(cfg)],
                      input="a-long-password\n")
    assert role.exit_code != 0 and "boss" in role.output
    with app.app_context():
        from accounts.users import authenticate

        assert authenticate("marie", "a-long-password").role == "trainee"
        assert authenticate("marie", "wrong-password") is None
        stored = authenticate("marie", "a-long-password").password_hash
        assert stored.startswith("$argon2") and "a-long-password" not in stored


def test_socket_refused_after_max_session_age(app, client):
    from web.auth import LOGIN_AT

    login(client)
    assert socketio.test_client(app, flask_test_client=client).is_connected()
    with client.session_transaction() as s:
        s[LOGIN_AT] -= 13 * 3600
    assert not socketio.test_client(app, flask_test_client=client).is_connected()


def test_a_server_failure_answers_links_and_events(app, client, tmp_path):
    """The database lost under a running server: a new link is refused with a reason and an event
    gets an error answer, at once; neither leaves its client waiting for an answer."""
    from database.base import db

    login(client, "expert")
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    database = tmp_path / "data" / "vsion.db"
    with app.app_context():
        db.engine.dispose()
    database.rename(tmp_path / "kept.db")
    try:
        ack = sio.emit("start recording", {}, callback=True)
        assert ack["ok"] is False and ack["code"] == "error" and "see its log" in ack["message"]
        refused = socketio.test_client(app, flask_test_client=client)
        assert not refused.is_connected()
        assert app.extensions["vsion"].processor.take is None
    finally:
        with app.app_context():
            db.engine.dispose()
        (tmp_path / "kept.db").rename(database)
