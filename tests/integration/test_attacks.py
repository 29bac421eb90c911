"""Attack attempts against the real app: path traversal, cross-site requests without the CSRF
token, login brute force, oversized bodies, and the headers and markup that keep pages safe.

Each test says what an attacker tries and what VSION must answer.
"""
from __future__ import annotations

import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from database.base import db
from database.models import AuditEvent, LoginThrottle, Take, User
from takes.service import set_processing
from tests.helpers.accounts import PASSWORDS, create_users, csrf_token, signed_in
from tests.helpers.accounts import token as page_token
from tests.helpers.world import (
    STEPS,
    build_world,
    db_state,
    fake_take,
    files_state,
    make_app,
    save_calibration_set,
    stop_app,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("attacks"), video_file, config_file=True)
    try:
        yield build_world(app)
    finally:
        stop_app(app)


def state(world):
    config = world.app.extensions["vsion"].config_path
    return db_state(world.app), files_state(world.app), config.read_text() if config else None


def admin_call(world, method, path, **kwargs):
    headers = {"X-CSRFToken": world.tokens["admin"], **kwargs.pop("headers", {})}
    return world.clients["admin"].open(path, method=method, headers=headers, **kwargs)


# --------------------------------------------------------------------------- path traversal
# Ways to write "go up one folder" and "this folder separator" that servers have been fooled by.
UP = ["../", "..%2f", "..%2F", "%2e%2e/", "%2e%2e%2f", "..%252f", "%252e%252e%252f", "..\\", "..%5c", "%2e%2e%5c",
      "..%c0%af", "%c0%ae%c0%ae/", "....//", "..;/", "..%00/", ".%2e/", "%u002e%u002e/"]


def secrets_of(world) -> dict[str, bytes]:
    """What must never come back in an answer, and where it lives."""
    data_dir = Path(world.app.extensions["vsion"].settings.data_dir)
    return {"the session key": world.app.config["SECRET_KEY"].encode(), "app.py": b"def create_app",
            "settings.py": b"class SecurityConfig", "the database": b"SQLite format 3", "/etc/passwd": b"root:x:0:0",
            "a password hash": b"$argon2", "take.json": b'"status": "complete"',
            "the data folder's path": str(data_dir).encode()}


def targets(world) -> list[str]:
    """Files an attacker aims at, relative to the folders the routes read from, or absolute."""
    root = Path(world.app.root_path)
    return ["secret_key", "vsion.db", "etc/passwd", "take.json", str(root / "app.py").lstrip("/")]


def traversals(world) -> list[str]:
    out = []
    for up in UP:
        for depth in (1, 6):
            for target in targets(world):
                out.append(up * depth + target)
    out += ["/etc/passwd", "%2fetc%2fpasswd", "C:\\Windows\\win.ini", "\\\\server\\share", "file:///etc/passwd",
            "cam1%00.mp4", "cam1.mp4%00", "%00", "..", "."]
    return out


def leaked(world, reply) -> list[str]:
    body = reply.get_data()
    return [name for name, marker in secrets_of(world).items() if marker in body]


def test_path_traversal_on_every_path_argument(world):
    ref, card = world.reference, world.published
    routes = [("GET", "/api/takes/{x}"), ("GET", "/api/takes/{x}/pose3d"), ("GET", "/api/takes/{x}/comparison"),
              ("GET", "/takes/{x}"), ("GET", "/api/takes/{x}/video/cam1"), ("GET", "/api/takes/{x}/download/csv"),
              ("GET", f"/api/takes/{ref}/video/{{x}}"), ("GET", f"/api/takes/{ref}/download/{{x}}"),
              ("GET", "/api/calibrations/{x}"), ("POST", "/api/calibrations/{x}/activate"),
              ("DELETE", "/api/takes/{x}"), ("GET", f"/api/workcards/{card}/progress?user={{x}}"),
              ("GET", "/api/calibrations/compare?a={x}&b={x}")]
    before = state(world)
    problems = []
    for method, template in routes:
        for attempt in traversals(world):
            path = template.replace("{x}", attempt)
            reply = admin_call(world, method, path)
            where = f"{method} {path}: {reply.status_code}"
            if leaked(world, reply):
                problems.append(f"{where} leaks {leaked(world, reply)}")
            if reply.status_code >= 500 or (reply.status_code < 300 and "?" not in template):
                problems.append(f"{where}: should be refused (404)")
            anonymous = world.clients["anonymous"].open(path, method=method,
                                                         headers={"X-CSRFToken": world.tokens["anonymous"]})
            if anonymous.status_code not in (302, 308, 400, 401, 404, 405) or leaked(world, anonymous):
                problems.append(f"{method} {path} as anonymous: {anonymous.status_code}")
    assert not problems, "\n".join(problems[:40])
    assert state(world) == before


