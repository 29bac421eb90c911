"""The takes library, the job history and the onboarding checklist, on the real app (SQLite, take
folders written by the real exporters, the real job runner).

``GET /api/takes``: filters, sorting, pages, and what each role sees (a trainee never another's
take); ``PATCH /api/takes/<id>`` label and notes with their limits; ``POST .../process``: refused
and accepted, with a real job through the LocalJobRunner; ``POST .../promote``: the rules; the
job history (``GET /api/jobs``) kept across a restart of the app on the same data folder; and the
onboarding checklist's states.
"""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from accounts.users import create_user
from database.base import db
from database.models import AuditEvent, JobRecord, Take, User
from jobs import Job, JobFailure, JobStatus
from takes.history import INTERRUPTED
from takes.service import register_recorded_take, set_processing
from tests.helpers.accounts import PASSWORDS, call, create_users, signed_in
from tests.helpers.world import (
    ANON,
    build_world,
    fake_take,
    make_app,
    published_card,
    run_comparison,
    save_calibration_set,
    stop_app,
    wait_connected,
)

WAIT_S = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("library"), video_file)  # cameras idle; the job runner runs
    try:
        yield build_world(app)
    finally:
        stop_app(app)


def listed(client, query: str = "") -> dict:
    reply = client.get("/api/takes" + query)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def ids(client, query: str = "") -> list[str]:
    return [take["id"] for take in listed(client, query)["takes"]]


def every_page(client, query: str, per_page: int) -> list[str]:
    first = listed(client, f"{query}&per_page={per_page}&page=1")
    out = [t["id"] for t in first["takes"]]
    for page in range(2, first["pages"] + 1):
        out += ids(client, f"{query}&per_page={per_page}&page={page}")
    return out


def audited(app, action: str, target: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).filter_by(action=action, target_id=target)))


def wait_job(app, take_id: str, statuses=("done", "failed", "cancelled"), count: int = 1) -> list[dict]:
    """The take's jobs in the history once ``count`` of them have one of ``statuses``."""
    deadline = time.monotonic() + WAIT_S
    while True:
        with app.app_context():
            rows = db.session.scalars(sa.select(JobRecord).filter_by(take_id=take_id)
                                      .order_by(JobRecord.created_at)).all()
            found = [{"id": r.id, "status": r.status, "message": r.message, "failure": r.failure} for r in rows]
        if sum(job["status"] in statuses for job in found) >= count:
            return found
        assert time.monotonic() < deadline, f"the jobs of take {take_id} did not finish: {found}"
        time.sleep(0.1)


# --------------------------------------------------------------------------- listing
def test_filters_sorting_and_pages(world):
    admin = world.client("admin")
    everything = {world.reference, world.attempt, world.other_attempt, world.free, world.expert_free}
    assert everything <= set(ids(admin))
    assert set(ids(admin, "?kind=attempt")) == {world.attempt, world.other_attempt}
    assert ids(admin, "?owner=trainee") == [world.attempt]
    assert set(ids(admin, f"?work_card={world.published}")) == {world.reference, world.attempt, world.other_attempt}
    assert ids(admin, "?kind=free&owner=technician") == [world.free]
    assert everything <= set(ids(admin, "?processing=done&status=complete"))
    assert ids(admin, "?processing=failed") == [] and ids(admin, "?status=recording") == []
    assert ids(admin, f"?q={world.free[-4:]}") == [world.free]
    today = datetime.now(UTC).date()
    assert everything <= set(ids(admin, f"?since={today}&until={today}"))
    assert ids(admin, f"?since={today + timedelta(days=1)}") == []
    assert ids(admin, f"?until={today - timedelta(days=1)}") == []

    by_duration = listed(admin, "?sort=duration_s&order=asc")["takes"]
    durations = [t["duration_s"] for t in by_duration]
    assert durations == sorted(durations) and durations[0] < durations[-1]
    owners = [t["user"] for t in listed(admin, "?sort=owner&order=desc")["takes"]]
    assert owners == sorted(owners, reverse=True)
    newest = listed(admin)["takes"]
    assert [t["created_at"] for t in newest] == sorted((t["created_at"] for t in newest), reverse=True)

    pages = every_page(admin, "?sort=owner&order=asc", per_page=2)
    assert len(pages) == len(set(pages)) == listed(admin)["total"]
    assert set(pages) == set(ids(admin, "?per_page=200"))
    filters = listed(admin)["filters"]
    assert {"trainee", "trainee2", "technician", "expert"} <= set(filters["owners"])
    assert {"id": world.published, "title": "Lift the box"} in filters["work_cards"]


