"""The calibration page's API and events on the real app (file cameras, SQLite, config.yaml): the
board's settings (validated, written to config.yaml with its comments, used at once), its print at
true scale, the driver of the wizard between two technicians, the sessions, and the refusals of a
calibration from a take and of a health check."""
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from calibration.detect import Detection
from tests.helpers.accounts import call, create_users, signed_in
from tests.helpers.world import fake_take, make_app, stop_app

SECOND_TECH = ("technician2", "technician2-pass-123")


@pytest.fixture(scope="module")
def app(tmp_path_factory, video_file):
    from accounts.users import create_user

    app = make_app(tmp_path_factory.mktemp("calibration-page"), video_file, start=True, config_file=True)
    create_users(app)
    with app.app_context():
        create_user(SECOND_TECH[0], SECOND_TECH[1], "technician")
    yield app
    stop_app(app)


@pytest.fixture(scope="module")
def techs(app):
    from tests.helpers.accounts import csrf_token

    second = app.test_client()
    reply = second.post("/login", data={"username": SECOND_TECH[0], "password": SECOND_TECH[1],
                                        "csrf_token": csrf_token(second)})
    assert reply.status_code == 302
    return signed_in(app, "technician"), second


@pytest.fixture
def sockets(app, techs):
    from web.extensions import socketio

    clients = [socketio.test_client(app, flask_test_client=client) for client in techs]
    for client in clients:
        assert client.emit("calibration begin", {}, callback=True)["ok"]
    yield clients
    for client in clients:
        client.emit("calibration driver", {"action": "release"}, callback=True)
        client.disconnect()


def wizard(app):
    return app.extensions["vsion"].wizard


def config_text(app) -> str:
    return app.extensions["vsion"].config_path.read_text()


def received(client, name: str) -> list:
    return [e["args"][0] for e in client.get_received() if e["name"] == name]


# --------------------------------------------------------------------------- the board
@pytest.mark.parametrize("board, code, params", [
    ({"cols": 8, "rows": 6, "square_mm": 40}, "half_turn", {"cols": 8, "rows": 6, "cols1": 9, "rows1": 7}),
    ({"type": "charuco", "cols": 7, "rows": 4, "square_mm": 30, "marker_mm": 30}, "marker_size",
     {"marker": "30", "square": "30"}),
    ({"type": "charuco", "cols": 19, "rows": 14, "square_mm": 20}, "markers", {"markers": 150, "size": 100}),
])
def test_a_board_the_cameras_cannot_use_is_refused_with_its_reason(app, techs, board, code, params):
    before = config_text(app)
    reply = call(techs[0], "PUT", "/api/calibration/board", board)
    assert reply.status_code == 400
    body = reply.get_json()
    assert body["code"] == code and body["params"] == params, body
    if code == "half_turn":
        assert "looks the same turned by half a turn" in body["error"] and "9 x 6 or 8 x 7" in body["error"]
    assert config_text(app) == before and wizard(app).board.cols == 9


@pytest.mark.parametrize("body", [{"cols": 1, "rows": 6, "square_mm": 40}, {"cols": 9, "rows": 6, "square_mm": 0},
                                  {"cols": 9, "rows": 6}, {"cols": 9, "rows": 6, "square_mm": 40, "extra": 1},
                                  {"type": "hexagon", "cols": 9, "rows": 6, "square_mm": 40}])
def test_board_fields_out_of_bounds_are_refused(app, techs, body):
    before = config_text(app)
    reply = call(techs[0], "PUT", "/api/calibration/board", body)
    assert reply.status_code == 400 and "invalid payload" in reply.get_json()["error"]
    assert config_text(app) == before