def test_camera_names_and_download_kinds_are_looked_up_never_joined(world):
    ref = world.reference
    folder = world.app.extensions["vsion"].processor.takes_dir / ref
    (folder / "secret.mp4").write_bytes(b"not a camera")
    try:
        for name in ("../take", "../take.json", "..%2ftake.json", "cam1.mp4/../../take.json", "secret", "secret.mp4",
                     "cam1/../secret", "cam1%2f..%2fsecret", "..", "%2e%2e", "take.json", "timestamps", "cam1.timestamps",
                     "cam1%00", "CAM1", " cam1"):
            reply = world.clients["trainee"].get(f"/api/takes/{ref}/video/{name}")
            assert reply.status_code == 404 and reply.is_json and b"not a camera" not in reply.data, name
        for what in ("json", "../take.json", "..%2ftake.json", "report", "processed", "pose3d.csv", "CSV", "csv%00",
                     "videos/../..", "keypoints2d", "comparison"):
            reply = world.clients["trainee"].get(f"/api/takes/{ref}/download/{what}")
            assert reply.status_code == 404 and reply.is_json, what
    finally:
        (folder / "secret.mp4").unlink()


def test_static_files_stay_in_the_static_folder(world):
    static = Path(world.app.static_folder)
    probes = ["../app.py", "%2e%2e/settings.py", "..%2fapp.py", "%252e%252e/app.py", "js/../../app.py",
              "js/%2e%2e/%2e%2e/app.py", "....//app.py", "..\\app.py", "%2e%2e%5capp.py", "%00", "..%00/app.py",
              "%c0%ae%c0%ae/app.py", "/etc/passwd", "//etc/passwd", "%2fetc%2fpasswd", "../templates/base.html",
              "../data/secret_key", "../.git/config", "js/../js/../../web/__init__.py"]
    for who in ("anonymous", "admin"):
        for probe in probes:
            path = f"/static/{probe}"
            reply = world.clients[who].get(path, follow_redirects=True)
            assert not leaked(world, reply), (who, path)
            assert b"def create_app" not in reply.data and b"SECRET" not in reply.data and b"[core]" not in reply.data
            if reply.status_code == 200:  # a normalised path may still name a real static file
                assert reply.request.path.startswith("/static/"), path
                target = (static / reply.request.path.removeprefix("/static/")).resolve()
                assert target.is_relative_to(static.resolve()) and target.is_file(), path
            else:
                assert reply.status_code == 404, (who, path, reply.status_code)


# --------------------------------------------------------------------------- requests without the CSRF token
EVIL = {"Origin": "https://evil.example", "Referer": "https://evil.example/attack.html"}


@pytest.fixture(scope="module")
def csrf_world(world):
    """What the state-changing routes act on: the admin's draft card with a reference take, a second
    calibration set (not in force), a take to delete, a user to change."""
    admin = world.clients["admin"]
    made = admin_call(world, "POST", "/api/workcards", json={"title": "CSRF card"})
    world.csrf_card = made.get_json()["id"]
    world.csrf_reference = fake_take(world.app, "admin", world.csrf_card, "reference", seconds=10)
    world.other_set = save_calibration_set(world.app)  # in force now: the first set goes back in force
    assert admin_call(world, "POST", f"/api/calibrations/{world.calibration_set}/activate").status_code == 200
    world.doomed = fake_take(world.app, "admin", None, "free", seconds=1, processed=False)
    world.promoted = fake_take(world.app, "admin", None, "free", seconds=1)
    world.queued = fake_take(world.app, "admin", None, "free", seconds=1, processed=False)
    with world.app.app_context():  # queued already: processing it again is refused once the token is right
        set_processing(world.queued, "queued")
    assert admin.get("/api/cameras").status_code == 200
    return world


def calibration_upload(name="rig.toml") -> dict:
    camera = ("size = [1280, 720]\nmatrix = [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]\n"
              "distortions = [0.0, 0.0, 0.0, 0.0]\nrotation = [0.0, 0.0, 0.0]\n")
    text = f"[cam1]\n{camera}translation = [0.0, 0.0, 0.0]\n[cam2]\n{camera}translation = [1.0, 0.0, 0.0]\n"
    return {"file": (io.BytesIO(text.encode()), name), "note": "csrf"}


