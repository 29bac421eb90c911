"""Fuzzing the JSON API and the Socket.IO events with hypothesis.

Logged in as an administrator with a valid CSRF token (so the role check passes and the
payload validation is what answers), every route that changes something gets arbitrary
JSON, broken bodies, odd query strings and odd path segments; every Socket.IO event gets
arbitrary payloads and extra arguments. The only acceptable answers are a success or a
refusal (4xx, an error ack ``ok: false`` with code invalid, refused or forbidden): never a
500, a traceback, or a changed database or data folder after a refusal, and never a
recording started.

Reproducible (``derandomize``). ``VSION_FUZZ_REPORT=path.json`` makes the module write
``{"payloads": N, "server_errors": M}`` when it ends (read by ``bench/faults.py``).
"""
from __future__ import annotations

import io
import json
import os
import re
from urllib.parse import quote, urlencode

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts.users import create_user
from database.base import db
from database.models import ROLES, Take
from tests.helpers.accounts import csrf_token
from tests.helpers.world import PROBE_BODY, build_world, db_state, fake_take, files_state, make_app, stop_app

BODY_EXAMPLES = 80   # per changing route (derandomized: the same bodies every run); 150 took 4 more minutes
RAW_EXAMPLES = 40
QUERY_EXAMPLES = 40
PATH_EXAMPLES = 50
SOCKET_EXAMPLES = 80
SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))

COUNTS = {"payloads": 0, "server_errors": 0}  # server_errors: distinct payloads answered 5xx (or an "error" ack)
FAILED_PAYLOADS: set[str] = set()


def count(what: str, server_error: bool) -> None:
    COUNTS["payloads"] += 1
    if server_error and what not in FAILED_PAYLOADS:  # hypothesis replays a failing payload while shrinking
        FAILED_PAYLOADS.add(what)
        COUNTS["server_errors"] += 1

# Real defects found by these tests (see the report of issue 6); each entry turns its case
# into a strict xfail, so the fix makes it fail until the entry is removed.
KNOWN_DEFECTS: dict[tuple, str] = {}


def known_defect(*key):
    reason = KNOWN_DEFECTS.get(key)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


# --------------------------------------------------------------------------- strategies
FIELDS = ("title", "description", "tags", "steps", "name", "instructions", "start_s", "end_s", "take_id", "username",
          "role", "password", "active", "unlock", "note", "kind", "work_card_id", "label", "enabled", "camera", "step",
          "refine_intrinsics", "user", "limit", "before", "action", "notes", "person_id", "x0", "y0", "x1", "y1")
ODD_TEXT = ("", " ", "admin", "trainee", "expert", "technician", "attempt", "reference", "free", "camera", "result",
            "../../etc/passwd", "..\\..\\app.py", "/etc/passwd", "%00", "\x00", "a\x00b", "\u202e\u0000", "\ud800",
            "<script>alert(1)</script>", "' OR 1=1 --", "\"; DROP TABLE users; --", "{{7*7}}", "${7*7}",
            "x" * 5000, "é" * 300, "1e309", "NaN", "-1", "0", "99999999999999999999999", "20260101-000000-abcd",
            "true", "null", "[]", "{}")
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 5e-324]),
    st.text(max_size=30), st.sampled_from(ODD_TEXT))


def json_values(fields=FIELDS):
    keys = st.one_of(st.sampled_from(fields), st.text(max_size=12))
    return st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                        st.dictionaries(keys, kids, max_size=4)), max_leaves=12)


def objects(fields=FIELDS):
    """Mostly JSON objects with the expected field names (and extra ones), sometimes any JSON."""
    values = json_values(fields)
    known = st.fixed_dictionaries({}, optional={name: values for name in fields})
    steps = st.fixed_dictionaries({"steps": st.lists(st.fixed_dictionaries(
        {}, optional={k: st.one_of(SCALARS, values) for k in ("name", "instructions", "start_s", "end_s")}), max_size=4)})
    extra = st.builds(lambda a, b: {**a, **b}, known, st.dictionaries(st.text(max_size=12), values, max_size=3))
    return st.one_of(known, known, extra, steps, values)


PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60)
TEXT = st.one_of(PRINTABLE, st.text(max_size=60), st.sampled_from(ODD_TEXT))
NUMBER = st.one_of(st.integers(min_value=-10, max_value=100_000), st.floats(), st.integers(min_value=-(2**70),
                                                                                         max_value=2**70))
ERGONOMICS = st.one_of(SCALARS, st.fixed_dictionaries({}, optional={
    "load_kg": st.one_of(NUMBER, SCALARS), "coupling": st.one_of(st.sampled_from(["good", "fair", "poor", "unacceptable"]),
                                                                TEXT),
    "lift": st.one_of(st.booleans(), SCALARS), "frequency_per_min": NUMBER, "duration_h": NUMBER,
    "wrist_twist": st.one_of(st.sampled_from(["mid", "end"]), TEXT), "static_posture": st.booleans(),
    "repeated": st.booleans(), "weight": NUMBER}))
STEP = st.fixed_dictionaries({"name": TEXT, "start_s": NUMBER, "end_s": NUMBER},
                             optional={"instructions": TEXT, "ergonomics": ERGONOMICS})
USERNAME = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{1,20}", fullmatch=True), TEXT)


# Camera sources that answer at once wherever the tests run: nothing listens on 127.0.0.1:9, and no
# demo number (a new one makes its test video first).
CAMERA_FIELDS = {
    "source": st.one_of(st.sampled_from(["rtsp", "usb", "file"]), TEXT),
    "url": st.one_of(st.sampled_from(["rtsp://127.0.0.1:9/s", "rtsp://u:p%40@127.0.0.1:9/s", "http://127.0.0.1:9/x",
                                      "rtsp://[::1/x", "rtsp://127.0.0.1:port/x", "rtsps://127.0.0.1:9/x"]), TEXT),
    "user": TEXT, "password": TEXT, "usb": st.one_of(st.integers(60, 63), NUMBER), "file": TEXT,
    "preview_url": st.one_of(st.just("rtsp://127.0.0.1:9/sub"), TEXT),
}


def typed(endpoint: str, world) -> st.SearchStrategy:
    """Payloads with the endpoint's own fields and values of about the right type (odd ones included),
    so that validation lets many through and the services answer."""
    take_ids = st.sampled_from([world.reference, world.attempt, world.other_attempt, world.free, world.expert_free])
    fields = {
        "workcards.create_card": {"title": TEXT, "description": TEXT, "tags": st.lists(TEXT, max_size=25)},
        "workcards.update_card": {"title": TEXT, "description": TEXT, "tags": st.lists(TEXT, max_size=25)},
        "workcards.put_steps": {"steps": st.lists(STEP, max_size=6)},
        "workcards.choose_reference": {"take_id": st.one_of(take_ids, TEXT)},
        "admin.add_user": {"username": USERNAME, "role": st.one_of(st.sampled_from(ROLES), st.sampled_from(ROLES), TEXT),
                           "password": st.one_of(st.text(min_size=8, max_size=80), TEXT)},
        "admin.change_user": {"role": st.one_of(st.sampled_from(ROLES), TEXT), "active": st.one_of(st.booleans(),
                              SCALARS), "password": TEXT, "unlock": st.one_of(st.booleans(), SCALARS)},
        "takes.update": {"label": st.one_of(TEXT, SCALARS), "notes": st.one_of(TEXT, st.text(min_size=1990, max_size=2010))},
        "takes.promote": {"work_card_id": st.one_of(st.sampled_from([world.fuzz_card, world.draft, world.published]),
                                                    NUMBER, SCALARS)},
        "cameras.add_camera": CAMERA_FIELDS | {"name": st.one_of(USERNAME, TEXT)},
        "cameras.change_camera": CAMERA_FIELDS | {"name": st.one_of(st.sampled_from(["cam1", "cam2"]), TEXT)},
        "cameras.reorder_cameras": {"names": st.one_of(st.permutations(["cam1", "cam2"]), st.lists(TEXT, max_size=7))},
        "cameras.test_camera": CAMERA_FIELDS | {"camera": st.one_of(st.sampled_from(["cam1", "cam2"]), TEXT)},
        "takes.choose_person": {"person_id": st.one_of(st.none(), NUMBER, SCALARS)},
        "calibration.set_work_area": {k: st.one_of(NUMBER, SCALARS) for k in ("x0", "y0", "x1", "y1")},
        "calibration_tools.set_board": {"type": st.one_of(st.sampled_from(["checkerboard", "charuco"]), TEXT),
                                        "cols": st.one_of(st.integers(0, 70), NUMBER), "rows": st.one_of(st.integers(0, 70), NUMBER),
                                        "square_mm": NUMBER, "marker_mm": st.one_of(NUMBER, SCALARS)},
        # Never a take that exists: a calibration queued now would change the database after a later refusal.
        "calibration_tools.from_take": {"take_id": st.one_of(TEXT, st.just("20260101-000000-abcd")),
                                        "mode": st.one_of(st.sampled_from(["intrinsics", "positions"]), TEXT),
                                        "camera": st.one_of(st.sampled_from(["cam1", "cam2"]), TEXT),
                                        "floor_start_s": NUMBER, "floor_end_s": NUMBER},
        "calibration_tools.check_health": {"source": st.one_of(st.sampled_from(["board", "skeleton"]), TEXT),
                                           "seconds": NUMBER},
    }.get(endpoint, {})
    return st.one_of(st.fixed_dictionaries(fields), st.fixed_dictionaries({}, optional=fields))