@pytest.mark.parametrize("query", ["sort=bogus", "order=up", "per_page=0", "per_page=201", "page=0", "since=2026-13-45",
                                   "until=tomorrow", "status=lost", "processing=maybe", "kind=x", "work_card=abc",
                                   "work_card=0", "owner=a%20b", "q=%01", "q=" + "x" * 121])
def test_bad_queries_answer_400(world, query):
    reply = world.client("admin").get("/api/takes?" + query)
    assert reply.status_code == 400 and "invalid payload" in reply.get_json()["error"], reply.get_json()


def test_what_each_role_sees(world):
    trainee = world.client("trainee")
    assert set(ids(trainee)) == {world.attempt, world.reference}
    for query in ("?owner=trainee2", f"?q={world.other_attempt}", f"?q={world.other_attempt[-4:]}",
                  "?kind=attempt&owner=trainee2", f"?work_card={world.published}&sort=owner"):
        assert world.other_attempt not in ids(trainee, query), query
    assert ids(trainee, "?kind=attempt") == [world.attempt]
    assert "trainee2" not in listed(trainee)["filters"]["owners"]
    technician = set(ids(world.client("technician")))
    assert {world.free, world.expert_free, world.reference} <= technician
    assert not {world.attempt, world.other_attempt} & technician
    for who in ("admin", "expert", "expert2"):
        assert {world.attempt, world.other_attempt, world.free} <= set(ids(world.client(who))), who
    assert world.client(ANON).get("/api/takes").status_code == 401

    mine = {t["id"]: t for t in listed(trainee)["takes"]}
    assert mine[world.attempt]["can_edit"] and mine[world.attempt]["can_process"] and mine[world.attempt]["can_delete"]
    reference = mine[world.reference]
    assert not (reference["can_edit"] or reference["can_process"] or reference["can_delete"] or reference["can_promote"])
    seen = {t["id"]: t for t in listed(world.client("technician"))["takes"]}
    assert seen[world.expert_free]["can_process"] and not seen[world.expert_free]["can_edit"]
    assert not seen[world.expert_free]["can_delete"] and not seen[world.expert_free]["can_promote"]
    assert {t["id"]: t for t in listed(world.client("expert"))["takes"]}[world.free]["can_promote"]


def test_the_pages_have_the_library(world):
    for who in ("admin", "technician", "expert", "trainee"):
        assert 'id="nav-takes"' in world.client(who).get("/").get_data(as_text=True), who
        page = world.client(who).get("/takes")
        assert page.status_code == 200 and 'id="tl-table"' in page.get_data(as_text=True) and \
            'id="jh-table"' in page.get_data(as_text=True), who
    assert ('id="tl-promote"' in world.client("expert").get("/takes").get_data(as_text=True)) is True
    assert ('id="tl-promote"' in world.client("technician").get("/takes").get_data(as_text=True)) is False


# --------------------------------------------------------------------------- label and notes
def test_label_and_notes(world):
    app, technician = world.app, world.client("technician")
    take_id = fake_take(app, "technician", None, "free", seconds=1)
    reply = call(technician, "PATCH", f"/api/takes/{take_id}", {"label": "  Camera test A ", "notes": "cam2 blurry\nrefocus"})
    assert reply.status_code == 200, reply.get_json()
    assert (reply.get_json()["label"], reply.get_json()["notes"]) == ("Camera test A", "cam2 blurry\nrefocus")
    assert technician.get(f"/api/takes/{take_id}").get_json()["label"] == "Camera test A"
    assert ids(technician, "?q=camera%20TEST") == [take_id] and ids(technician, "?q=refocus") == [take_id]
    assert ids(technician, "?sort=label&order=asc")[0] == take_id  # a label sorts before the takes without one
    for body in ({"label": "x" * 121}, {"notes": "y" * 2001}, {"label": "a\x00b"}, {"label": "a\x1bb"}, {},
                 {"title": "x"}, {"label": 5}, {"notes": ["a"]}, [], "label"):
        reply = call(technician, "PATCH", f"/api/takes/{take_id}", body)
        assert reply.status_code == 400 and reply.get_json()["error"], body
    assert listed(technician, f"?q={take_id}")["takes"][0]["label"] == "Camera test A"
    assert call(technician, "PATCH", f"/api/takes/{world.expert_free}", {"label": "mine"}).status_code == 403
    assert call(world.client("trainee"), "PATCH", f"/api/takes/{take_id}", {"label": "x"}).status_code == 404
    assert call(world.client("expert2"), "PATCH", f"/api/takes/{take_id}", {"notes": "seen"}).status_code == 200
    cleared = call(technician, "PATCH", f"/api/takes/{take_id}", {"label": ""}).get_json()
    assert cleared["label"] is None and cleared["notes"] == "seen"
    assert [e.detail["fields"] for e in audited(app, "take.update", take_id)] == [["label", "notes"], ["notes"], ["label"]]