def changing_requests(w) -> list[tuple[str, str, str, dict, int]]:
    """(endpoint, method, path, request arguments, success status) for every state-changing route,
    each a request that changes something when it carries the token; in an order where each succeeds."""
    card = f"/api/workcards/{w.csrf_card}"
    target = w.user_ids["trainee2"]
    video = str(w.app.extensions["vsion"].settings.cameras[0].url)
    return [
        ("workcards.create_card", "POST", "/api/workcards", {"json": {"title": "Made by a forged request"}}, 201),
        ("workcards.choose_reference", "POST", f"{card}/reference", {"json": {"take_id": w.csrf_reference}}, 200),
        ("workcards.put_steps", "PUT", f"{card}/steps", {"json": {"steps": STEPS}}, 200),
        ("workcards.publish", "POST", f"{card}/publish", {"json": {}}, 200),
        ("workcards.revise", "POST", f"{card}/revise", {"json": {}}, 200),
        ("workcards.update_card", "PATCH", card, {"json": {"title": "Renamed by a forged request"}}, 200),
        ("admin.add_user", "POST", "/api/users", {"json": {"username": "intruder", "role": "admin",
                                                           "password": "intruder-pass-1"}}, 201),
        ("admin.change_user", "PATCH", f"/api/users/{target}", {"json": {"role": "admin"}}, 200),
        ("calibration.activate_set", "POST", f"/api/calibrations/{w.other_set}/activate", {}, 200),
        ("calibration.import_set", "POST", "/api/calibrations/import", {"data": calibration_upload}, 201),
        ("takes.delete", "DELETE", f"/api/takes/{w.doomed}", {}, 200),
        ("takes.update", "PATCH", f"/api/takes/{w.promoted}", {"json": {"label": "Renamed by a forged request"}}, 200),
        ("takes.promote", "POST", f"/api/takes/{w.promoted}/promote", {"json": {"work_card_id": w.csrf_card}}, 200),
        # A take already queued: the request reaches the route with the token, which refuses it (no job runs
        # while the other cases compare the database).
        ("takes.process", "POST", f"/api/takes/{w.queued}/process", {"json": {}}, 409),
        ("onboarding.dismiss", "POST", "/api/onboarding/dismiss", {"json": {}}, 200),
        ("onboarding.reopen", "POST", "/api/onboarding/reopen", {"json": {}}, 200),
        ("onboarding.board_printed", "POST", "/api/onboarding/board", {"json": {}}, 200),
        ("cameras.add_camera", "POST", "/api/cameras/config", {"json": {"name": "forged", "source": "file",
                                                                      "file": video}}, 201),
        ("cameras.change_camera", "PUT", "/api/cameras/config/forged", {"json": {"name": "forged", "source": "usb",
                                                                                "usb": 5}}, 200),
        ("cameras.reorder_cameras", "PUT", "/api/cameras/order", {"json": {"names": ["forged", "cam1", "cam2"]}}, 200),
        ("cameras.remove_camera", "DELETE", "/api/cameras/config/forged", {}, 200),
        ("cameras.test_camera", "POST", "/api/cameras/test", {"json": {"source": "file", "file": video}}, 200),
        ("calibration.set_work_area", "PUT", "/api/calibration/work-area", {"json": {"x0": -1, "y0": -1, "x1": 1,
                                                                                    "y1": 1}}, 200),
        ("calibration.reset_work_area", "DELETE", "/api/calibration/work-area", {}, 200),
        ("calibration_tools.set_board", "PUT", "/api/calibration/board", {"json": {"type": "checkerboard", "cols": 9,
                                                                                  "rows": 6, "square_mm": 100}}, 200),
        # The three below reach their route with the token, which refuses them (no take with that id, no
        # camera running, nobody found in a take without people): nothing is queued or changed.
        ("calibration_tools.from_take", "POST", "/api/calibration/from-take",
         {"json": {"take_id": "20260101-000000-abcd", "mode": "intrinsics", "camera": "cam1"}}, 404),
        ("calibration_tools.check_health", "POST", "/api/calibration/health", {"json": {"source": "board"}}, 409),
        ("takes.choose_person", "POST", f"/api/takes/{w.promoted}/person", {"json": {"person_id": 1}}, 400),
        ("auth.logout", "POST", "/logout", {}, 302),
    ]


def materialise(kwargs: dict) -> dict:
    return {k: (v() if callable(v) else v) for k, v in kwargs.items()}


