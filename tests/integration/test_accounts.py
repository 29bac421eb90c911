"""Account security: login rate limit, lockout, session lifetime and cookies, user administration, audit."""
from __future__ import annotations

import html
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from settings import parse_settings
from tests.helpers.accounts import PASSWORDS, csrf_token, login

NEW_PASSWORD = "brand-new-secret-42"
SECRETS = (*PASSWORDS.values(), NEW_PASSWORD, "wrong-password-1")


@pytest.fixture
def make_app(tmp_path, video_file):
    """An app (cameras not started) with these ``security:`` settings and one user per role."""
    from accounts.users import create_user
    from app import create_app, prepare_app

    made = []

    def make(**security):
        settings = parse_settings({"cameras": [{"name": "cam1", "url": str(video_file)}],
                                   "data_dir": str(tmp_path / f"data{len(made)}"), "security": security})
        app = create_app(settings, {"TESTING": True})
        prepare_app(app)
        with app.app_context():
            for role, password in PASSWORDS.items():
                create_user(role, password, role)
        made.append(app)
        return app

    yield make
    for app in made:  # its cameras never started: only the database connections to release
        from database.base import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def post_login(client, username, password, **kwargs):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)}, **kwargs)


def user_row(app, username):
    from database.base import db
    from database.models import User

    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        db.session.expunge(user)
        return user


def audit_rows(app, action=None):
    from accounts.audit import event_view, events

    with app.app_context():
        return [event_view(e) for e in events(limit=500, action=action)]


def user_ids(client) -> dict[str, int]:
    return {u["username"]: u["id"] for u in client.get("/api/users").get_json()["users"]}


def patch(client, user_id, payload, token=None):
    headers = {"X-CSRFToken": token or csrf_token(client, "/admin/users")}
    return client.patch(f"/api/users/{user_id}", json=payload, headers=headers)


def set_cookie(reply, name="vsion_session") -> str:
    cookies = [h for h in reply.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert cookies, reply.headers
    return cookies[-1]


# --------------------------------------------------------------------------- rate limit
def test_login_rate_limit_answers_429_with_retry_after(make_app, caplog):
    app = make_app(login_rate_limit="3/minute", lockout_failures=50)
    client = app.test_client()
    caplog.set_level(logging.INFO)
    for _ in range(3):
        assert post_login(client, "nobody", "wrong-password-1").status_code == 401
    reply = post_login(client, "admin", PASSWORDS["admin"])  # even the right password waits
    assert reply.status_code == 429
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    page = reply.get_data(as_text=True)
    assert "Trop de tentatives de connexion" in page and 'name="csrf_token"' in page
    english = client.post("/login?lang=en", data={"username": "admin", "password": "x", "csrf_token": csrf_token(client)})
    assert english.status_code == 429 and "Too many sign-in attempts" in english.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # only POST /login is limited
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))
    assert client.get("/api/cameras").status_code == 401  # still not logged in
    assert "too many login attempts from 127.0.0.1" in caplog.text
    assert not any(secret in caplog.text for secret in SECRETS)