def test_the_label_given_at_start_is_kept(world):
    app = world.app
    folder = app.extensions["vsion"].processor.takes_dir / "20261202-101010-beef"
    with app.app_context():
        user_id = db.session.scalars(sa.select(User.id).filter_by(username="technician")).one()
        take_json = {"id": folder.name, "status": "complete", "user_id": user_id, "created_by": "technician",
                     "label": "Studio check", "kind": "free", "work_card": None, "cameras": []}
        take = register_recorded_take(take_json, folder)
        assert take.label == "Studio check"
        take.label = "Renamed"
        db.session.commit()
        assert register_recorded_take({**take_json, "label": "Studio check"}, folder).label == "Renamed"


# --------------------------------------------------------------------------- processing again
def test_process_again_is_refused(world):
    app = world.app
    assert call(world.client("trainee"), "POST", f"/api/takes/{world.other_attempt}/process", {}).status_code == 404
    for who in ("trainee", "technician", "admin", "expert"):  # a published reference is kept as published
        reply = call(world.client(who), "POST", f"/api/takes/{world.reference}/process", {})
        assert reply.status_code == 403 and reply.get_json()["error"], who
    take_id = fake_take(app, "expert", None, "free", seconds=1, processed=False)
    assert call(world.client("trainee"), "POST", f"/api/takes/{take_id}/process", {}).status_code == 404
    assert call(world.client("expert"), "POST", f"/api/takes/{take_id}/process", {"now": True}).status_code == 400
    with app.app_context():
        set_processing(take_id, "running")
    assert call(world.client("expert"), "POST", f"/api/takes/{take_id}/process", {}).status_code == 409
    with app.app_context():
        set_processing(take_id, "failed", "no calibration")
        db.session.get(Take, take_id).status = "recording"
        db.session.commit()
    assert call(world.client("expert"), "POST", f"/api/takes/{take_id}/process", {}).status_code == 409
    with app.app_context():
        assert db.session.scalars(sa.select(JobRecord).filter_by(take_id=take_id)).first() is None


def test_process_again_runs_a_job_and_keeps_it(world):
    """A technician processes a free take again: a real job through the LocalJobRunner, with the
    calibration in force copied in; it fails on the resolution (the calibration is 1280x720, the
    video 640x360) and says so, in the take, the history and the events."""
    from web.extensions import socketio

    app, technician = world.app, world.client("technician")
    take_id = fake_take(app, "technician", None, "free", seconds=1, processed=False)
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    assert not (folder / "calibration.toml").exists()
    sio = socketio.test_client(app, flask_test_client=technician)
    sio.get_received()
    reply = call(technician, "POST", f"/api/takes/{take_id}/process")
    assert reply.status_code == 202, reply.get_json()
    assert reply.get_json()["take_id"] == take_id and reply.get_json()["kind"] == "process"
    jobs = wait_job(app, take_id)
    assert (folder / "calibration.toml").is_file()
    assert len(jobs) == 1 and jobs[0]["status"] == "failed" and jobs[0]["failure"] == "input"
    assert "calibrated at 1280x720" in jobs[0]["message"]
    history = technician.get(f"/api/jobs?take={take_id}").get_json()
    job = history["jobs"][0]
    assert history["total"] == 1 and job["queued_by"] == "technician" and job["status"] == "failed"
    assert job["started_at"] and job["finished_at"] and job["take_kind"] == "free"
    detail = technician.get(f"/api/takes/{take_id}").get_json()
    assert detail["processing"] == "failed" and "1280x720" in detail["processing_message"]
    events = [e["args"][0] for e in sio.get_received() if e["name"] == "job status"]
    assert [e["status"] for e in events if e["take_id"] == take_id][-1] == "failed"
    sio.disconnect()
    assert audited(app, "take.process", take_id)[0].detail["job"] == job["id"]
    # The technician may process the expert's free take too (camera tests), the expert's own.
    assert call(technician, "POST", f"/api/takes/{world.expert_free}/process", {}).status_code == 202
    assert call(world.client("expert"), "POST", f"/api/takes/{world.expert_free}/process", {}).status_code in (202, 409)
    wait_job(app, world.expert_free)