def test_every_changing_route_refuses_a_request_without_the_token(csrf_world):
    w = csrf_world
    cases = changing_requests(w)
    changing = {(r.endpoint, m) for r in w.app.url_map.iter_rules() for m in r.methods & {"POST", "PUT", "PATCH", "DELETE"}}
    assert changing - {("auth.login", "POST")} == {(e, m) for e, m, *_ in cases}, "give every changing route a case"
    admin = w.clients["admin"]
    for endpoint, method, path, kwargs, success in cases:
        before = state(w)
        # A cross-site form or script: the victim's cookie goes along, the token cannot.
        for headers in ({}, EVIL, {"X-CSRFToken": ""}, {"X-CSRFToken": "forged"},
                        {"X-CSRFToken": w.tokens["anonymous"]},   # a real token, of another session
                        {"X-CSRFToken": w.tokens["expert"]}):     # another user's token
            reply = admin.open(path, method=method, headers=headers, **materialise(kwargs))
            assert reply.status_code == 400, (endpoint, headers, reply.status_code)
            if path.startswith("/api/"):
                assert "CSRF" in reply.get_json()["error"], (endpoint, reply.get_json())
            assert state(w) == before, f"{endpoint}: a request without a valid token changed something"
        # The same request with the page's token does what it says (the refusals above were the token's).
        reply = admin.open(path, method=method, headers={"X-CSRFToken": w.tokens["admin"]}, **materialise(kwargs))
        assert reply.status_code == success, (endpoint, reply.status_code, reply.get_data()[:300])
    assert admin.get("/api/cameras").status_code == 401  # the last case logged the admin out
    w.clients["admin"] = signed_in(w.app, "admin")
    w.tokens["admin"] = page_token(w.clients["admin"])


def test_the_login_form_needs_its_token(world):
    client = world.app.test_client()
    for data in ({"username": "admin", "password": PASSWORDS["admin"]},
                 {"username": "admin", "password": PASSWORDS["admin"], "csrf_token": "forged"},
                 {"username": "admin", "password": PASSWORDS["admin"], "csrf_token": world.tokens["anonymous"]}):
        reply = client.post("/login", data=data, headers=EVIL)
        assert reply.status_code == 400 and 'name="password"' in reply.get_data(as_text=True)
        assert client.get("/api/cameras").status_code == 401
    reply = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                        "csrf_token": csrf_token(client)})
    assert reply.status_code == 302


def test_origin_and_referer_are_checked_over_https_only(world):
    """Flask-WTF checks the Referer against the host only for HTTPS requests (WTF_CSRF_SSL_STRICT)
    and never reads Origin: over plain HTTP the session-bound token (and the SameSite=Lax cookie)
    is the whole defence, so a forged Origin with a valid token is accepted."""
    admin, token = world.clients["admin"], world.tokens["admin"]
    plain = admin.post("/api/workcards", json={"title": "Plain HTTP"}, headers={"X-CSRFToken": token, **EVIL})
    assert plain.status_code == 201
    secure = dict(base_url="https://localhost", json={"title": "HTTPS"})
    reply = admin.post("/api/workcards", headers={"X-CSRFToken": token, **EVIL}, **secure)
    assert reply.status_code == 400 and "referrer does not match" in reply.get_json()["error"]
    reply = admin.post("/api/workcards", headers={"X-CSRFToken": token}, **secure)
    assert reply.status_code == 400 and "referrer header is missing" in reply.get_json()["error"]
    reply = admin.post("/api/workcards", headers={"X-CSRFToken": token, "Referer": "https://localhost/workcards"},
                       **secure)
    assert reply.status_code == 201


def test_socketio_refuses_other_origins(world):
    """The Socket.IO handshake from another site's page is refused (no cross-site WebSocket hijacking)."""
    client = world.clients["admin"]
    refused = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 400 and b"Not an accepted origin" in refused.data
    accepted = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost"})
    assert accepted.status_code == 200 and accepted.data.startswith(b"0{")


# --------------------------------------------------------------------------- sessions
def test_a_role_change_applies_to_open_sessions_at_once(world, video_file):
    expert = signed_in(world.app, "expert2")
    token = page_token(expert)
    assert expert.post("/api/workcards", json={"title": "Before"}, headers={"X-CSRFToken": token}).status_code == 201
    reply = admin_call(world, "PATCH", f"/api/users/{world.user_ids['expert2']}", json={"role": "trainee"})
    assert reply.status_code == 200
    refused = expert.post("/api/workcards", json={"title": "After"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 403


def test_a_session_cookie_is_dead_after_logout(world):
    client = signed_in(world.app, "technician")
    stolen = client.get_cookie(world.app.config.get("SESSION_COOKIE_NAME", "session")).value
    assert client.post("/logout", headers={"X-CSRFToken": page_token(client)}).status_code == 302
    replay = world.app.test_client()
    replay.set_cookie(world.app.config.get("SESSION_COOKIE_NAME", "session"), stolen)
    assert replay.get("/api/calibrations").status_code == 401


def test_logout_ends_the_socket_connections_of_the_session(world):
    from web.extensions import socketio

    client = signed_in(world.app, "technician")
    sio = socketio.test_client(world.app, flask_test_client=client)
    assert sio.emit("calibration begin", {}, callback=True)["ok"]
    assert client.post("/logout", headers={"X-CSRFToken": page_token(client)}).status_code == 302
    still = sio.is_connected() and sio.emit("calibration begin", {}, callback=True)
    sio.disconnect() if sio.is_connected() else None
    assert not still or still["ok"] is False, still


# --------------------------------------------------------------------------- login brute force
@pytest.fixture
def strict_app(tmp_path, video_file):
    """An app with the default login throttling and lockout (the settings' defaults)."""
    app = make_app(tmp_path, video_file, security={})
    create_users(app)
    yield app
    stop_app(app)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def try_login(client, username, password, token=None):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token or csrf_token(client)})


