"""A real VSION server process, as a site runs it: gunicorn over HTTPS (``tls_cert: auto``), real
clients (requests checking the certificate with VSION's own authority, Socket.IO, raw WebSockets).

What is proved here: HTTPS with Secure cookies, HSTS and the redirect listener; no server
version in any answer; open Socket.IO links end at once when their session does (logout, a
disabled account, a reset password) and follow a role change; a trainee never hears another
trainee's take; a take stops by itself at its maximum length and when its starter vanished
(but not when they come back in time); wrong passwords from one address never keep the account
out from another; caps on links and previews; garbage packets leave one warning line, no
traceback; SIGTERM finishes a take and stops cleanly.
"""
from __future__ import annotations

import contextlib
import json
import re
import signal
import ssl
import threading
import time

import pytest
import requests
import simple_websocket
import socketio

from tests.helpers.accounts import MORE_USERS, PASSWORDS, create_users, signed_in
from tests.helpers.servers import (
    EventClient,
    VsionServer,
    client_session,
    free_port,
    login_form,
    mjpeg_viewer,
    wait_until,
)
from tests.helpers.world import published_card

LIMITS = {"sockets_per_address": 8, "sockets_per_user": 4, "mjpeg_per_user": 2, "mjpeg_total": 3}
RECORDING = {"max_take_s": 8, "orphan_stop_s": 3}


@pytest.fixture(scope="module")
def site(tmp_path_factory, video_file):
    """The server on two file cameras over HTTPS, its database made first in this process: a user
    per role, a second trainee and a published work card (for trainees' attempts)."""
    from database.base import db
    from settings import load_settings
    from web.factory import create_app, prepare_app

    root = tmp_path_factory.mktemp("site")
    cameras = [{"name": "cam1", "url": str(video_file)}, {"name": "cam2", "url": str(video_file)}]
    extra = {"server": {"tls_cert": "auto"}, "recording": RECORDING, "limits": LIMITS,
             "security": {"lockout_failures": 3, "login_rate_limit": "60/minute"}}
    server = VsionServer(root, cameras, extra, users={})
    app = create_app(load_settings(server.config), {"TESTING": True})
    prepare_app(app)
    create_users(app)
    server.card, _ = published_card(app, signed_in(app, "expert"))
    with app.app_context():
        db.engine.dispose()
    server.passwords = {**PASSWORDS, **{name: pw for name, (_, pw) in MORE_USERS.items()}}
    server.start()
    server.wait_connected(2)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def links(site):
    """Socket.IO clients opened by a test (``links(user)``), closed at its end."""
    opened = []

    def connect(name: str, session=None) -> EventClient:
        session = session or site.login(name)
        # This site allows few links per address (LIMITS): a link an earlier test closed frees its
        # place once the server's thread for it ends, a moment later, so a refused link is tried again.
        deadline = time.monotonic() + 10
        while True:
            try:
                opened.append(EventClient(site.url, session))
                return opened[-1]
            except socketio.exceptions.ConnectionError as exc:
                if time.monotonic() > deadline or "too many open pages" in str(exc):  # the user's own cap: as is
                    raise
                time.sleep(0.5)

    yield connect
    for client in opened:
        if client.client.connected:
            client.close()


def attempt(client: EventClient, card: int) -> dict:
    return client.call("start recording", {"work_card_id": card, "kind": "attempt", "label": "my secret label"})