# --------------------------------------------------------------------------- promotion
def test_promote_a_free_take_to_a_reference(world):
    app, expert = world.app, world.client("expert")
    take_id = fake_take(app, "technician", None, "free", seconds=2)
    for who in ("trainee", "technician"):
        assert call(world.client(who), "POST", f"/api/takes/{take_id}/promote", {"work_card_id": world.draft}) \
            .status_code == 403, who
    refused = {
        "a card another expert writes": (world.client("expert2"), take_id, world.draft, 400),
        "a published card": (expert, take_id, world.published, 400),
        "an attempt": (expert, world.attempt, world.draft, 400),
        "a reference": (expert, world.reference, world.draft, 400),
        "no card": (expert, take_id, 999_999, 400),
        "an unprocessed take": (expert, fake_take(app, "expert", None, "free", seconds=1, processed=False),
                                world.draft, 400),
    }
    for what, (client, take, card, status) in refused.items():
        reply = call(client, "POST", f"/api/takes/{take}/promote", {"work_card_id": card})
        assert reply.status_code == status and reply.get_json()["error"], (what, reply.get_json())
    for body in ({}, {"work_card_id": str(world.draft)}, {"work_card_id": world.draft, "x": 1}, {"work_card_id": 0}):
        assert call(expert, "POST", f"/api/takes/{take_id}/promote", body).status_code == 400, body
    reply = call(expert, "POST", f"/api/takes/{take_id}/promote", {"work_card_id": world.draft})
    assert reply.status_code == 200, reply.get_json()
    assert (reply.get_json()["kind"], reply.get_json()["work_card_id"]) == ("reference", world.draft)
    take_json = json.loads((app.extensions["vsion"].processor.takes_dir / take_id / "take.json").read_text())
    assert (take_json["kind"], take_json["work_card"]) == ("reference", world.draft)
    assert take_id in [t["id"] for t in expert.get(f"/api/workcards/{world.draft}/takes").get_json()["takes"]]
    assert call(expert, "POST", f"/api/workcards/{world.draft}/reference", {"take_id": take_id}).status_code == 200
    assert audited(app, "take.promote", take_id)[0].detail["work_card_id"] == world.draft
    again = call(expert, "POST", f"/api/takes/{take_id}/promote", {"work_card_id": world.draft})
    assert again.status_code == 400


# --------------------------------------------------------------------------- job history across a restart
def _job(take_id: str, params: dict, status: JobStatus, failure: JobFailure | None = None, message: str = "") -> Job:
    job = Job(kind="process", take_id=take_id, params=params)
    if failure is not None:
        job.fail(failure, message)
    else:
        job.status = status
    return job


def _history(client, query: str = "") -> list[dict]:
    reply = client.get("/api/jobs" + query)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()["jobs"]