def test_wrong_passwords_never_lock_the_account_for_other_addresses(strict_app):
    """An attacker guessing the only administrator's password from one address slows only
    themself down: the administrator signs in from their own address at once."""
    security = strict_app.extensions["vsion"].settings.security
    assert security.lockout_failures == 5 and security.login_rate_limit == "10/minute"
    attacker = from_address(strict_app, "10.0.0.1")
    token = csrf_token(attacker)
    for n in range(security.lockout_failures):
        assert try_login(attacker, "admin", f"guess-{n}", token).status_code == 401
    with strict_app.app_context():  # the first wait is 1 s: make it a minute, so this test is not a race
        db.session.execute(sa.update(LoginThrottle).values(blocked_until=datetime.now(UTC) + timedelta(minutes=1)))
        db.session.commit()
    # The attacker's address waits: even the right password is refused there, and says why.
    reply = try_login(attacker, "admin", PASSWORDS["admin"], token)
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) >= 1
    assert "Trop de mots de passe" in reply.get_data(as_text=True) or "Too many wrong" in reply.get_data(as_text=True)
    # The victim, from another address, is not held back.
    victim = from_address(strict_app, "10.0.0.2")
    assert try_login(victim, "admin", PASSWORDS["admin"]).status_code == 302
    with strict_app.app_context():
        admin_id = db.session.scalars(sa.select(User.id).filter_by(username="admin")).one()
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.user_id == admin_id)))
        assert "login.throttled" in actions and actions.count("login.failed") >= security.lockout_failures
    # The administrator sees which address waits, and lifts the wait.
    listed = {u["username"]: u for u in victim.get("/api/users").get_json()["users"]}
    assert [t["address"] for t in listed["admin"]["throttled"]] == ["10.0.0.1"]
    lifted = victim.patch(f"/api/users/{admin_id}", json={"unlock": True}, headers={"X-CSRFToken": page_token(victim)})
    assert lifted.status_code == 200 and lifted.get_json()["throttled"] == []
    assert try_login(from_address(strict_app, "10.0.0.1"), "admin", PASSWORDS["admin"]).status_code == 302


def test_too_many_logins_from_one_address_get_429(strict_app):
    attacker = from_address(strict_app, "10.0.0.3")
    token = csrf_token(attacker)
    allowed = int(strict_app.extensions["vsion"].settings.security.login_rate_limit.split("/")[0])
    for n in range(allowed):  # names that exist nowhere: no account is locked by this
        assert try_login(attacker, f"nobody{n}", "wrong-password", token).status_code == 401
    for headers in ({}, {"X-Forwarded-For": "203.0.113.7"}, {"X-Real-IP": "203.0.113.8"}):
        reply = attacker.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                              "csrf_token": token}, headers=headers)
        assert reply.status_code == 429, headers  # even the right password, and a forged forwarding header
        assert int(reply.headers["Retry-After"]) > 0 and 'name="password"' in reply.get_data(as_text=True)
    assert attacker.get("/api/cameras").status_code == 401
    assert attacker.get("/login").status_code == 200  # the form itself stays reachable
    assert try_login(from_address(strict_app, "10.0.0.4"), "admin", PASSWORDS["admin"]).status_code == 302


# --------------------------------------------------------------------------- oversized and odd bodies
def test_bodies_above_the_limit_get_413(world):
    limit = world.app.config["MAX_CONTENT_LENGTH"]
    before = state(world)
    big = b"x" * (limit + 1)
    for method, path, kwargs in [
        ("POST", "/api/workcards", {"data": b'{"title": "' + big + b'"}', "content_type": "application/json"}),
        ("PUT", f"/api/workcards/{world.draft}/steps", {"data": big, "content_type": "application/json"}),
        ("POST", "/api/users", {"data": big, "content_type": "application/json"}),
        ("POST", "/api/calibrations/import", {"data": {"file": (io.BytesIO(big), "big.toml")}}),
    ]:
        reply = admin_call(world, method, path, **kwargs)
        assert reply.status_code == 413 and reply.is_json and reply.get_json()["error"], path
    reply = world.app.test_client().post("/login", data={"username": "a", "password": big.decode()})
    assert reply.status_code == 413
    assert state(world) == before