def truncated_json(draw_json):
    return draw_json.flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda cut: text[:cut]))


RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    truncated_json(json_values().map(lambda v: json.dumps(v))).map(str.encode),
    st.sampled_from([b'{"title": "\xff\xfe"}', b"\xef\xbb\xbf{}", b'{"title": "\\ud800"}', b"[" * 400 + b"]" * 400,
                     b'{"a":' * 300 + b"1" + b"}" * 300, b"NaN", b"Infinity", b'{"title": 1e99999}', b"\x00" * 64,
                     b'{"title": "a"}{"title": "b"}', b"{'title': 'a'}", b'{"title": "a",}', b"\n\n\n"]))
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-16", "application/json; charset=x",
                                 "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "multipart/form-data; boundary=zzz", "application/xml", "", "application/*"])
QUERY_KEYS = ("user", "a", "b", "lang", "next", "limit", "before", "action", "page", "take_id", "status", "kind", "sort",
              "order", "per_page", "since", "until", "owner", "work_card", "processing", "q", "take")
QUERIES = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=8)),
                    st.one_of(st.text(max_size=40), st.sampled_from(ODD_TEXT)), max_size=4)
    .map(lambda d: urlencode(d, encoding="utf-8", errors="surrogatepass")),
    st.text(alphabet=st.sampled_from("%&=;+?#[]01aAfFzZ\\/.é\x00 "), max_size=40),
    st.sampled_from(["user=%ff%fe", "user=%", "user=%zz", "limit=1e9", "limit=-1", "before=99999999999999999999999",
                     "a=..%2f..%2fapp&b=%00", "lang=xx&lang=fr", "next=//evil.example", "user=a%00b", "%00=%00"]))
SEGMENTS = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from([s for s in ODD_TEXT if s]),
                     st.sampled_from(["..", ".", "...", "..%2f", "%2e%2e", "cam1/../cam2", "cam1%00", "csv%00.txt",
                                      "20260101-000000", "20260101-000000-" + "a" * 40]))
INT_SEGMENTS = st.one_of(st.integers(min_value=0, max_value=10**30).map(str), st.sampled_from(
    ["00001", "0", "2147483648", "9223372036854775808", "1" * 400]))


# --------------------------------------------------------------------------- the app
@pytest.fixture(scope="module")
def world(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("fuzz"), video_file)  # cameras idle: nothing can record
    try:
        world = build_world(app)
        with app.app_context():
            create_user("fuzz-target", "fuzz-target-pass-1", "trainee")
        # The admin's own draft card with a reference take: the card routes get past "no reference".
        admin = world.clients["admin"]
        made = admin.post("/api/workcards", json={"title": "Fuzzed card"}, headers={"X-CSRFToken": world.tokens["admin"]})
        world.fuzz_card = made.get_json()["id"]
        reference = fake_take(app, "admin", world.fuzz_card, "reference", seconds=5)
        assert admin.post(f"/api/workcards/{world.fuzz_card}/reference", json={"take_id": reference},
                          headers={"X-CSRFToken": world.tokens["admin"]}).status_code == 200
        world.doomed = fake_take(app, "admin", None, "free", seconds=1, processed=False)  # for DELETE
        world.promotable = fake_take(app, "admin", None, "free", seconds=1)  # processed: for promote
        # A take still recording: processing it again is refused (409) once the body passes.
        world.recording = fake_take(app, "admin", None, "free", seconds=1, processed=False)
        with app.app_context():
            db.session.get(Take, world.recording).status = "recording"
            db.session.commit()
        yield world
    finally:
        stop_app(app)
        if os.environ.get("VSION_FUZZ_REPORT"):
            with open(os.environ["VSION_FUZZ_REPORT"], "w") as fh:
                json.dump(COUNTS, fh)


def state(world):
    return db_state(world.app), files_state(world.app)


def build(world, rule, **override) -> str:
    """The rule's URL for the fuzz targets, with ``override`` (already URL-quoted) for some arguments."""
    values = {"take_id": world.reference, "camera": "cam1", "what": "csv", "card_id": world.fuzz_card,
              "set_id": world.calibration_set, "index": 0, "user_id": world.user_ids["trainee2"]}
    if rule.endpoint == "takes.delete":
        values["take_id"] = world.doomed
    if rule.endpoint == "takes.promote":
        values["take_id"] = world.promotable
    if rule.endpoint in ("takes.process", "takes.choose_person"):
        values["take_id"] = world.recording
    if rule.endpoint == "admin.change_user":
        values["user_id"] = fuzz_target_id(world)
    values = {name: quote(str(value), safe="") for name, value in values.items()} | override
    return re.sub(r"<(?:[^<>:]+:)?([^<>:]+)>", lambda m: values[m.group(1)], rule.rule)


def fuzz_target_id(world) -> int:
    from database.base import db
    from database.models import User

    with world.app.app_context():
        return db.session.scalars(db.select(User.id).filter_by(username="fuzz-target")).one()


def judge(world, reply, before, what: str) -> None:
    """A refusal or a success; after a refusal nothing changed."""
    count(what, reply.status_code >= 500)
    body = reply.get_data()
    assert reply.status_code < 500, f"{what}: {reply.status_code} {body[:300]!r}"
    assert b"Traceback" not in body and b'File "' not in body, f"{what}: a traceback in the answer"
    path = reply.request.path
    if 400 <= reply.status_code < 500:
        if path.startswith("/api/") and reply.status_code != 405:
            assert reply.is_json and isinstance(reply.get_json().get("error"), str), f"{what}: {body[:200]!r}"
        assert state(world) == before, f"{what}: refused ({reply.status_code}) but something changed"


def changing_rules(world):
    return [(rule, method) for rule in world.app.url_map.iter_rules()
            for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"})
            if rule.endpoint not in ("auth.login", "auth.logout")]


CHANGING = ["admin.add_user", "admin.change_user", "calibration.activate_set", "calibration.import_set",
            "calibration.reset_work_area", "calibration.set_work_area",
            "calibration_tools.check_health", "calibration_tools.from_take", "calibration_tools.set_board",
            "cameras.add_camera", "cameras.change_camera", "cameras.remove_camera", "cameras.reorder_cameras",
            "cameras.test_camera", "onboarding.board_printed", "onboarding.dismiss", "onboarding.reopen",
            "takes.choose_person", "takes.delete", "takes.process",
            "takes.promote", "takes.update", "workcards.choose_reference", "workcards.create_card",
            "workcards.publish", "workcards.put_steps", "workcards.revise", "workcards.update_card"]


def rule_for(world, endpoint):
    rules = [(r, m) for r, m in changing_rules(world) if r.endpoint == endpoint]
    if not rules:
        pytest.skip(f"{endpoint} is not in this app")
    return rules[0]


def test_the_fuzzed_routes_are_every_changing_route(world):
    assert sorted({r.endpoint for r, _ in changing_rules(world)}) == sorted(CHANGING)


# --------------------------------------------------------------------------- JSON bodies
@pytest.mark.parametrize("endpoint", CHANGING)
def test_json_bodies(world, endpoint):
    rule, method = rule_for(world, endpoint)
    client, headers = world.clients["admin"], {"X-CSRFToken": world.tokens["admin"]}

    @settings(max_examples=BODY_EXAMPLES if endpoint not in ("takes.delete", "calibration.activate_set") else 20,
              **SETTINGS)
    @given(body=st.one_of(typed(endpoint, world), typed(endpoint, world), objects()))
    def run(body):
        url = build(world, rule)
        before = state(world)
        reply = client.open(url, method=method, data=json.dumps(body), content_type="application/json",
                            headers=headers)
        judge(world, reply, before, f"{method} {url} {body!r:.300}")

    run()


@pytest.mark.parametrize("endpoint", CHANGING)
def test_broken_bodies(world, endpoint):
    """Not JSON, invalid UTF-8, truncated JSON, wrong content types."""
    rule, method = rule_for(world, endpoint)
    client, headers = world.clients["admin"], {"X-CSRFToken": world.tokens["admin"]}

    @settings(max_examples=RAW_EXAMPLES, **SETTINGS)
    @given(body=RAW_BODIES, content_type=CONTENT_TYPES)
    def run(body, content_type):
        url = build(world, rule)
        before = state(world)
        reply = client.open(url, method=method, data=body, content_type=content_type, headers=headers)
        judge(world, reply, before, f"{method} {url} {content_type!r} {body[:200]!r}")

    run()


# --------------------------------------------------------------------------- query strings and path segments
def get_rules(world):
    return sorted((r for r in world.app.url_map.iter_rules() if "GET" in r.methods and r.endpoint != "static"
                   and r.endpoint != "video.video_feed"), key=lambda r: r.rule)


def test_query_strings(world):
    client = world.clients["admin"]
    rules = get_rules(world)

    @settings(max_examples=QUERY_EXAMPLES * 6, **SETTINGS)
    @given(index=st.integers(0, len(rules) - 1), query=QUERIES)
    def run(index, query):
        url = build(world, rules[index])
        before = state(world)
        reply = client.get(url, query_string=query)
        judge(world, reply, before, f"GET {url}?{query!r}")

    run()


def path_cases():
    """(endpoint, method, argument) for every path argument of every route."""
    cases = []
    for endpoint, method, args in ROUTE_ARGS:
        for arg in args:
            cases.append(pytest.param(endpoint, method, arg, id=f"{method} {endpoint} <{arg}>",
                                      marks=known_defect("path", endpoint, arg)))
    return cases


# Path arguments of the routes (checked against the app by test_every_path_argument_is_fuzzed).
ROUTE_ARGS = [
    ("takes.page", "GET", ("take_id",)), ("takes.detail", "GET", ("take_id",)), ("takes.pose3d", "GET", ("take_id",)),
    ("takes.video", "GET", ("take_id", "camera")), ("takes.download", "GET", ("take_id", "what")),
    ("takes.comparison", "GET", ("take_id",)), ("takes.ergonomics_report", "GET", ("take_id",)),
    ("takes.delete", "DELETE", ("take_id",)),
    ("takes.update", "PATCH", ("take_id",)), ("takes.process", "POST", ("take_id",)),
    ("takes.promote", "POST", ("take_id",)), ("takes.choose_person", "POST", ("take_id",)),
    ("takes.people", "GET", ("take_id",)),
    ("calibration.get_set", "GET", ("set_id",)), ("calibration.activate_set", "POST", ("set_id",)),
    ("workcards.get_card", "GET", ("card_id",)), ("workcards.card_page", "GET", ("card_id",)),
    ("workcards.summary_page", "GET", ("card_id",)), ("workcards.ergonomics_page", "GET", ("card_id",)),
    ("workcards.card_takes", "GET", ("card_id",)),
    ("workcards.progress", "GET", ("card_id",)), ("workcards.update_card", "PATCH", ("card_id",)),
    ("workcards.put_steps", "PUT", ("card_id",)), ("workcards.choose_reference", "POST", ("card_id",)),
    ("workcards.publish", "POST", ("card_id",)), ("workcards.revise", "POST", ("card_id",)),
    ("admin.change_user", "PATCH", ("user_id",)), ("video.video_feed", "GET", ("index",)),
    ("cameras.change_camera", "PUT", ("camera",)), ("cameras.remove_camera", "DELETE", ("camera",)),
]


def test_every_path_argument_is_fuzzed(world):
    fuzzed = {(e, m, a) for e, m, args in ROUTE_ARGS for a in args}
    present = {(r.endpoint, m, a) for r in world.app.url_map.iter_rules() if r.endpoint != "static"
               for m in r.methods - {"HEAD", "OPTIONS"} for a in r.arguments}
    assert present <= fuzzed, f"path arguments not fuzzed: {sorted(present - fuzzed)}"


@pytest.mark.parametrize("endpoint, method, arg", path_cases())
def test_path_segments(world, endpoint, method, arg):
    rules = [r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods]
    if not rules:
        pytest.skip(f"{method} {endpoint} is not in this app")
    rule = rules[0]
    client, headers = world.clients["admin"], {"X-CSRFToken": world.tokens["admin"]}
    integer = arg in ("card_id", "user_id", "index")
    segments = INT_SEGMENTS if integer else SEGMENTS
    if arg == "index":  # 0 and 1 are real, endless feeds
        segments = segments.filter(lambda s: s.lstrip("0") not in ("", "1"))
    # A body that passes validation where the lookup comes after it, else one that fails it after the lookup.
    body = {"active": True} if endpoint == "admin.change_user" else PROBE_BODY if method in ("PATCH", "PUT", "POST") \
        else None

    @settings(max_examples=PATH_EXAMPLES, **SETTINGS)
    @given(segment=segments, raw=st.booleans())
    def run(segment, raw):
        # Quoted: the server sees the segment as it is; raw: slashes and dots as a client could send them.
        text = quote(segment, safe="/.%\\" if raw else "", errors="surrogatepass")
        url = build(world, rule, **{arg: text})
        before = state(world)
        reply = client.open(url, method=method, json=body, headers=headers, buffered=arg != "index")
        if arg == "index":
            assert reply.status_code != 200, url
        judge(world, reply, before, f"{method} {url}")

    run()


# --------------------------------------------------------------------------- the login form and the calibration import
def test_login_form(world):
    """Anonymous: any name, password, token and ``next``; never a login, never a 500."""
    client = world.app.test_client()
    token = csrf_token(client)
    known = set(world.user_ids) | {"fuzz-target"}

    @settings(max_examples=60, **SETTINGS)
    @given(username=st.one_of(st.text(max_size=80), st.sampled_from(ODD_TEXT)),
           password=st.one_of(st.text(max_size=300), st.sampled_from(ODD_TEXT)),
           good_token=st.booleans(), next_=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(ODD_TEXT)))
    def run(username, password, good_token, next_):
        assume(username.strip() not in known)
        before_db = db_state(world.app, skip=("audit_events",))
        url = "/login" + (f"?next={quote(next_, safe='')}" if next_ is not None else "")
        data = {"username": username, "password": password, "csrf_token": token if good_token else "x" + token}
        reply = client.post(url, data=data)
        count(f"login {data!r}", reply.status_code >= 500)
        assert reply.status_code in (400, 401, 429), (reply.status_code, data)
        assert b"Traceback" not in reply.data
        assert db_state(world.app, skip=("audit_events",)) == before_db
        assert client.get("/api/cameras").status_code == 401

    run()


TOML_CAMERA = {"size": [1280, 720], "matrix": [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]],
               "distortions": [0.0, 0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0], "translation": [0.0, 0.0, 0.0]}
TOML_SCALARS = st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(),
                         st.text(max_size=20), st.datetimes(), st.dates())
TOML_VALUES = st.recursive(TOML_SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                                st.dictionaries(st.text(max_size=8), kids, max_size=3)),
                           max_leaves=10)


@st.composite
def calibration_files(draw):
    """TOML calibrations: the rig's two cameras with a random [metadata], or plausible cameras with
    some of their values replaced."""
    odd_cameras = draw(st.booleans())
    names = draw(st.sampled_from([("cam1", "cam2"), ("a", "b"), ("cam1",), ("cam1", "cam2", "cam3")])) \
        if odd_cameras else ("cam1", "cam2")
    cams = {}
    for name in names:
        cam = dict(TOML_CAMERA)
        if odd_cameras:
            for key in draw(st.lists(st.sampled_from(sorted(TOML_CAMERA) + ["name", "fisheye"]), min_size=1,
                                     max_size=2, unique=True)):
                cam[key] = draw(TOML_VALUES)
        cams[name] = cam
    meta = {} if odd_cameras else draw(st.fixed_dictionaries(
        {"reprojection_rms_px": st.one_of(TOML_SCALARS, TOML_VALUES)},
        optional={"note": TOML_VALUES, "intrinsics": TOML_VALUES, "session": TOML_VALUES, "work_area": TOML_VALUES}))
    return tomli_w.dumps({**({"metadata": meta} if meta else {}), **cams}).encode()


@pytest.mark.parametrize("kind", [pytest.param("toml", marks=known_defect("import", "calibration.import_set", "toml")),
                                  "bytes"])
def test_calibration_import_files(world, kind):
    """Uploaded calibration files: a plausible TOML with odd values, or any bytes under any name."""
    client, headers = world.clients["technician"], {"X-CSRFToken": world.tokens["technician"]}
    files = calibration_files() if kind == "toml" else st.binary(max_size=400)
    names = st.one_of(st.sampled_from(["c.toml", "c.qca.txt", "C.TOML", "../../c.toml", "c.toml\x00.exe", "c.txt"]),
                      st.text(min_size=1, max_size=30).map(lambda s: s + ".toml"))

    @settings(max_examples=80 if kind == "toml" else RAW_EXAMPLES, **SETTINGS)
    @given(content=files, filename=names, note=st.one_of(st.none(), st.text(max_size=300)))
    def run(content, filename, note):
        form = {"file": (io.BytesIO(content), filename), **({"note": note} if note is not None else {})}
        before = state(world)
        reply = client.post("/api/calibrations/import", data=form, headers=headers)
        judge(world, reply, before, f"import {filename!r} {content[:300]!r}")

    run()


# --------------------------------------------------------------------------- Socket.IO
# Events whose valid payload may answer ok: true with the cameras idle (nothing recorded, nothing saved).
MAY_SUCCEED = {"calibration begin", "calibration focus", "calibration check", "calibration auto", "calibration reset",
               "calibration session", "calibration driver", "live pose", "live person"}  # live person: null (the work area decides) changes nothing kept


@pytest.fixture(scope="module")
def admin_socket(world):
    from web.extensions import socketio

    sio = socketio.test_client(world.app, flask_test_client=world.clients["admin"])
    assert sio.is_connected()
    yield sio
    sio.disconnect()


def socket_events():
    return sorted(["start recording", "stop recording", "live pose", "live person", "calibration begin", "calibration focus",
                   "calibration check", "calibration capture", "calibration auto", "calibration reset",
                   "calibration intrinsics", "calibration floor", "calibration solve", "calibration save",
                   "calibration session", "calibration driver", "calibration adopt"])


def test_every_event_is_fuzzed(world):
    from web.extensions import socketio

    assert set(socketio.server.handlers["/"]) - {"connect", "disconnect"} == set(socket_events())


@pytest.mark.parametrize("name", socket_events())
def test_socket_payloads(world, admin_socket, name):
    processor, wizard = world.app.extensions["vsion"].processor, world.app.extensions["vsion"].wizard
    values = json_values()
    args = st.one_of(objects().map(lambda o: [o]), st.lists(values, max_size=3), st.just([]))

    @settings(max_examples=SOCKET_EXAMPLES, **SETTINGS)
    @given(args=args)
    def run(args):
        before = state(world)
        try:
            ack = admin_socket.emit(name, *args, callback=True)
        except ValueError:  # NaN, infinity, a huge number or deep nesting: the decoder refuses the packet
            count(f"{name} {args!r}", False)
            assert state(world) == before
            return
        count(f"{name} {args!r}", isinstance(ack, dict) and ack.get("code") == "error")
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if ack["ok"]:
            assert name in MAY_SUCCEED, f"'{name}' {args!r:.300} answered ok: {ack!r:.300}"
        else:
            assert ack["code"] in ("invalid", "refused", "forbidden"), f"'{name}' {args!r:.300}: {ack}"
            assert isinstance(ack["message"], str) and "Traceback" not in ack["message"]
            assert state(world) == before, f"'{name}' {args!r:.300} refused but something changed"
        assert not processor.record_event.is_set() and processor.take is None
        wizard.set_auto(True)  # what 'calibration auto' may have changed

    run()
    admin_socket.emit("live pose", {"enabled": False}, callback=True)
    admin_socket.get_received()


# --------------------------------------------------------------------------- raw Socket.IO packets
def nested(depth: int, leaf) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


PACKET_VALUES = st.one_of(
    json_values(),
    st.builds(nested, st.integers(1, 400), SCALARS),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**4000, "x" * 70_000]),
)
PACKET_EVENTS = st.one_of(st.sampled_from(socket_events() + ["connect", "disconnect", "message", ""]),
                          st.text(max_size=20), json_values())


@st.composite
def socket_packets(draw) -> str:
    """Socket.IO text packets: events with any name and payloads of any depth, size, number and
    type (NaN and infinities written as Python's json does), acks, broken JSON, odd packet types."""
    kind = draw(st.sampled_from(["event", "event", "ack", "raw", "cut"]))
    body = json.dumps([draw(PACKET_EVENTS), *draw(st.lists(PACKET_VALUES, max_size=3))], allow_nan=True)
    if kind == "event":
        return "42" + draw(st.sampled_from(["", "7", "99999999999999999999"])) + body
    if kind == "ack":
        return "43" + draw(st.sampled_from(["1", "", "-1"])) + body
    if kind == "cut":
        return "42" + body[:draw(st.integers(0, max(0, len(body) - 1)))]
    return draw(st.one_of(st.text(max_size=40), st.sampled_from(["42[]", "42{bad", "4", "40{", "41/x,", "45-[]",
                                                                  "46", "47", "42/nowhere,[\"x\"]"])))


def test_socket_packets(world, caplog):
    """Raw packets through the server's own packet handler (as a real link delivers them): every one
    is answered (an ack or an error event) or closes its link with one warning line; none raises,
    logs an error or a traceback, changes anything or starts a recording."""
    import logging

    from web.extensions import socketio

    client = socketio.test_client(world.app, flask_test_client=world.clients["admin"])
    handle = socketio.server.eio.handlers["message"]
    processor = world.app.extensions["vsion"].processor

    @settings(max_examples=SOCKET_EXAMPLES * 3, **SETTINGS)
    @given(packet=socket_packets())
    def run(packet):
        before = state(world)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            handle(client.eio_sid, packet)
        bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        count(f"packet {packet[:200]!r}", bool(bad))
        assert not bad, f"{packet[:200]!r}: {[r.getMessage() for r in bad]}"
        assert len([r for r in caplog.records if "unreadable Socket.IO packet" in r.getMessage()]) <= 1
        assert not processor.record_event.is_set()
        assert state(world) == before, f"{packet[:200]!r} changed something"

    try:
        run()
    finally:
        client.get_received()
        if client.is_connected():
            client.disconnect()