def test_rate_limit_is_per_client_address(make_app):
    app = make_app(login_rate_limit="2/minute")
    client = app.test_client()
    for _ in range(2):
        post_login(client, "nobody", "wrong-password-1")
    assert post_login(client, "nobody", "wrong-password-1").status_code == 429
    other = app.test_client()
    reply = post_login(other, "admin", PASSWORDS["admin"], environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert reply.status_code == 302


# --------------------------------------------------------------------------- throttling of wrong passwords
def throttle_rows(app, username):
    from accounts.throttle import throttles
    from accounts.users import by_name

    with app.app_context():
        return throttles(by_name(username))


def hold(app, username, seconds):
    """Make every address counting wrong passwords for ``username`` wait ``seconds`` more from now."""
    from accounts.users import by_name
    from database.base import db
    from database.models import LoginThrottle

    with app.app_context():
        db.session.execute(db.update(LoginThrottle).where(LoginThrottle.user_id == by_name(username).id)
                           .values(blocked_until=datetime.now(UTC) + timedelta(seconds=seconds)))
        db.session.commit()


def test_wrong_passwords_make_that_address_wait_and_admin_lifts_it(make_app):
    app = make_app(lockout_failures=3, lockout_minutes=15, login_rate_limit="100/minute")
    client = app.test_client()
    for _ in range(2):
        reply = post_login(client, "expert", "wrong-password-1")
        assert reply.status_code == 401 and "Identifiant ou mot de passe incorrect" in reply.get_data(as_text=True)
    assert [(r["address"], r["failures"], r["waits_until"]) for r in throttle_rows(app, "expert")] == [
        ("127.0.0.1", 2, None)]
    reply = post_login(client, "expert", "wrong-password-1")  # the third one: this address now waits
    assert reply.status_code == 401
    from database.base import db
    from database.models import LoginThrottle

    with app.app_context():
        row = db.session.scalars(db.select(LoginThrottle)).one()
        assert row.failures == 3 and row.blocked_until - row.last_failure_at == timedelta(seconds=1)

    hold(app, "expert", 60)  # the waits double up to lockout_minutes: say this address is one minute from its next try
    right = post_login(client, "expert", PASSWORDS["expert"])  # while it waits, the right password is refused too
    page = right.get_data(as_text=True)
    assert right.status_code == 429 and "Trop de mots de passe erronés" in page and 50 <= int(right.headers["Retry-After"]) <= 60
    assert client.get("/api/cameras").status_code == 401
    # Waiting: a wrong and the right password get the same answer, so a guess is not confirmed.
    wrong = post_login(client, "expert", "wrong-password-1")
    strip = lambda html: re.sub(r'(value|content)="[^"]*"|\d+ s', "", html)  # noqa: E731 - tokens, seconds
    assert wrong.status_code == 429 and strip(wrong.get_data(as_text=True)) == strip(page)
    assert throttle_rows(app, "expert")[0]["failures"] == 3  # tries while waiting are not counted
    # Another address signs in at once.
    other = post_login(app.test_client(), "expert", PASSWORDS["expert"], environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 302
    # An unknown name gets the generic answer, never a wait, and is never recorded.
    for _ in range(4):
        unknown = post_login(client, "ghost", "wrong-password-1")
        assert unknown.status_code == 401 and "Identifiant ou mot de passe incorrect" in unknown.get_data(as_text=True)

    admin = app.test_client()
    login(admin, "admin")
    expert_id = user_ids(admin)["expert"]
    listed = admin.get("/api/users").get_json()["users"]
    shown = next(u for u in listed if u["username"] == "expert")
    assert shown["locked"] is True and shown["failed_logins"] == 3 and shown["throttled"][0]["address"] == "127.0.0.1"
    row = patch(admin, expert_id, {"unlock": True})
    assert row.status_code == 200
    assert row.get_json()["locked"] is False and row.get_json()["failed_logins"] == 0 and row.get_json()["throttled"] == []
    assert post_login(client, "expert", PASSWORDS["expert"]).status_code == 302

    assert len(audit_rows(app, "login.throttled")) == 1
    failed = audit_rows(app, "login.failed")
    assert [e["user"] for e in failed].count("expert") == 5
    assert [e["user"] for e in failed].count(None) == 4  # the unknown name is not recorded
    assert not any("ghost" in str(e) for e in audit_rows(app))
    assert {e["detail"]["reason"] for e in failed if e["user"] == "expert"} == {"password", "throttled"}
    unlock = audit_rows(app, "user.unlock")
    assert unlock[0]["user"] == "admin" and unlock[0]["target_id"] == str(expert_id)
    assert unlock[0]["detail"]["addresses"] == 1


def test_the_wait_grows_and_is_capped():
    from accounts.throttle import wait_s

    assert [wait_s(n, 5, 900) for n in range(1, 9)] == [0, 0, 0, 0, 1, 2, 4, 8]
    assert wait_s(20, 5, 900) == 900 and wait_s(10**6, 5, 60) == 60


def test_the_wait_runs_out(make_app):
    from database.base import db
    from database.models import LoginThrottle

    app = make_app(lockout_failures=2)
    client = app.test_client()
    for _ in range(2):
        post_login(client, "trainee", "wrong-password-1")
    hold(app, "trainee", 60)
    assert post_login(client, "trainee", PASSWORDS["trainee"]).status_code == 429
    with app.app_context():
        db.session.execute(db.update(LoginThrottle).values(blocked_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    before = datetime.now(UTC)
    assert post_login(client, "trainee", PASSWORDS["trainee"]).status_code == 302
    assert throttle_rows(app, "trainee") == []  # a right password clears this address's count
    assert user_row(app, "trainee").last_login_at >= before - timedelta(seconds=1)


def test_failures_of_a_day_ago_are_forgotten(make_app):
    from database.base import db
    from database.models import LoginThrottle

    app = make_app(lockout_failures=2)
    client = app.test_client()
    for _ in range(2):
        post_login(client, "trainee", "wrong-password-1")
    with app.app_context():
        db.session.execute(db.update(LoginThrottle).values(blocked_until=None,
                                                           last_failure_at=datetime.now(UTC) - timedelta(days=2)))
        db.session.commit()
    reply = post_login(client, "trainee", "wrong-password-1")
    assert reply.status_code == 401
    assert throttle_rows(app, "trainee")[0]["failures"] == 1


def test_success_clears_the_count(make_app):
    app = make_app(lockout_failures=3)
    client = app.test_client()
    for _ in range(2):
        post_login(client, "technician", "wrong-password-1")
    assert post_login(client, "technician", PASSWORDS["technician"]).status_code == 302
    assert throttle_rows(app, "technician") == []
    assert audit_rows(app, "login.success")[0]["user"] == "technician"


# --------------------------------------------------------------------------- sessions
def test_session_reaches_its_maximum_age(make_app):
    from web.auth import LOGIN_AT, session_expired

    app = make_app(session_max_hours=2)
    client = app.test_client()
    login(client, "technician")
    assert client.get("/api/cameras").status_code == 200
    with client.session_transaction() as session:
        assert session.permanent
        session[LOGIN_AT] -= 2 * 3600 - 60  # one minute left
    assert client.get("/api/cameras").status_code == 200
    with client.session_transaction() as session:
        session[LOGIN_AT] -= 120
    reply = client.get("/api/cameras")
    assert reply.status_code == 401 and "expired" in reply.get_json()["error"]
    assert client.get("/api/cameras").status_code == 401  # logged out, not only refused once
    assert audit_rows(app, "logout")[0]["detail"] == {"reason": "session_max_age"}

    login(client, "technician")
    with client.session_transaction() as session:
        session[LOGIN_AT] -= 3 * 3600
    assert client.get("/video_feed/0").status_code == 401

    login(client, "technician")
    with client.session_transaction() as session:
        session[LOGIN_AT] -= 3 * 3600
    reply = client.get("/workcards")
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/login?next=/workcards")
    assert "Session expirée" in client.get(reply.headers["Location"]).get_data(as_text=True)

    with app.test_request_context():  # what the Socket.IO connect handler asks
        from flask import session

        assert not session_expired()
        session["_user_id"] = "1"
        assert session_expired()  # logged in without a login time
        session[LOGIN_AT] = time.time()
        assert not session_expired()
        assert session_expired(now=time.time() + 2 * 3600 + 1)


def test_idle_lifetime(make_app):
    app = make_app(session_idle_minutes=45)
    assert app.permanent_session_lifetime == timedelta(minutes=45)
    client = app.test_client()
    cookie = set_cookie(login(client, "trainee"))
    expires = datetime.strptime(re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT")
    left = expires.replace(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(minutes=44) < left <= timedelta(minutes=45)
    assert set_cookie(client.get("/api/cameras"))  # each request renews the idle time

    quick = make_app(session_idle_minutes=1 / 60)  # one second
    client = quick.test_client()
    login(client, "trainee")
    assert client.get("/api/cameras").status_code == 200
    time.sleep(2.5)  # the signed cookie is now older than the idle lifetime: Flask refuses it
    assert client.get("/api/cameras").status_code == 401


def test_cookie_flags(make_app):
    app = make_app()
    client = app.test_client()
    cookie = set_cookie(login(client, "trainee"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert not any(h.startswith("remember_token") for h in client.get("/").headers.getlist("Set-Cookie"))

    https = app.test_client()
    token = csrf_token(https, "https://localhost/login")
    reply = https.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                       data={"username": "trainee", "password": PASSWORDS["trainee"], "csrf_token": token})
    assert reply.status_code == 302
    cookie = set_cookie(reply)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

    always = make_app(secure_cookies="always").test_client()
    assert "Secure" in set_cookie(always.get("/login"))
    never = make_app(secure_cookies="never").test_client()
    assert "Secure" not in set_cookie(never.get("/login", base_url="https://localhost"))


def test_no_session_fixation(make_app):
    app = make_app()
    client = app.test_client()
    client.get("/login?lang=en")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    before = client.get_cookie("vsion_session").value
    login(client, "expert")
    assert client.get_cookie("vsion_session").value != before
    with client.session_transaction() as session:
        assert "planted" not in session and session["lang"] == "en" and session["_user_id"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    with client.session_transaction() as session:
        assert "_user_id" not in session and session.get("lang") == "en"
    assert audit_rows(app, "logout")[0]["user"] == "expert"


def test_stale_login_form_gets_a_readable_answer(make_app):
    app = make_app()
    client = app.test_client()
    reply = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": "stale"})
    assert reply.status_code == 400 and "trop ancienne" in reply.get_data(as_text=True)
    assert 'name="csrf_token"' in reply.get_data(as_text=True)
    assert client.get("/api/cameras").status_code == 401


# --------------------------------------------------------------------------- user administration
def test_patch_user_fields(make_app):
    app = make_app()
    admin = app.test_client()
    login(admin, "admin")
    ids = user_ids(admin)
    token = csrf_token(admin, "/admin/users")

    reply = patch(admin, ids["trainee"], {"role": "expert"}, token)
    body = reply.get_json()
    assert reply.status_code == 200 and body["role"] == "expert"
    assert {"locked_until", "failed_logins", "last_login_at", "locked"} <= set(body)
    assert "password" not in str(body) and "argon2" not in str(body)

    assert patch(admin, ids["trainee"], {"active": False}, token).get_json()["active"] is False
    assert post_login(app.test_client(), "trainee", PASSWORDS["trainee"]).status_code == 401
    assert patch(admin, ids["trainee"], {"active": True}, token).get_json()["active"] is True

    assert patch(admin, ids["trainee"], {"password": NEW_PASSWORD}, token).status_code == 200
    assert post_login(app.test_client(), "trainee", PASSWORDS["trainee"]).status_code == 401
    assert post_login(app.test_client(), "trainee", NEW_PASSWORD).status_code == 302

    several = patch(admin, ids["technician"], {"role": "trainee", "active": False}, token)
    assert several.status_code == 200 and several.get_json()["role"] == "trainee"

    role = audit_rows(app, "user.role")
    assert [(e["target_type"], e["detail"]["old"], e["detail"]["new"]) for e in role] == [
        ("user", "technician", "trainee"), ("user", "trainee", "expert")]
    assert [e["action"] for e in audit_rows(app, "user.")][:3] == ["user.disable", "user.role", "user.password_reset"]
    assert len(audit_rows(app, "user.enable")) == 1 and len(audit_rows(app, "user.disable")) == 2
    assert all(e["user"] == "admin" and e["ip"] == "127.0.0.1" for e in audit_rows(app, "user."))
    assert audit_rows(app, "user.password_reset")[0]["target_id"] == str(ids["trainee"])


@pytest.mark.parametrize("payload, needle", [
    ({}, "at least one"),
    ({"role": "boss"}, "role"),
    ({"active": "false"}, "active"),
    ({"password": "short"}, "password"),
    ({"password": "aaaaaaaaaaaa"}, "too easy to guess"),
    ({"password": "password1234"}, "too easy to guess"),
    ({"unlock": False}, "unlock"),
    ({"username": "renamed"}, "username"),
])
def test_patch_user_refuses_bad_payloads(make_app, payload, needle):
    app = make_app()
    admin = app.test_client()
    login(admin, "admin")
    reply = patch(admin, user_ids(admin)["trainee"], payload)
    assert reply.status_code == 400 and needle in reply.get_json()["error"]
    assert audit_rows(app, "user.") == []


def test_patch_user_protects_the_administrators(make_app):
    from accounts.users import UserError, get_user, update_user

    app = make_app()
    admin = app.test_client()
    login(admin, "admin")
    ids = user_ids(admin)
    token = csrf_token(admin, "/admin/users")
    for payload in ({"role": "expert"}, {"active": False}):
        reply = patch(admin, ids["admin"], payload, token)
        assert reply.status_code == 400 and "your own account" in reply.get_json()["error"]
    assert patch(admin, 9999, {"active": False}, token).status_code == 404
    # The self rule answers first on the API; the service also guards the last active administrator.
    with app.app_context():
        last, other = get_user(ids["admin"]), get_user(ids["technician"])
        for change in ({"role": "expert"}, {"active": False}):
            with pytest.raises(UserError, match="last active administrator"):
                update_user(last, other, **change)
        assert get_user(ids["admin"]).role == "admin" and get_user(ids["admin"]).active
    # With a second administrator, one may demote the other.
    created = admin.post("/api/users", json={"username": "chef", "role": "admin", "password": NEW_PASSWORD},
                         headers={"X-CSRFToken": token})
    assert created.status_code == 201
    chef = app.test_client()
    login_reply = chef.post("/login", data={"username": "chef", "password": NEW_PASSWORD, "csrf_token": csrf_token(chef)})
    assert login_reply.status_code == 302
    assert patch(chef, ids["admin"], {"role": "expert"}).status_code == 200
    assert admin.get("/api/users").status_code == 403  # demoted: no longer an administrator
    assert patch(chef, created.get_json()["id"], {"active": False}).status_code == 400  # chef is now the last
    create = audit_rows(app, "user.create")
    assert create[0]["detail"] == {"username": "chef", "role": "admin"} and create[0]["user"] == "admin"


@pytest.mark.parametrize("role", ["technician", "expert", "trainee"])
def test_patch_user_is_for_administrators(make_app, role):
    app = make_app()
    client = app.test_client()
    login(client, role)
    reply = client.patch("/api/users/1", json={"role": "admin"}, headers={"X-CSRFToken": csrf_token(client, "/")})
    assert reply.status_code == 403
    assert client.get("/admin/users").status_code == 403


def test_patch_user_needs_the_csrf_token(make_app):
    app = make_app()
    admin = app.test_client()
    login(admin, "admin")
    trainee = user_ids(admin)["trainee"]
    assert admin.patch(f"/api/users/{trainee}", json={"role": "admin"}).status_code == 400
    assert admin.patch(f"/api/users/{trainee}", json={"role": "admin"},
                       headers={"X-CSRFToken": "forged"}).status_code == 400
    assert user_row(app, "trainee").role == "trainee"


def test_users_page_wires_the_controls(make_app):
    app = make_app()
    admin = app.test_client()
    login(admin, "admin")
    page = admin.get("/admin/users?lang=fr").get_data(as_text=True)
    assert "users.js" in page and "onclick" not in page and "<script>" not in page
    labels = json.loads(html.unescape(re.search(r"data-labels='([^']*)'", page).group(1)))
    assert labels["users_reset_password"] == "Réinitialiser le mot de passe" and labels["users_unlock"] == "Déverrouiller"
    assert re.search(r'data-me="\d+"', page)


# --------------------------------------------------------------------------- no secret anywhere
def test_no_password_in_audit_rows_or_logs(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(lockout_failures=2)
    client = app.test_client()
    post_login(client, PASSWORDS["expert"], "wrong-password-1")  # a password typed in the name field
    post_login(client, "expert", "wrong-password-1")
    post_login(client, "expert", "wrong-password-1")
    admin = app.test_client()
    login(admin, "admin")
    ids = user_ids(admin)
    token = csrf_token(admin, "/admin/users")
    patch(admin, ids["expert"], {"unlock": True, "password": NEW_PASSWORD}, token)
    admin.post("/api/users", json={"username": "luc", "role": "trainee", "password": NEW_PASSWORD},
               headers={"X-CSRFToken": token})
    admin.post("/logout", data={"csrf_token": token})
    rows = audit_rows(app)
    assert {"login.failed", "login.throttled", "login.success", "user.unlock", "user.password_reset", "user.create",
            "logout"} <= {e["action"] for e in rows}
    for secret in SECRETS:
        assert secret not in str(rows)
        assert secret not in caplog.text