def test_calibration_import_limits_and_types(world):
    technician, token = world.clients["technician"], world.tokens["technician"]
    before = state(world)

    def upload(content: bytes, name: str, **form):
        return technician.post("/api/calibrations/import", headers={"X-CSRFToken": token},
                               data={"file": (io.BytesIO(content), name), **form})

    reply = upload(b"# padding\n" * (1024 * 1024 // 10 + 1), "big.toml")
    assert reply.status_code == 413 and reply.get_json()["error"] == "a calibration file is at most 1 MB"
    for name in ("rig.exe", "rig.json", "rig.toml.exe", "rig", ".toml.zip", "rig.TOML.bak"):
        reply = upload(b"[cam1]\n", name)
        assert reply.status_code == 400 and ".toml" in reply.get_json()["error"], name
    for content, name, needle in [(b"", "empty.toml", "empty"), (b"\xff\xfe\x00", "bin.toml", "UTF-8"),
                                  (b"not = [toml", "bad.toml", "not valid TOML"), (b"<x>", "bad.qca.txt", "XML"),
                                  (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", "xxe.qca.txt",
                                   "")]:
        reply = upload(content, name)
        assert reply.status_code == 400, (name, reply.status_code)
        message = reply.get_json()["error"]
        assert needle in message and name in message and "/tmp" not in message, message
        assert b"root:x:0:0" not in reply.data
    assert technician.post("/api/calibrations/import", headers={"X-CSRFToken": token}).status_code == 400
    assert state(world) == before


def test_long_and_many_fields_are_refused(world):
    """Fields over their limit are refused by name (400); a body over its route's limit (64 KB for
    the JSON API) is refused whole, unread (413)."""
    from web import JSON_BODY_BYTES

    before = state(world)
    for method, path, body, needle in [
        ("POST", "/api/workcards", {"title": "x" * 1_000_000}, "title"),
        ("POST", "/api/workcards", {"title": "x" * 1_000}, "title"),
        ("POST", "/api/workcards", {"title": "t", "description": "d" * 100_000}, "description"),
        ("POST", "/api/workcards", {"title": "t", "description": "d" * 40_000}, "description"),
        ("POST", "/api/workcards", {"title": "t", "tags": ["tag"] * 10_000}, "tags"),
        ("POST", "/api/workcards", {"title": "t", "tags": ["tag"] * 1_000}, "tags"),
        ("PUT", f"/api/workcards/{world.draft}/steps", {"steps": [STEPS[0]] * 10_000}, "steps"),
        ("PUT", f"/api/workcards/{world.draft}/steps", {"steps": [STEPS[0]] * 200}, "steps"),
        ("POST", "/api/users", {"username": "u" * 10_000, "role": "trainee", "password": "a-long-password"}, "username"),
        ("POST", "/api/users", {"username": "someone", "role": "trainee", "password": "p" * 100_000}, "password"),
        ("POST", "/api/users", {"username": "someone", "role": "trainee", "password": "p" * 1_000}, "password"),
    ]:
        reply = admin_call(world, method, path, json=body)
        if len(json.dumps(body)) > JSON_BODY_BYTES:
            assert reply.status_code == 413 and "too large" in reply.get_json()["error"], (path, reply.get_json())
        else:
            assert reply.status_code == 400 and needle in reply.get_json()["error"], (path, reply.get_json())
    assert state(world) == before


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                                  "[" * 20_000 + "]" * 20_000, '{"a":' * 5_000 + "1" + "}" * 5_000,
                                  '{"title": ' + "[" * 40 + "]" * 40 + "}", '{"title": ' + "9" * 5000 + "}",
                                  '{"title": 1e999}', '{"title": NaN}', '{"title": -Infinity}'],
                         ids=["arrays", "objects", "arrays-64k", "objects-64k", "arrays-40", "5000-digits", "1e999",
                              "nan", "infinity"])
def test_deeply_nested_json_is_refused(world, body):
    """Bodies over the JSON API's 64 KB are refused unread (413); under it, nesting, huge numbers,
    NaN and infinities are bad JSON (400)."""
    from web import JSON_BODY_BYTES

    before = state(world)
    for method, path in [("POST", "/api/workcards"), ("POST", "/api/users"),
                         ("PATCH", f"/api/workcards/{world.draft}"), ("PATCH", f"/api/users/{world.user_ids['trainee2']}")]:
        reply = admin_call(world, method, path, data=body, content_type="application/json")
        status = 413 if len(body) > JSON_BODY_BYTES else 400
        assert reply.status_code == status and reply.is_json, (path, reply.status_code)
    assert state(world) == before