def test_a_new_board_is_written_with_the_comments_and_used_at_once(app, techs, sockets):
    path = app.extensions["vsion"].config_path
    path.write_text(path.read_text().replace("cameras:", "# the studio\ncameras:  # two cameras", 1))
    reply = call(techs[0], "PUT", "/api/calibration/board", {"type": "charuco", "cols": 7, "rows": 4, "square_mm": 30,
                                                             "marker_mm": 22})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["describe"].startswith("7 x 4 inner corners, squares 30 mm")
    text = config_text(app)
    assert "# the studio\ncameras:  # two cameras" in text
    assert "board: {cols: 7, rows: 4, square_mm: 30, type: charuco, marker_mm: 22}" in text
    assert wizard(app).board.describe() == "7x4 ChArUco board, 30 mm squares"
    assert app.extensions["vsion"].settings.board.marker_mm == 22
    # The pages hear it: the wizard's state carries the board; the other technician watches.
    shared = received(sockets[1], "calibration state")
    assert shared and shared[-1]["state"]["board"] == {"cols": 7, "rows": 4, "square_mm": 30.0}
    refused = call(techs[1], "PUT", "/api/calibration/board", {"cols": 9, "rows": 6, "square_mm": 115})
    assert refused.status_code == 409 and "technician is driving" in refused.get_json()["error"]
    back = call(techs[0], "PUT", "/api/calibration/board", {"cols": 9, "rows": 6, "square_mm": 115})
    assert back.status_code == 200 and "board: {cols: 9, rows: 6, square_mm: 115}" in config_text(app)


def test_the_board_stays_while_the_session_holds_views(app, techs, sockets):
    det = Detection(np.zeros((54, 2)), np.arange(54), (640, 360), "test")
    wizard(app).views["cam1"], wizard(app).sizes["cam1"] = [("v001", det)], (640, 360)
    try:
        reply = call(techs[0], "PUT", "/api/calibration/board", {"cols": 7, "rows": 4, "square_mm": 40})
        assert reply.status_code == 409
        assert "this calibration has 1 view made with the 9x6 checkerboard" in reply.get_json()["error"]
        assert "board: {cols: 9, rows: 6, square_mm: 115}" in config_text(app)
        same = call(techs[0], "PUT", "/api/calibration/board", {"cols": 9, "rows": 6, "square_mm": 115})
        assert same.status_code == 200  # the board in use again: nothing to lose
    finally:
        wizard(app).views["cam1"] = []
        wizard(app).sizes.pop("cam1")


# --------------------------------------------------------------------------- printing
def _mm(value: str) -> float:
    return float(value.removesuffix("mm"))


def test_the_board_prints_at_true_scale(app, techs):
    tech = techs[0]
    reply = tech.get("/api/calibration/board/print?format=svg&paper=custom&width_mm=1300&height_mm=900")
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="vsion-board-9x6-115mm-1300x900mm.svg"'
    root = ET.fromstring(reply.data)
    assert (_mm(root.get("width")), _mm(root.get("height"))) == (1300, 900)
    assert root.get("viewBox") == "0 0 1300 900"  # one user unit is one millimetre
    squares = root.findall(".//{http://www.w3.org/2000/svg}rect[@class='square']")
    assert len(squares) == 35 and {(float(s.get("width")), float(s.get("height"))) for s in squares} == {(115, 115)}
    assert root.find(".//{http://www.w3.org/2000/svg}rect[@class='check']").get("width") == "50"
    captions = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "caption"]
    assert captions == ["9 x 6 coins intérieurs, cases de 115 mm"]  # the page's language (French by default)
    pdf = tech.get("/api/calibration/board/print?format=pdf&paper=custom&width_mm=1300&height_mm=900")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    box = [float(v) for v in re.search(rb"/MediaBox \[([\d. ]+)\]", pdf.data).group(1).split()]
    assert box[2] == pytest.approx(1300 * 72 / 25.4, abs=0.01) and box[3] == pytest.approx(900 * 72 / 25.4, abs=0.01)
    with app.app_context():
        from database.base import db
        from database.models import SiteFlag

        flag = db.session.get(SiteFlag, "onboarding.board")
        assert flag is not None and flag.value["by"] == "technician"


def test_a_board_too_big_for_its_paper_says_the_largest_square(app, techs):
    reply = techs[0].get("/api/calibration/board/print?format=pdf&paper=A4")
    assert reply.status_code == 400
    body = reply.get_json()
    assert body["code"] == "too_big" and body["params"]["best"] == "23", body
    for query in ("format=doc", "paper=A5", "paper=custom&width_mm=1300", "paper=A4&width_mm=300&height_mm=300",
                  "paper=custom&width_mm=10&height_mm=900"):
        assert techs[0].get("/api/calibration/board/print?" + query).status_code == 400, query


def test_the_picture_of_what_the_numbers_count(app, techs):
    reply = techs[0].get("/api/calibration/board/corners.svg?cols=7&rows=4")
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml"
    root = ET.fromstring(reply.data)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "7 coins intérieurs en largeur" in texts and "4 en hauteur" in texts and "(8 x 5 carrés)" in texts
    assert len(root.findall(".//{http://www.w3.org/2000/svg}circle")) == 7 * 4
    assert techs[0].get("/api/calibration/board/corners.svg?cols=99").status_code == 400


