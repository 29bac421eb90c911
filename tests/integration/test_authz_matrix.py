"""Who may do what: every route and every Socket.IO event against every role and anonymous.

The tables below are the decision for each route (Flask endpoint + method) and each event:
which roles are allowed, per sample object where the answer depends on the object (a
trainee sees their own attempts, a draft card is its author's). The tests walk
``app.url_map`` and the Socket.IO handlers: a route or an event without a row here fails,
so nothing can be added without deciding who may use it. Deny by default: only
``/login``, ``/healthz`` and the static files are open.

The app is the real one (SQLite database, take folders written with the real exporters),
built once for the module; the requests are harmless (an invalid body for every change),
and the database is checked unchanged after each row.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from database.base import db
from database.models import ROLES, Take, User
from tests.helpers.accounts import csrf_token, signed_in
from tests.helpers.accounts import token as page_token
from tests.helpers.world import (
    ANON,
    PROBE_BODY,
    World,
    build_world,
    db_state,
    fake_take,
    make_app,
    stop_app,
)

ALL = frozenset(ROLES)
STAFF = frozenset({"admin", "expert"})            # see every take and every trainee's results
AUTHORS = frozenset({"admin", "expert"})          # write work cards (admins: every card; experts: their own)
CALIBRATION = frozenset({"admin", "technician"})  # cameras and calibration
ADMIN = frozenset({"admin"})
OPEN = "open"                                     # no login needed


@dataclass(frozen=True)
class Rule:
    """Who may use one route: ``allowed`` per sample (variant) of its arguments.

    ``by_object``: the answer depends on the object, and an object the user may not see
    answers 404 "not found" (a denial, like 403). Otherwise a denial is exactly 403.
    ``note``: why the row is checked by its own test rather than by the generic walk.
    """

    allowed: dict[str, frozenset | str]
    by_object: bool = False
    note: str = ""


def roles(*names: str | frozenset) -> frozenset:
    out = set()
    for name in names:
        out |= set(name) if isinstance(name, frozenset) else {name}
    return frozenset(out)


def by_role(allowed) -> Rule:
    return Rule({"-": allowed})


def by_object(**variants) -> Rule:
    return Rule(variants, by_object=True)


# A take's visibility: references of published cards are everyone's; a trainee's attempt is theirs
# and the staff's; a technician sees free takes (their camera tests) but never trainees' attempts.
TAKE_VISIBILITY = dict(reference=ALL, attempt=roles("trainee", STAFF), other_attempt=STAFF,
                       free=roles("technician", STAFF))
# A card: published ones are everyone's, a draft its author's (the expert) and the admins'.
CARD_VISIBILITY = dict(published=ALL, draft=AUTHORS)
# Changing a card: its author or an admin (others get 403 on a card they see, 404 on a draft).
CARD_EDIT = dict(published=AUTHORS, draft=AUTHORS)
# Progress of a named trainee: staff may name anyone; a trainee only themselves; others see their own.
PROGRESS = dict(published=ALL, draft=AUTHORS, published_for_trainee=roles("trainee", STAFF))

ROUTES: dict[tuple[str, str], Rule] = {
    ("auth.login", "GET"): by_role(OPEN),
    ("auth.login", "POST"): by_role(OPEN),
    ("auth.logout", "POST"): Rule({"-": ALL}, note="test_logout_ends_the_session"),
    ("api.healthz", "GET"): by_role(OPEN),
    ("pages.index", "GET"): by_role(ALL),
    ("api.cameras", "GET"): by_role(ALL),
    ("api.jobs", "GET"): by_role(ALL),  # everyone: trainees see the jobs of their own takes only
    # The takes library: everyone, the content by visible_takes; label and notes by the owner and
    # the staff; processing again: staff, technicians for free takes, owners their own (a published
    # reference never); promotion by authors (to a card they write, checked by test_takes_library).
    ("takes.library_page", "GET"): by_role(ALL),
    ("takes.list_takes", "GET"): by_role(ALL),
    ("takes.update", "PATCH"): by_object(reference=STAFF, attempt=roles("trainee", STAFF), other_attempt=STAFF,
                                         free=roles("technician", STAFF), expert_free=STAFF),
    ("takes.process", "POST"): by_object(reference=frozenset(), attempt=roles("trainee", STAFF), other_attempt=STAFF,
                                         free=roles("technician", STAFF), expert_free=roles("technician", STAFF)),
    ("takes.promote", "POST"): by_role(AUTHORS),
    # Choosing a take's worker among its people: who may process it again (it is processed again).
    ("takes.choose_person", "POST"): by_object(reference=frozenset(), attempt=roles("trainee", STAFF),
                                               other_attempt=STAFF, free=roles("technician", STAFF),
                                               expert_free=roles("technician", STAFF)),
    ("takes.people", "GET"): by_object(**TAKE_VISIBILITY),
    # The onboarding checklist: administrators and technicians (who set up a site).
    ("onboarding.state", "GET"): by_role(CALIBRATION),
    ("onboarding.dismiss", "POST"): by_role(CALIBRATION),
    ("onboarding.reopen", "POST"): by_role(CALIBRATION),
    ("onboarding.board_printed", "POST"): by_role(CALIBRATION),
    ("video.video_feed", "GET"): by_role(ALL),
    ("admin.users_page", "GET"): by_role(ADMIN),
    ("admin.list_users", "GET"): by_role(ADMIN),
    ("admin.add_user", "POST"): by_role(ADMIN),
    # The Cameras page: administrators and technicians (without a config.yaml the changes answer 409).
    ("cameras.page", "GET"): by_role(CALIBRATION),
    ("cameras.list_cameras", "GET"): by_role(CALIBRATION),
    ("cameras.add_camera", "POST"): by_role(CALIBRATION),
    ("cameras.change_camera", "PUT"): by_role(CALIBRATION),
    ("cameras.remove_camera", "DELETE"): by_role(CALIBRATION),
    ("cameras.reorder_cameras", "PUT"): by_role(CALIBRATION),
    ("cameras.test_camera", "POST"): by_role(CALIBRATION),
    ("calibration.page", "GET"): by_role(CALIBRATION),
    ("calibration.list_sets", "GET"): by_role(CALIBRATION),
    ("calibration.get_set", "GET"): by_role(CALIBRATION),
    ("calibration.activate_set", "POST"): by_role(CALIBRATION),
    ("calibration.import_set", "POST"): by_role(CALIBRATION),
    ("calibration.compare_sets", "GET"): by_role(CALIBRATION),
    # The work area kept with the calibration in force (the live page gets it with the live pose).
    ("calibration.work_area", "GET"): by_role(CALIBRATION),
    ("calibration.set_work_area", "PUT"): by_role(CALIBRATION),
    ("calibration.reset_work_area", "DELETE"): by_role(CALIBRATION),
    # The calibration page's tools: the board and its print, calibration from a take, health.
    ("calibration_tools.board", "GET"): by_role(CALIBRATION),
    ("calibration_tools.set_board", "PUT"): by_role(CALIBRATION),
    ("calibration_tools.print_board", "GET"): by_role(CALIBRATION),
    ("calibration_tools.corners_picture", "GET"): by_role(CALIBRATION),
    ("calibration_tools.from_take", "POST"): by_role(CALIBRATION),
    ("calibration_tools.health", "GET"): by_role(CALIBRATION),
    ("calibration_tools.check_health", "POST"): by_role(CALIBRATION),
    ("workcards.list_page", "GET"): by_role(ALL),
    ("workcards.list_cards", "GET"): by_role(ALL),
    ("workcards.create_card", "POST"): by_role(AUTHORS),
    ("workcards.get_card", "GET"): by_object(**CARD_VISIBILITY),
    ("workcards.card_page", "GET"): by_object(**CARD_VISIBILITY),
    ("workcards.card_takes", "GET"): by_object(**CARD_VISIBILITY),
    ("workcards.update_card", "PATCH"): by_object(**CARD_EDIT),
    ("workcards.put_steps", "PUT"): by_object(**CARD_EDIT),
    ("workcards.choose_reference", "POST"): by_object(**CARD_EDIT),
    ("workcards.publish", "POST"): by_object(**CARD_EDIT),
    ("workcards.revise", "POST"): by_object(**CARD_EDIT),
    ("workcards.progress", "GET"): by_object(**PROGRESS),
    ("workcards.summary_page", "GET"): by_object(**PROGRESS),
    ("workcards.ergonomics_page", "GET"): by_object(**CARD_VISIBILITY),
    ("takes.page", "GET"): by_object(**TAKE_VISIBILITY),
    ("takes.detail", "GET"): by_object(**TAKE_VISIBILITY),
    ("takes.pose3d", "GET"): by_object(**TAKE_VISIBILITY),
    ("takes.video", "GET"): by_object(**TAKE_VISIBILITY),
    ("takes.download", "GET"): by_object(**TAKE_VISIBILITY),
    ("takes.ergonomics_report", "GET"): by_object(**TAKE_VISIBILITY),
    # Only attempts have a comparison (a reference or a free take answers 404 to everyone).
    ("takes.comparison", "GET"): by_object(attempt=roles("trainee", STAFF), other_attempt=STAFF),
    # Planned (issue 6): the audit log and account changes for admins, take deletion per object.
    ("audit.page", "GET"): by_role(ADMIN),
    ("audit.list_events", "GET"): by_role(ADMIN),
    ("audit.export_csv", "GET"): by_role(ADMIN),
    ("admin.change_user", "PATCH"): by_role(ADMIN),
    ("takes.delete", "DELETE"): Rule({
        # admins and experts: any take but a published reference; trainees: their own attempts;
        # technicians: the free takes they recorded.
        "attempt": roles("trainee", STAFF), "other_attempt": STAFF, "free": roles("technician", STAFF),
        "expert_free": STAFF, "reference": frozenset()}, by_object=True, note="test_take_deletion_matrix"),
}
# Open to anonymous users (web.PUBLIC_ENDPOINTS), besides the static files.
OPEN_ENDPOINTS = {"auth.login", "api.healthz", "static"}

# Socket.IO events: allowed roles, the error event a refusal is sent as, and a harmless payload
# (one that fails validation, or that the server refuses, where an allowed call would start something).
RECORDING_ERROR, POSE_ERROR, CALIBRATION_ERROR = "recording error", "live pose error", "calibration error"


@dataclass(frozen=True)
class Event:
    allowed: frozenset
    error_event: str
    payload: object = field(default_factory=dict)


EVENTS: dict[str, Event | str] = {
    "connect": "anonymous refused, every role accepted (test_socket_connect_needs_login)",
    "disconnect": "anyone connected (test_socket_connect_needs_login)",
    "start recording": Event(ALL, RECORDING_ERROR, {"kind": "not-a-kind"}),
    "stop recording": Event(ALL, RECORDING_ERROR, {"take_id": "not-a-take"}),
    "live pose": Event(ALL, POSE_ERROR, {}),
    "live person": Event(ALL, POSE_ERROR, {"person_id": 7}),  # refused: nobody is in view
    "calibration begin": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration focus": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration check": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration capture": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration auto": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration reset": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration intrinsics": Event(CALIBRATION, CALIBRATION_ERROR, {}),
    "calibration floor": Event(CALIBRATION, CALIBRATION_ERROR, {}),     # refused: no camera sees a board
    "calibration solve": Event(CALIBRATION, CALIBRATION_ERROR, {}),     # refused: nothing captured
    "calibration save": Event(CALIBRATION, CALIBRATION_ERROR, {}),      # refused: nothing solved
    "calibration session": Event(CALIBRATION, CALIBRATION_ERROR, {}),   # invalid: no mode
    "calibration driver": Event(CALIBRATION, CALIBRATION_ERROR, {}),    # invalid: no action
    "calibration adopt": Event(CALIBRATION, CALIBRATION_ERROR, {}),     # invalid: no job
}

@pytest.fixture(scope="module")
def world(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("matrix"), video_file, start=True)  # the feeds stream frames
    try:
        processor, deadline = app.extensions["vsion"].processor, time.monotonic() + 60
        while not all(c["status"] == "connected" for c in processor.health()):
            assert time.monotonic() < deadline, f"the file cameras did not connect: {processor.health()}"
            time.sleep(0.1)
        yield build_world(app)
    finally:
        stop_app(app)


# --------------------------------------------------------------------------- requests and their outcome
def sample(world: World, variant: str) -> tuple[dict, dict]:
    """URL values and query arguments for a variant of the sample objects."""
    takes = {"reference": world.reference, "attempt": world.attempt, "other_attempt": world.other_attempt,
             "free": world.free, "expert_free": world.expert_free}
    values = {"take_id": world.reference, "camera": "cam1", "what": "csv", "card_id": world.published,
              "set_id": world.calibration_set, "index": 0, "user_id": world.user_ids.get("trainee2")}
    query = {}
    if variant in takes:
        values["take_id"] = takes[variant]
    elif variant == "draft":
        values["card_id"] = world.draft
    elif variant == "published_for_trainee":
        query["user"] = "trainee"
    return values, query


def url_for_rule(world: World, rule, variant: str) -> str:
    values, query = sample(world, variant)
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.endpoint}: give a sample value for {sorted(missing)} in sample()"
    if rule.endpoint == "calibration.compare_sets":
        query.update(a=world.calibration_set, b=world.calibration_set)
    adapter = world.app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments}, method=None) + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def send(world: World, who: str, method: str, url: str):
    client = world.client(who)
    if url.startswith("/video_feed/"):  # an endless MJPEG stream: status, headers and its first part
        reply = client.get(url, buffered=False)
        reply.close()
        return reply
    if method == "GET":
        return client.get(url)
    if url == "/login":  # the form itself: a wrong password for nobody
        return client.post(url, data={"username": "nobody-here", "password": "wrong-password-1",
                                      "csrf_token": world.tokens[who]})
    return client.open(url, method=method, json=PROBE_BODY, headers={"X-CSRFToken": world.tokens[who]})


def redirects_to_login(reply) -> bool:
    return reply.status_code in (301, 302, 303, 307, 308) and urlsplit(reply.headers["Location"]).path == "/login"


def outcome(reply, endpoint: str) -> str:
    """``allowed``, or how the request was denied: ``login``, ``forbidden``, ``not found``."""
    if redirects_to_login(reply):
        return "login"
    if reply.status_code == 401:
        if endpoint == "auth.login" and 'name="password"' in reply.get_data(as_text=True):
            return "allowed"  # the login form answering a wrong password
        return "login"
    if reply.status_code == 403:
        return "forbidden"
    if reply.status_code == 404:
        return "not found"
    return "allowed"


def check(world: World, endpoint: str, method: str, rule, variant: str, allowed) -> list[str]:
    """Send the request as every role and as anonymous; the list of mismatches."""
    url = url_for_rule(world, rule, variant)
    problems = []
    for who in (*ROLES, ANON):
        reply = send(world, who, method, url)
        got = outcome(reply, endpoint)
        where = f"{method} {url} as {who} ({variant}): {reply.status_code}"
        if allowed == OPEN or (who != ANON and who in allowed):
            if got != "allowed":
                problems.append(f"{where} should be allowed, got {got}")
            elif reply.status_code >= 500:
                problems.append(f"{where}: server error")
            continue
        if who == ANON:
            api = url.startswith(("/api/", "/video_feed/"))
            if api and not (reply.status_code == 401 and reply.is_json and "error" in reply.get_json()):
                problems.append(f"{where} should be 401 JSON (login required)")
            elif not api and not redirects_to_login(reply):
                problems.append(f"{where} should redirect to /login")
            continue
        denials = {"forbidden", "not found"} if ROUTES[(endpoint, method)].by_object else {"forbidden"}
        if got not in denials:
            problems.append(f"{where} should be denied ({' or '.join(sorted(denials))}), got {got}")
        elif url.startswith("/api/") and not (reply.is_json and "error" in reply.get_json()):
            problems.append(f"{where}: the refusal should be JSON {{\"error\": ...}}")
    return problems


def route_rules(app) -> dict[tuple[str, str], object]:
    return {(rule.endpoint, method): rule for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


# --------------------------------------------------------------------------- the table is complete and true
def test_every_route_has_a_decision(world):
    undecided = sorted(f"{method} {rule.rule} ({endpoint})" for (endpoint, method), rule in route_rules(world.app).items()
                       if endpoint != "static" and (endpoint, method) not in ROUTES)
    assert not undecided, "routes without a row in ROUTES (decide who may use them): " + ", ".join(undecided)


def test_the_table_names_real_routes(world):
    present = set(route_rules(world.app))
    unknown = sorted(f"{m} {e}" for e, m in set(ROUTES) - present)
    assert not unknown, "rows of ROUTES for routes that do not exist: " + ", ".join(unknown)


def test_open_routes_are_only_login_healthz_and_static(world):
    import web

    assert web.PUBLIC_ENDPOINTS == OPEN_ENDPOINTS
    assert {e for (e, _), rule in ROUTES.items() if OPEN in rule.allowed.values()} | {"static"} == OPEN_ENDPOINTS


@pytest.mark.parametrize("endpoint, method", sorted(ROUTES), ids=[f"{m} {e}" for e, m in sorted(ROUTES)])
def test_route_against_every_role(world, endpoint, method):
    rules = route_rules(world.app)
    if (endpoint, method) not in rules:
        pytest.fail(f"{method} {endpoint} is in ROUTES but not in the app")
    decision = ROUTES[(endpoint, method)]
    if decision.note:
        pytest.skip(f"checked by {decision.note}")
    before = db_state(world.app, skip=("audit_events",))
    problems = []
    for variant, allowed in decision.allowed.items():
        problems += check(world, endpoint, method, rules[(endpoint, method)], variant, allowed)
    assert not problems, "\n".join(problems)
    assert db_state(world.app, skip=("audit_events",)) == before, "a probe changed the database"


def test_static_files_are_open(world):
    name = sorted(p.name for p in Path(world.app.static_folder, "js").glob("*.js"))[0]
    for who in (*ROLES, ANON):
        reply = world.client(who).get(f"/static/js/{name}")
        assert reply.status_code == 200 and reply.data, who
    assert world.client(ANON).get("/static/js/no-such-file.js").status_code == 404


def test_logout_ends_the_session(world):
    """Every role may log out (a POST with the CSRF token); afterwards the session is anonymous.
    Anonymous users are sent to the login page like for any other route."""
    for role in ROLES:
        client = signed_in(world.app, role)
        reply = client.post("/logout", headers={"X-CSRFToken": page_token(client)})
        assert reply.status_code == 302 and urlsplit(reply.headers["Location"]).path == "/login", role
        assert client.get("/api/cameras").status_code == 401, role
        assert redirects_to_login(client.get("/"))
    anonymous = world.app.test_client()
    reply = anonymous.post("/logout", data={"csrf_token": csrf_token(anonymous)})
    assert redirects_to_login(reply)
    assert anonymous.get("/logout").status_code == 405


# --------------------------------------------------------------------------- per-object rules
OWNED_PATHS = ("/api/takes/{id}", "/api/takes/{id}/pose3d", "/api/takes/{id}/video/cam1", "/api/takes/{id}/video/cam2",
               "/api/takes/{id}/download/csv", "/api/takes/{id}/download/trc", "/api/takes/{id}/download/c3d",
               "/api/takes/{id}/download/videos", "/api/takes/{id}/download/mot", "/api/takes/{id}/download/ergonomics",
               "/api/takes/{id}/download/bvh", "/api/takes/{id}/comparison", "/api/takes/{id}/ergonomics", "/takes/{id}")


def test_a_trainee_never_reads_another_trainees_attempt(world):
    trainee, owner = world.client("trainee"), world.client("trainee2")
    for template in OWNED_PATHS:
        path = template.format(id=world.other_attempt)
        assert owner.get(path).status_code == 200, path  # the owner does
        reply = trainee.get(path)
        assert reply.status_code == 404, path
        if path.startswith("/api/"):
            assert reply.get_json() == {"error": "not found"}, path  # the same answer as for no take at all
    listed = {t["id"] for t in trainee.get(f"/api/workcards/{world.published}/takes").get_json()["takes"]}
    assert listed == {world.attempt, world.reference}
    assert trainee.get(f"/api/workcards/{world.published}/progress?user=trainee2").status_code == 404
    assert trainee.get(f"/workcards/{world.published}/summary?user=trainee2").status_code == 404
    own = trainee.get(f"/api/workcards/{world.published}/progress").get_json()
    assert [a["take_id"] for a in own["attempts"]] == [world.attempt]


def test_trainees_see_published_cards_not_drafts(world):
    trainee, expert2 = world.client("trainee"), world.client("expert2")
    for client in (trainee, expert2, world.client("technician")):
        ids = {c["id"] for c in client.get("/api/workcards").get_json()["cards"]}
        assert world.published in ids and world.draft not in ids
        for path in (f"/api/workcards/{world.draft}", f"/workcards/{world.draft}",
                     f"/api/workcards/{world.draft}/takes", f"/api/workcards/{world.draft}/progress"):
            assert client.get(path).status_code == 404, path
    # Another expert sees the published card but may not change it.
    reply = expert2.patch(f"/api/workcards/{world.published}", json={"title": "Mine now"},
                          headers={"X-CSRFToken": world.tokens["expert2"]})
    assert reply.status_code == 403 and "error" in reply.get_json()
    for who in ("admin", "expert"):
        assert world.draft in {c["id"] for c in world.client(who).get("/api/workcards").get_json()["cards"]}


def test_technicians_do_not_see_trainees_attempts(world):
    technician = world.client("technician")
    for attempt in (world.attempt, world.other_attempt):
        for template in OWNED_PATHS:
            assert technician.get(template.format(id=attempt)).status_code == 404, template
    listed = {t["id"] for t in technician.get(f"/api/workcards/{world.published}/takes").get_json()["takes"]}
    assert listed == {world.reference}
    assert technician.get(f"/api/workcards/{world.published}/progress?user=trainee").status_code == 404
    assert technician.get(f"/api/takes/{world.free}").status_code == 200


def test_take_deletion_matrix(world, video_file):
    """Planned: DELETE /api/takes/<id>. Each allowed deletion removes a take made for it; each
    refused one leaves its take (and every other row) in place."""
    key = ("takes.delete", "DELETE")
    rules = route_rules(world.app)
    if key not in rules:
        pytest.skip("DELETE /api/takes/<take_id> (takes.delete) is planned (issue 6) and not there yet")
    decision = ROUTES[key]
    owners = {"attempt": ("trainee", world.published, "attempt"), "other_attempt": ("trainee2", world.published, "attempt"),
              "free": ("technician", None, "free"), "expert_free": ("expert", None, "free")}
    problems = []
    for variant, allowed in decision.allowed.items():
        for who in (*ROLES, ANON):
            if variant == "reference":
                take_id = world.reference  # a published reference: nobody deletes it
            else:
                owner, card, kind = owners[variant]
                take_id = fake_take(world.app, owner, card, kind, seconds=1, processed=False)
            url = world.app.url_map.bind("localhost").build(key[0], {"take_id": take_id})
            reply = world.client(who).delete(url, headers={"X-CSRFToken": world.tokens[who]})
            with world.app.app_context():
                exists = db.session.get(Take, take_id) is not None
            where = f"DELETE {url} as {who} ({variant}): {reply.status_code}"
            if who != ANON and who in allowed:
                if not (200 <= reply.status_code < 300 and not exists):
                    problems.append(f"{where}: should delete the take")
            elif reply.status_code not in ((401,) if who == ANON else (403, 404, 409)) or not exists:
                problems.append(f"{where}: should be refused and keep the take")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- Socket.IO
def registered_events() -> set[str]:
    from web.extensions import socketio

    return set(socketio.server.handlers["/"])


@pytest.fixture(scope="module")
def sockets(world):
    from web.extensions import socketio

    clients = {role: socketio.test_client(world.app, flask_test_client=world.client(role)) for role in ROLES}
    yield clients
    for client in clients.values():
        if client.is_connected():
            client.disconnect()


def test_every_event_has_a_decision(world):
    undecided = sorted(registered_events() - set(EVENTS))
    assert not undecided, "Socket.IO events without a row in EVENTS: " + ", ".join(undecided)
    unknown = sorted(set(EVENTS) - registered_events())
    assert not unknown, "rows of EVENTS for events that are not registered: " + ", ".join(unknown)


def test_socket_connect_needs_login(world):
    from web.extensions import socketio

    for client in (world.app.test_client(), None):
        sio = socketio.test_client(world.app, flask_test_client=client)
        assert not sio.is_connected()
    for role in ROLES:
        sio = socketio.test_client(world.app, flask_test_client=world.client(role))
        assert sio.is_connected(), role
        assert {"recording status", "camera status"} <= {e["name"] for e in sio.get_received()}
        sio.disconnect()
        assert not sio.is_connected()


def test_events_of_an_account_disabled_meanwhile_are_refused(world):
    """A connection outlives nothing: once the account is disabled, its events answer ``unauthorized``."""
    from accounts.users import create_user
    from web.extensions import socketio

    with world.app.app_context():
        create_user("tech-temp", "tech-temp-pass-123", "technician")
    client = world.app.test_client()
    reply = client.post("/login", data={"username": "tech-temp", "password": "tech-temp-pass-123",
                                        "csrf_token": csrf_token(client)})
    assert reply.status_code == 302
    sio = socketio.test_client(world.app, flask_test_client=client)
    assert sio.emit("calibration begin", {}, callback=True)["ok"]
    with world.app.app_context():
        db.session.execute(sa.update(User).where(User.username == "tech-temp").values(active=False))
        db.session.commit()
    sio.get_received()
    ack = sio.emit("calibration begin", {}, callback=True)
    assert ack["ok"] is False and ack["code"] == "unauthorized"
    assert [e["args"][0]["code"] for e in sio.get_received() if e["name"] == CALIBRATION_ERROR] == ["unauthorized"]
    sio.disconnect()


@pytest.mark.parametrize("name", sorted(n for n, e in EVENTS.items() if isinstance(e, Event)))
def test_event_against_every_role(world, sockets, name):
    if name not in registered_events():
        pytest.fail(f"'{name}' is in EVENTS but not registered")
    event = EVENTS[name]
    processor, wizard = world.app.extensions["vsion"].processor, world.app.extensions["vsion"].wizard
    before = db_state(world.app, skip=("audit_events",))
    problems = []
    for role in ROLES:
        sio = sockets[role]
        sio.get_received()
        state = wizard.state()
        ack = sio.emit(name, event.payload, callback=True)
        errors = [e["args"][0] for e in sio.get_received() if e["name"] == event.error_event]
        where = f"'{name}' as {role}: {ack}"
        if not isinstance(ack, dict) or "ok" not in ack:
            problems.append(f"{where}: no ack")
        elif role in event.allowed:
            if not (ack["ok"] or ack.get("code") in ("invalid", "refused")):
                problems.append(f"{where}: should pass the role check")
        else:
            if ack != {"ok": False, "event": name, "code": "forbidden", "message": ack.get("message")}:
                problems.append(f"{where}: should be forbidden")
            elif errors != [{k: v for k, v in ack.items() if k != "ok"}]:
                problems.append(f"{where}: the '{event.error_event}' event should say the same, got {errors}")
            elif wizard.state() != state:
                problems.append(f"{where}: the calibration wizard changed")
        if processor.record_event.is_set():
            problems.append(f"{where}: recording started")
    assert not problems, "\n".join(problems)
    assert db_state(world.app, skip=("audit_events",)) == before