def test_socket_payloads_too_big_or_too_deep_are_refused(world):
    from web.extensions import socketio

    sio = socketio.test_client(world.app, flask_test_client=world.clients["admin"])
    nested: list = []
    for _ in range(300):
        nested = [nested]
    for payload in ({"label": "x" * 1_000_000}, {"label": "x", "extra": [[[]]]}, [[[]]], {"work_card_id": 10**30}):
        ack = sio.emit("start recording", payload, callback=True)
        assert ack["ok"] is False and ack["code"] == "invalid", ack
    # Deeper than 32 levels or a number literal over 40 characters: the packet itself is unreadable.
    # (The test client hands packets to the decoder directly; a real server closes such a link with
    # one warning line: tests/integration/test_serving.py.)
    for payload in ({"label": "x", "extra": nested}, nested, {"work_card_id": 10**90}):
        with pytest.raises(ValueError, match="nested too deeply|characters"):
            sio.emit("start recording", payload, callback=True)
    assert not world.app.extensions["vsion"].processor.record_event.is_set()
    sio.disconnect()


# --------------------------------------------------------------------------- headers and markup
def csp(reply) -> dict[str, list[str]]:
    policy = reply.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def assert_safe_headers(reply, what: str) -> None:
    policy = csp(reply)
    assert policy, f"{what}: no Content-Security-Policy"
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts, what
    assert policy.get("default-src") == ["'self'"] and policy.get("frame-ancestors") == ["'none'"], what
    assert "'unsafe-inline'" not in policy.get("style-src", []), what
    assert reply.headers.get("X-Frame-Options") == "DENY", what
    assert reply.headers.get("X-Content-Type-Options") == "nosniff", what
    assert reply.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin",
                                                    "strict-origin-when-cross-origin"), what


def test_security_headers_everywhere(world):
    admin, anonymous, trainee = world.clients["admin"], world.clients["anonymous"], world.clients["trainee"]
    static = sorted(p.name for p in Path(world.app.static_folder, "css").glob("*.css"))[0]
    answers = {
        "login page": anonymous.get("/login"), "home page": admin.get("/"), "work cards": admin.get("/workcards"),
        "calibration page": admin.get("/calibration"), "users page": admin.get("/admin/users"),
        "take page": admin.get(f"/takes/{world.reference}"), "API": admin.get("/api/cameras"),
        "healthz": anonymous.get("/healthz"), "static file": anonymous.get(f"/static/css/{static}"),
        "download": admin.get(f"/api/takes/{world.reference}/download/csv"),
        "video": admin.get(f"/api/takes/{world.reference}/video/cam1", headers={"Range": "bytes=0-99"}),
        "redirect to login": anonymous.get("/"), "401 API": anonymous.get("/api/cameras"),
        "403 API": trainee.get("/api/users"), "403 page": trainee.get("/admin/users"),
        "404 API": admin.get("/api/takes/20990101-000000-abcd"), "404 page": admin.get("/no-such-page"),
        "405": admin.get("/logout"), "400 CSRF": admin.post("/api/workcards", json={"title": "x"}),
        "400 login": anonymous.post("/login", data={}),
        "413": admin_call(world, "POST", "/api/workcards", data=b"x" * (world.app.config["MAX_CONTENT_LENGTH"] + 1),
                          content_type="application/json"),
    }
    for what, reply in answers.items():
        assert_safe_headers(reply, f"{what} ({reply.status_code} {reply.request.path})")
    assert answers["download"].headers["Content-Disposition"].startswith("attachment")


def test_session_cookie_flags(world):
    name = world.app.config.get("SESSION_COOKIE_NAME", "session")
    for base, secure in (("http://localhost", False), ("https://localhost", True)):
        client = world.app.test_client()
        page = client.get("/login", base_url=base).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        reply = client.post("/login", base_url=base, headers={"Referer": f"{base}/login"},
                            data={"username": "trainee", "password": PASSWORDS["trainee"], "csrf_token": token})
        assert reply.status_code == 302, reply.status_code
        cookie = next(h for h in reply.headers.getlist("Set-Cookie") if h.startswith(name + "="))
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags and "samesite=lax" in cookie.lower(), cookie
        assert ("secure" in flags) == secure, cookie  # security.secure_cookies: auto


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.problems.append("inline <script> without src")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style= on <{tag}> (the CSP's style-src blocks it)")
            if value and name in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                    ("javascript:", "data:text/html")):
                self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_data(self, data):
        pass


def markup_problems(html: str) -> list[str]:
    parser = _Markup()
    parser.feed(html)
    return parser.problems