# --------------------------------------------------------------------------- the driver
def test_one_technician_drives_the_others_watch(app, techs, sockets):
    first, second = sockets
    first.get_received(), second.get_received()
    assert first.emit("calibration focus", {"step": "extrinsics"}, callback=True)["ok"]
    announced = received(second, "calibration driver")
    assert announced and announced[-1]["driver"] == "technician"
    assert announced[-1]["present"] == ["technician", "technician2"]
    refused = second.emit("calibration focus", {"step": "floor"}, callback=True)
    assert not refused["ok"] and refused["code"] == "refused"
    assert refused["message"] == "technician is driving the calibration: you can watch until they hand it over or release it"
    assert wizard(app).state()["step"] == "extrinsics"
    # Watching still means seeing: the live detections reach the read-only page.
    deadline = time.monotonic() + 20
    while not any(e["name"] == "calibration live" for e in second.get_received()):
        assert time.monotonic() < deadline, "no live detection reached the watching technician"
        time.sleep(0.2)
    assert second.emit("calibration begin", {}, callback=True)["driver"]["driver"] == "technician"
    # The driver hands the wizard over; the other drives, the first one watches.
    handed = first.emit("calibration driver", {"action": "hand_over", "to": "technician2"}, callback=True)
    assert handed["ok"] and handed["driver"]["driver"] == "technician2"
    assert second.emit("calibration focus", {"step": "floor"}, callback=True)["ok"]
    assert not first.emit("calibration capture", {"camera": 0}, callback=True)["ok"]
    nobody = first.emit("calibration driver", {"action": "hand_over", "to": "nobody"}, callback=True)
    assert not nobody["ok"] and nobody["message"].startswith("technician2 is driving")
    assert second.emit("calibration driver", {"action": "release"}, callback=True)["driver"]["driver"] is None
    assert first.emit("calibration driver", {"action": "take"}, callback=True)["driver"]["driver"] == "technician"


def test_the_driver_is_released_after_the_idle_time(app, sockets):
    first, second = sockets
    driver = wizard(app).driver
    driver.idle_s = 1.0
    try:
        assert first.emit("calibration focus", {"step": "result"}, callback=True)["ok"]
        second.get_received()
        deadline = time.monotonic() + 10
        while not [e for e in received(second, "calibration driver") if e["driver"] is None]:
            assert time.monotonic() < deadline, "the idle driver was not released"
            time.sleep(0.2)
        assert second.emit("calibration focus", {"step": "floor"}, callback=True)["ok"]  # free: taken
    finally:
        driver.idle_s = 300.0


def test_bad_driver_and_session_payloads(app, sockets):
    first, _ = sockets
    for payload in ({"action": "hand_over"}, {"action": "take", "to": "x"}, {"action": "steal"}, {"action": "take", "x": 1}):
        answer = first.emit("calibration driver", payload, callback=True)
        assert not answer["ok"] and answer["code"] == "invalid", payload
    for payload in ({}, {"mode": "old"}, {"mode": "new", "extra": True}):
        answer = first.emit("calibration session", payload, callback=True)
        assert not answer["ok"] and answer["code"] == "invalid", payload