def test_job_history_survives_a_restart(tmp_path, video_file):
    app = make_app(tmp_path, video_file)
    create_users(app)
    expert = signed_in(app, "expert")
    card_id, reference = published_card(app, expert)
    attempt = fake_take(app, "trainee", card_id, "attempt", seconds=4)
    done = run_comparison(app, attempt)
    free = fake_take(app, "technician", None, "free", seconds=1, processed=False)
    with app.app_context():
        tech = db.session.scalars(sa.select(User.id).filter_by(username="technician")).one()
    left_running = _job(free, {"user_id": tech, "queued_by": tech}, JobStatus.RUNNING)
    failed = _job(reference, {}, JobStatus.FAILED, JobFailure.INPUT, "cam1.mp4: not a video")
    for job in (left_running, failed):
        app.extensions["vsion"].takes.job_changed(job)
    stop_app(app)  # as a killed server: the running job never reported its end

    again = make_app(tmp_path, video_file, start=True)  # the same data folder: resume reads the database
    try:
        admin = signed_in(again, "admin")
        jobs = wait_job(again, free, count=2)
        assert [j["status"] for j in jobs] == ["cancelled", "failed"] and "no calibration" in jobs[1]["message"]
        history = {job["id"]: job for job in _history(admin)}
        assert history[done.id]["status"] == "done" and history[done.id]["report"]["score"] is not None
        assert history[failed.id]["failure"] == "input" and history[failed.id]["message"] == "cam1.mp4: not a video"
        interrupted = history[left_running.id]
        assert interrupted["status"] == "cancelled" and interrupted["message"] == INTERRUPTED
        assert interrupted["queued_by"] == "technician" and interrupted["finished_at"]
        assert [j["id"] for j in _history(admin, "?status=cancelled")] == [left_running.id]
        assert [j["id"] for j in _history(admin, f"?take={attempt}&kind=process")] == [done.id]
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        assert _history(admin, f"?since={tomorrow}") == [] and _history(admin, "?kind=calibrate") == []
        page = admin.get("/api/jobs?per_page=1&page=2").get_json()
        assert page["total"] == 4 and page["pages"] == 4 and len(page["jobs"]) == 1
        assert {j["take_id"] for j in _history(signed_in(again, "trainee"))} == {attempt}
        assert {j["take_id"] for j in _history(signed_in(again, "technician"))} == {free}
        assert len(_history(signed_in(again, "expert"))) == 4
        for query in ("status=lost", "take=../x", "kind=A", "per_page=0", "since=x"):
            assert admin.get("/api/jobs?" + query).status_code == 400, query
    finally:
        stop_app(again)


# --------------------------------------------------------------------------- onboarding
def _steps(client) -> dict:
    reply = client.get("/api/onboarding")
    assert reply.status_code == 200, reply.get_json()
    state = reply.get_json()
    return {"show": state["show"], "complete": state["complete"], **{s["key"]: s["done"] for s in state["steps"]}}


def test_onboarding_checklist(tmp_path, video_file):
    app = make_app(tmp_path, video_file, start=True)
    try:
        with app.app_context():
            create_user("admin", PASSWORDS["admin"], "admin")
        admin = signed_in(app, "admin")
        home = admin.get("/").get_data(as_text=True)
        assert 'id="onboarding"' in home and 'id="nav-onboarding"' in home
        wait_connected(admin)
        assert _steps(admin) == {"show": True, "complete": False, "cameras": True, "board": False,
                                 "calibration": False, "workcard": False, "users": False}
        assert call(admin, "POST", "/api/onboarding/dismiss", {}).get_json()["show"] is False
        assert _steps(admin)["show"] is False
        assert call(admin, "POST", "/api/onboarding/reopen", {}).get_json()["show"] is True
        assert call(admin, "POST", "/api/onboarding/board", {"printed": True}).status_code == 400
        board = call(admin, "POST", "/api/onboarding/board", {}).get_json()
        assert [s["detail"]["by"] for s in board["steps"] if s["key"] == "board"] == ["admin"]
        assert audited(app, "onboarding.board", "board")
        assert call(admin, "POST", "/api/workcards", {"title": "First card"}).status_code == 201
        save_calibration_set(app)
        assert _steps(admin) == {"show": True, "complete": False, "cameras": True, "board": True, "calibration": True,
                                 "workcard": True, "users": False}
        with app.app_context():
            for role in ("technician", "expert", "trainee"):
                create_user(role, PASSWORDS[role], role)
        assert _steps(admin)["complete"] is True and _steps(admin)["show"] is True  # reopened: shown until hidden
        technician = signed_in(app, "technician")
        state = technician.get("/api/onboarding").get_json()
        assert state["complete"] and not state["show"]
        assert [s["url"] for s in state["steps"] if s["key"] in ("users", "workcard")] == [None, None]
        assert call(technician, "POST", "/api/onboarding/reopen", {}).get_json()["show"] is True
        assert call(technician, "POST", "/api/onboarding/dismiss", {}).get_json()["dismissed"] is True
        assert _steps(admin)["show"] is True  # the choice is each user's
        for role in ("expert", "trainee"):
            client = signed_in(app, role)
            assert client.get("/api/onboarding").status_code == 403, role
            assert call(client, "POST", "/api/onboarding/board", {}).status_code == 403, role
            assert 'id="onboarding"' not in client.get("/").get_data(as_text=True), role
    finally:
        stop_app(app)