def test_templates_have_no_inline_script_or_handlers(world):
    folder = Path(world.app.template_folder)
    for template in sorted(folder.glob("*.html")):
        text = template.read_text()
        problems = markup_problems(re.sub(r"{[{%#].*?[%}#]}", "jinja", text, flags=re.S))
        assert not problems, f"{template.name}: {problems}"
        assert not re.search(r"\|\s*safe\b", text) and "autoescape false" not in text, \
            f"{template.name}: turns escaping off"


def test_rendered_pages_have_no_inline_script_or_handlers(world):
    pages = {"anonymous": ["/login"],
             "admin": ["/", "/workcards", f"/workcards/{world.published}", f"/workcards/{world.draft}",
                       f"/workcards/{world.published}/summary?user=trainee", f"/takes/{world.reference}",
                       f"/takes/{world.attempt}", "/calibration", "/admin/users", "/admin/audit"],
             "trainee": ["/", "/workcards", f"/workcards/{world.published}", f"/takes/{world.attempt}"]}
    for who, paths in pages.items():
        for path in paths:
            reply = world.clients[who].get(path)
            if reply.status_code == 404 and path == "/admin/audit":
                continue  # the audit page is not in every version
            assert reply.status_code == 200, (who, path, reply.status_code)
            assert not markup_problems(reply.get_data(as_text=True)), (who, path)


def test_user_text_is_escaped_in_pages(world):
    """A work card titled like markup shows as text on every page that prints it."""
    title = '<script src="https://evil.example/x.js"></script><img src=x onerror=alert(1)>'
    made = admin_call(world, "POST", "/api/workcards", json={"title": title, "tags": ["<b>bold</b>"]})
    assert made.status_code == 201
    card = made.get_json()["id"]
    for path in (f"/workcards/{card}", "/workcards", f"/workcards/{card}/summary"):
        html = world.clients["admin"].get(path).get_data(as_text=True)
        assert '<script src="https://evil.example' not in html and "<b>bold" not in html, path
        assert not markup_problems(html), path


# --------------------------------------------------------------------------- PostgreSQL: NUL bytes
def test_nul_bytes_on_postgresql(tmp_path, video_file, monkeypatch):
    from tests.helpers.postgres import PostgresServer, find_bindir

    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed")
    server = PostgresServer().start()
    try:
        monkeypatch.setenv("DATABASE_URL", server.database())
        app = make_app(tmp_path, video_file)
        try:
            create_users(app)
            anonymous = app.test_client()
            assert try_login(anonymous, "ad\x00min", "whatever-123").status_code == 401
            admin = app.test_client()
            assert try_login(admin, "admin", PASSWORDS["admin"]).status_code == 302
            card = admin.post("/api/workcards", json={"title": "Card"}, headers={"X-CSRFToken": page_token(admin)})
            card_id = card.get_json()["id"]
            for path in (f"/api/workcards/{card_id}/progress?user=a%00b", f"/workcards/{card_id}/summary?user=a%00b"):
                assert admin.get(path).status_code == 404, path
        finally:
            stop_app(app)
    finally:
        server.stop()


def test_take_ids_with_nul_or_odd_bytes_never_reach_the_database(world):
    """SQLite would take them; PostgreSQL refuses NUL: ids are checked by shape before any query."""
    for take_id in ("2026%00", "20260101-000000-ab%00", "%ff%fe", "20260101-000000-" + "a" * 33):
        reply = world.clients["admin"].get(f"/api/takes/{take_id}")
        assert reply.status_code == 404, take_id
    with world.app.app_context():
        assert not [i for i in db.session.scalars(sa.select(Take.id)) if "\x00" in i or len(i) > 32]


def test_the_session_key_file_is_private(world):
    """The session key is the keys to every session: only VSION's user reads it."""
    path = Path(world.app.extensions["vsion"].settings.data_dir) / "secret_key"
    assert path.is_file() and (path.stat().st_mode & 0o077) == 0, oct(path.stat().st_mode)


def test_responses_never_show_tracebacks_or_paths(world):
    """A refused request explains itself without server internals."""
    data_dir = str(world.app.extensions["vsion"].settings.data_dir)
    for reply in (admin_call(world, "POST", "/api/workcards", data=b"{", content_type="application/json"),
                  admin_call(world, "POST", "/api/calibrations/import",
                             data={"file": (io.BytesIO(b"[x]\nsize=1"), "a.toml")}),
                  world.clients["admin"].get("/api/calibrations/20990101-000000"),
                  world.clients["admin"].get(f"/api/takes/{world.free}/comparison")):
        body = reply.get_data(as_text=True)
        assert 400 <= reply.status_code < 500, reply.status_code
        assert "Traceback" not in body and data_dir not in body and os.sep + "tmp" not in body, body
        json.loads(body)