# --------------------------------------------------------------------------- sessions
def test_sessions_start_again(app, sockets):
    first, second = sockets
    det = Detection(np.zeros((54, 2)), np.arange(54), (640, 360), "test")
    w = wizard(app)
    w.moments = {"m001": {"cam1": det, "cam2": det}}
    w.floor = {"cam1": det}
    before = w.session
    fresh = first.emit("calibration session", {"mode": "new"}, callback=True)
    assert fresh["ok"], fresh
    state = fresh["state"]
    assert state["session"] != before and state["mode"] == "full" and state["rig"] is None
    assert state["moments"] == {"moments": 0, "views": {"cam1": 0, "cam2": 0}, "pairs": {}, "floor": None}
    assert [e["state"]["session"] for e in received(second, "calibration state")][-1] == state["session"]
    # Redo positions needs a calibration in force for every camera.
    (w.active_path).unlink(missing_ok=True)
    solve = first.emit("calibration solve", {}, callback=True)  # the old moments are gone with the old session
    assert not solve["ok"] and solve["message"] == "camera cam1 has no intrinsics: calibrate it at its own step first"
    refused = first.emit("calibration session", {"mode": "positions"}, callback=True)
    assert not refused["ok"] and "no calibration in force for cam1, cam2" in refused["message"]
    from tests.helpers.world import save_calibration_set

    save_calibration_set(app)
    positions = first.emit("calibration session", {"mode": "positions"}, callback=True)
    assert positions["ok"] and positions["state"]["mode"] == "positions" and positions["state"]["step"] == "extrinsics"
    solve = first.emit("calibration solve", {}, callback=True)
    assert not solve["ok"] and "no board moment captured yet" in solve["message"]
    lens = first.emit("calibration focus", {"step": "camera", "camera": 0}, callback=True)
    assert not lens["ok"] and "redoes the positions with the intrinsics in force" in lens["message"]
    assert not second.emit("calibration session", {"mode": "new"}, callback=True)["ok"]  # watching
    assert first.emit("calibration session", {"mode": "new"}, callback=True)["state"]["mode"] == "full"


# --------------------------------------------------------------------------- from a take, health
def test_a_take_without_the_board_fails_with_a_clear_message(app, techs):
    from jobs.base import JobStatus

    take_id = fake_take(app, "technician", None, "free", seconds=2, processed=False)
    reply = call(techs[0], "POST", "/api/calibration/from-take", {"take_id": take_id, "mode": "intrinsics",
                                                                  "camera": "cam1"})
    assert reply.status_code == 202, reply.get_json()
    job_id = reply.get_json()["id"]
    jobs = app.extensions["vsion"].jobs
    deadline = time.monotonic() + 120
    while (job := next(j for j in jobs.jobs() if j.id == job_id)).status not in (JobStatus.DONE, JobStatus.FAILED):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job.status == JobStatus.FAILED and str(job.failure) == "input"
    assert re.match(r"no 9x6 checkerboard, 115 mm squares in the recording \(frames read: cam1 \d+\): record the board "
                    r"again", job.message), job.message
    history = techs[0].get(f"/api/jobs?take={take_id}").get_json()["jobs"]
    assert history[0]["kind"] == "calibrate" and history[0]["status"] == "failed"
    adopt = call(techs[0], "POST", "/api/calibration/from-take", {"take_id": take_id, "mode": "intrinsics",
                                                                  "camera": "cam9"})
    assert adopt.status_code == 400 and "camera cam9 is not in this take" in adopt.get_json()["error"]


def test_calibration_from_takes_one_may_not_see_or_that_are_not_there(app, techs):
    card = call(signed_in(app, "expert"), "POST", "/api/workcards", {"title": "Draft"}).get_json()["id"]
    hidden = fake_take(app, "expert", card, "reference", seconds=1, processed=False)  # a draft's reference
    for body in ({"take_id": hidden, "mode": "positions"}, {"take_id": "20260101-000000-beef", "mode": "positions"}):
        reply = call(techs[0], "POST", "/api/calibration/from-take", body)
        assert reply.status_code == 404 and reply.get_json()["error"] == "take not found"
    for body in ({"take_id": hidden, "mode": "intrinsics"}, {"take_id": "x", "mode": "positions", "camera": "cam1"},
                 {"take_id": "x", "mode": "positions", "floor_start_s": 4}, {"take_id": "../x", "mode": "positions"},
                 {"take_id": "x", "mode": "positions", "floor_start_s": 5, "floor_end_s": 4}):
        assert call(techs[0], "POST", "/api/calibration/from-take", body).status_code == 400, body


def test_health_needs_a_calibration_and_a_board(app, techs):
    w = wizard(app)
    w.active_path.unlink(missing_ok=True)
    reply = call(techs[0], "POST", "/api/calibration/health", {"source": "board"})
    assert reply.status_code == 409 and reply.get_json()["code"] == "no_calibration"
    from tests.helpers.world import save_calibration_set

    save_calibration_set(app)
    reply = call(techs[0], "POST", "/api/calibration/health", {"source": "board"})
    assert reply.status_code == 409 and reply.get_json()["code"] == "no_board"  # the test video shows no board
    assert techs[0].get("/api/calibration/health").get_json() is None
    assert call(techs[0], "POST", "/api/calibration/health", {"source": "x"}).status_code == 400