# --------------------------------------------------------------------------- HTTPS, headers
def test_https_with_a_real_client(site):
    ca = site.data_dir / "tls" / "ca.pem"
    assert ca.is_file() and (site.data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    with pytest.raises(requests.exceptions.SSLError):  # not trusted by default: the tablets install ca.pem
        requests.get(site.url + "/healthz", timeout=5)
    session = client_session(verify=str(ca))
    reply = login_form(session, site.url, "trainee", PASSWORDS["trainee"])
    assert reply.status_code == 302
    cookie = next(h for h in reply.raw.headers.getlist("Set-Cookie") if h.startswith("vsion_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    page = session.get(site.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Strict-Transport-Security"].startswith("max-age=")
    for answer in (page, session.get(site.url + "/healthz", timeout=5), session.get(site.url + "/nowhere", timeout=5)):
        assert answer.headers.get("Server") == "VSION", answer.headers
    fingerprint = re.search(r"signed by .*ca\.pem.*SHA-256 ([0-9A-F:]{95})", site.log_text())
    assert fingerprint, "the authority's fingerprint is printed at start"


def test_plain_http_is_redirected(tmp_path, video_file):
    redirect = free_port()
    server = VsionServer(tmp_path, [{"name": "cam1", "url": str(video_file)}],
                         {"server": {"tls_cert": "auto", "http_redirect_port": redirect}})
    server.start()
    try:
        reply = requests.get(f"http://127.0.0.1:{redirect}/workcards?x=1", allow_redirects=False, timeout=5)
        assert reply.status_code == 308 and reply.headers["Location"] == f"{server.url}/workcards?x=1"
        assert reply.headers["Server"] == "VSION"
    finally:
        assert server.stop() == 0


# --------------------------------------------------------------------------- sessions and sockets
def test_logout_closes_that_sessions_links_at_once(site, links):
    session = site.login("technician")
    mine, other_session = links("technician", session), links("technician")
    token = re.search(r'name="csrf-token" content="([^"]+)"', session.get(site.url + "/").text).group(1)
    assert session.post(site.url + "/logout", headers={"X-CSRFToken": token}, timeout=10).status_code in (200, 302)
    mine.wait_for("disconnect", timeout=5)
    assert other_session.client.connected  # the same user's other session is not this one
    events_before = len(mine.events)
    time.sleep(1.5)  # camera status goes out every second: nothing reaches a closed link
    assert len(mine.events) == events_before


@pytest.mark.parametrize("change", [{"active": False}, {"password": "a-new-secret-pass-77"}])
def test_disable_or_password_reset_closes_every_link(site, links, change):
    admin = site.login("admin")
    victim = links("expert2"), links("expert2")
    users = {u["username"]: u["id"] for u in admin.get(site.url + "/api/users", timeout=10).json()["users"]}
    token = re.search(r'name="csrf-token" content="([^"]+)"', admin.get(site.url + "/", timeout=10).text).group(1)
    reply = admin.patch(f"{site.url}/api/users/{users['expert2']}", json=change, headers={"X-CSRFToken": token},
                        timeout=10)
    assert reply.status_code == 200
    for client in victim:
        client.wait_for("disconnect", timeout=5)
    undo = {"active": True} if "active" in change else {"password": MORE_USERS["expert2"][1]}
    assert admin.patch(f"{site.url}/api/users/{users['expert2']}", json=undo, headers={"X-CSRFToken": token},
                       timeout=10).status_code == 200


def test_a_demoted_user_hears_what_the_new_role_may(site, links):
    admin = site.login("admin")
    token = re.search(r'name="csrf-token" content="([^"]+)"', admin.get(site.url + "/", timeout=10).text).group(1)
    users = {u["username"]: u["id"] for u in admin.get(site.url + "/api/users", timeout=10).json()["users"]}
    expert = links("expert")
    trainee = links("trainee")
    try:
        assert attempt(trainee, site.card)["ok"]
        seen = expert.wait_for("recording status", lambda s: s.get("recording") and s.get("take_id"))
        assert seen["user_id"] == users["trainee"]
        reply = admin.patch(f"{site.url}/api/users/{users['expert']}", json={"role": "trainee"},
                            headers={"X-CSRFToken": token}, timeout=10)
        assert reply.status_code == 200
        assert expert.client.connected  # still signed in, as a trainee now
        stopped = trainee.call("stop recording", {})
        assert stopped["ok"]
        last = expert.wait_for("recording status", lambda s: not s.get("recording"))
        assert "take_id" not in last and "user_id" not in last and "take" not in last, last
    finally:
        admin.patch(f"{site.url}/api/users/{users['expert']}", json={"role": "expert"},
                    headers={"X-CSRFToken": token}, timeout=10)


def test_trainees_never_hear_each_others_takes(site, links):
    me, other, tech = links("trainee"), links("trainee2"), links("technician")
    started = attempt(me, site.card)
    assert started["ok"], started
    take_id = started["take_id"]
    time.sleep(1.5)
    stopped = me.call("stop recording", {})
    assert stopped["ok"] and "folder" not in stopped
    me.wait_for("recording status", lambda s: s.get("take_id") == take_id and not s["recording"])
    late = links("trainee2")  # the state sent on connect, with the last take
    late.wait_for("recording status")
    data_dir = str(site.data_dir)
    for client in (other, late, tech):  # technicians see free takes only
        heard = json.dumps(client.events)
        for secret in (take_id, "my secret label", '"user_id"', "trainee", data_dir):
            assert secret not in heard, (secret, heard[:500])
        assert any(e == "recording status" and d.get("recording") for e, d in other.events)  # busy is public
    assert take_id in json.dumps(me.events)
    assert data_dir not in json.dumps(me.events)  # no server path for anyone


# --------------------------------------------------------------------------- takes stop by themselves
def test_a_vanished_clients_take_stops(site, links):
    watcher = links("technician")
    starter = links("trainee")
    started = attempt(starter, site.card)
    assert started["ok"], started
    starter.close()
    stopped = watcher.wait_for("recording status", lambda s: not s.get("recording") and s.get("stop_reason"),
                               timeout=RECORDING["orphan_stop_s"] + 6)
    assert stopped["stop_reason"] == "orphaned" and "closed" in stopped["message"]
    assert "take_id" not in stopped  # a trainee's take, told to a technician: only why it stopped
    error = watcher.wait_for("recording error", timeout=2)
    assert error["code"] == "orphaned"


def test_coming_back_in_time_keeps_the_take(site, links):
    session = site.login("trainee")
    first = links("trainee", session)
    started = attempt(first, site.card)
    assert started["ok"], started
    first.close()
    time.sleep(1)
    again = links("trainee", session)
    time.sleep(RECORDING["orphan_stop_s"] + 1.5)
    state = again.wait_for("recording status")
    assert state["recording"] and state["take_id"] == started["take_id"]
    assert again.call("stop recording", {})["ok"]


def test_a_take_stops_at_its_maximum_length(site, links):
    owner, other = links("trainee"), links("trainee2")
    started = attempt(owner, site.card)
    assert started["ok"], started
    stopped = other.wait_for("recording status", lambda s: not s.get("recording") and s.get("stop_reason"),
                             timeout=RECORDING["max_take_s"] + 8)
    assert stopped["stop_reason"] == "max_length" and "at most" in stopped["message"]
    mine = owner.wait_for("recording status", lambda s: not s.get("recording") and s.get("take_id"))
    assert mine["take_id"] == started["take_id"] and mine["take"]["stop_reason"] == "max_length"
    duration = (mine["take"]["stop"]["monotonic_ns"] - mine["take"]["start"]["monotonic_ns"]) / 1e9
    assert RECORDING["max_take_s"] <= duration < RECORDING["max_take_s"] + 2


def test_the_original_client_payload_still_records(site, links):
    tech = links("technician")
    started = tech.call("start recording", {"data": "start record!"})
    assert started["ok"], started
    assert tech.call("stop recording", {"data": "stop record!"})["ok"]


# --------------------------------------------------------------------------- login abuse
def test_wrong_passwords_from_one_address_never_keep_the_user_out_from_another(site):
    attacker = client_session("127.0.0.2", site.verify)
    for n in range(3):
        assert login_form(attacker, site.url, "admin", f"guess-{n}-wrong").status_code == 401
    held = login_form(attacker, site.url, "admin", PASSWORDS["admin"])
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    user = client_session("127.0.0.3", site.verify)
    assert login_form(user, site.url, "admin", PASSWORDS["admin"]).status_code == 302
    users = user.get(site.url + "/api/users", timeout=10).json()["users"]
    throttled = next(u for u in users if u["username"] == "admin")["throttled"]
    assert [(t["address"], t["failures"]) for t in throttled] == [("127.0.0.2", 3)]


# --------------------------------------------------------------------------- caps
def close(ws) -> None:
    """Close a raw WebSocket and wait for its reader thread: a reader still in an SSL read when the
    next connection reuses its file descriptor would eat that connection's TLS handshake."""
    with contextlib.suppress(simple_websocket.ConnectionClosed):
        ws.close()
    ws.thread.join(5)


def raw_socket(site):
    context = ssl.create_default_context(cafile=str(site.verify))
    url = site.url.replace("https", "wss") + "/socket.io/?EIO=4&transport=websocket"
    return simple_websocket.Client.connect(url, ssl_context=context)


def test_links_per_address_are_capped(site):
    opened = []
    try:
        for _ in range(LIMITS["sockets_per_address"]):
            opened.append(raw_socket(site))
            assert opened[-1].receive(timeout=5).startswith("0{")
        with pytest.raises(simple_websocket.ConnectionError) as refused:
            raw_socket(site)
        assert refused.value.status_code == 429
    finally:
        for ws in opened:
            close(ws)


def test_links_per_user_are_capped(site, links):
    session = site.login("expert2")
    held = [links("expert2", session) for _ in range(LIMITS["sockets_per_user"])]
    with pytest.raises(Exception, match="too many open pages|Connection refused|connect"):
        links("expert2", session)
    assert all(client.client.connected for client in held)


def test_previews_are_capped_per_user_and_in_total(site):
    stop = threading.Event()
    sessions = [site.login("technician"), site.login("expert")]
    threads, frames = [], []

    def watch(session, index):
        try:
            mjpeg_viewer(f"{site.url}/video_feed/{index}", session, stop, frames)
        except (requests.RequestException, OSError):
            pass

    try:
        for n in range(LIMITS["mjpeg_per_user"]):
            threads.append(threading.Thread(target=watch, args=(sessions[0], n % 2), daemon=True))
            threads[-1].start()
        assert wait_until(lambda: len(frames) > 4, timeout=15)
        mine = sessions[0].get(site.url + "/video_feed/0", stream=True, timeout=10)
        assert mine.status_code == 429 and "mjpeg_per_user" in mine.json()["error"]
        threads.append(threading.Thread(target=watch, args=(sessions[1], 0), daemon=True))
        threads[-1].start()
        assert wait_until(lambda: sum(c["viewers"] for c in sessions[1].get(site.url + "/api/cameras", timeout=5)
                                      .json()) >= LIMITS["mjpeg_total"], timeout=10)
        full = sessions[1].get(site.url + "/video_feed/1", stream=True, timeout=10)
        assert full.status_code == 503 and "mjpeg_total" in full.json()["error"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


# --------------------------------------------------------------------------- garbage
GARBAGE = ["42[]", '42["connect"]', '42["connect", {}]', "4" + "2" + "[" * 3000 + "]" * 3000, "42{bad",
           '42["start recording", ' + "9" * 5000 + "]", '42["start recording", NaN]', "4{bad", "9", "",
           '41', '43["x"]', "45-[]", '42["live pose", {"enabled": 1e999}]', "40{bad"]


def test_anonymous_garbage_leaves_one_warning_line_each(site):
    before = len(site.log_text().splitlines())
    for packet in GARBAGE:
        ws = raw_socket(site)
        try:
            assert ws.receive(timeout=5).startswith("0{")
            ws.send("40")  # connect, anonymous: refused
            ws.send(packet)
            time.sleep(0.2)
        except simple_websocket.ConnectionClosed:
            pass
        finally:
            close(ws)
    time.sleep(3)  # refused links are closed two seconds after their refusal
    lines = site.log_text().splitlines()[before:]
    assert not [line for line in lines if "Traceback" in line or " ERROR " in line or "Bad request" in line], lines
    assert any("unreadable Socket.IO packet" in line for line in lines)
    assert client_session(verify=site.verify).get(site.url + "/healthz", timeout=5).status_code == 200


def test_signed_in_garbage_is_an_error_event_or_a_closed_link(site, links):
    client = links("trainee")
    for payload in ([[[[[]]]]], {"work_card_id": 10**30}, {"label": "x" * 10_000}, "text", 12, None):
        ack = client.call("start recording", payload)
        assert ack["ok"] is False and ack["code"] in ("invalid", "refused"), ack
    assert not [line for line in site.log_text().splitlines() if "Traceback" in line]


# --------------------------------------------------------------------------- stop
def test_sigterm_finishes_the_take_and_stops_cleanly(tmp_path, video_file):
    server = VsionServer(tmp_path, [{"name": "cam1", "url": str(video_file)}])  # plain HTTP: TLS is proved above
    server.start()
    server.wait_connected(1)
    client = EventClient(server.url, server.login("tech"))
    started = client.call("start recording", {})
    assert started["ok"], started
    time.sleep(2)
    assert server.proc.send_signal(signal.SIGTERM) is None
    code = server.proc.wait(60)
    server.proc = None
    server._log.close()
    log = server.log_text()
    assert code == 0, log[-3000:]
    assert "shutting down" in log and "Traceback" not in log and "Bad request" not in log
    take = json.loads((server.data_dir / "takes" / started["take_id"] / "take.json").read_text())
    assert take["status"] == "complete" and take["cameras"][0]["frames"] > 30
