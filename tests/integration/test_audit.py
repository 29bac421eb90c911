"""The audit log and take deletion, through the real app on file cameras and its SQLite database:
recording over Socket.IO, downloads, calibration and work card actions are recorded with who,
role and address; takes are deleted by the rules of each role; only administrators read the log."""
from __future__ import annotations

import csv
import io
import json
import time

import pytest

from accounts import audit as audit_service
from accounts.users import create_user
from calibration.camera import CameraGroup
from calibration.io import save_toml
from database.base import db
from database.models import AuditEvent, Comparison, Take, WorkCard
from tests.helpers.accounts import MORE_USERS, PASSWORDS, call, login, signed_in, token
from tests.helpers.synthetic import camera_ring
from tests.helpers.world import STEPS, fake_take, published_card, wait_connected
from web.extensions import socketio


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def people(app):
    """Besides one user per role (conftest's, named after their role): a second trainee and a second expert."""
    with app.app_context():
        for name, (role, password) in MORE_USERS.items():
            create_user(name, password, role)


def rows(app, action: str | None = None) -> list[dict]:
    """Every audit row (of ``action``, exactly), oldest first."""
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        return [audit_service.event_view(e) for e in events if action is None or e.action == action]


def secrets_in(text: str, app) -> list[str]:
    """The passwords and camera URLs found in ``text``."""
    urls = [cam.url for cam in app.extensions["vsion"].settings.cameras]
    return [s for s in (*PASSWORDS.values(), *(p for _, p in MORE_USERS.values()), *urls) if s in text]


def take_folder(app, take_id: str):
    return app.extensions["vsion"].processor.takes_dir / take_id


# --------------------------------------------------------------------------- recording
def test_recording_start_and_stop_are_audited_with_who_role_and_address(app, client):
    login(client, "expert")
    wait_connected(client)
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    started = sio.emit("start recording", {"label": "audit"}, callback=True)
    assert started["ok"], started
    refused = sio.emit("start recording", {}, callback=True)
    assert not refused["ok"]
    time.sleep(1.0)
    stopped = sio.emit("stop recording", {}, callback=True)
    assert stopped["ok"], stopped
    sio.disconnect()

    start, = rows(app, "take.start")  # the refused second start left no row
    assert (start["user"], start["role"], start["ip"]) == ("expert", "expert", "127.0.0.1")
    assert (start["target_type"], start["target_id"]) == ("take", started["take_id"])
    assert start["detail"] == {"kind": "free", "work_card_id": None}
    stop, = rows(app, "take.stop")
    assert (stop["user"], stop["role"], stop["ip"], stop["target_id"]) == ("expert", "expert", "127.0.0.1",
                                                                          started["take_id"])
    assert stop["detail"]["status"] == "complete" and stop["detail"]["kind"] == "free"
    assert set(stop["detail"]["frames"]) == {"cam1", "cam2"} and all(n > 0 for n in stop["detail"]["frames"].values())

    # Nothing the log shows holds a password or a camera address.
    admin = signed_in(app, "admin")
    shown = [json.dumps(admin.get("/api/audit").get_json()), admin.get("/api/audit.csv").get_data(as_text=True),
             admin.get("/admin/audit").get_data(as_text=True), json.dumps(rows(app))]
    assert all(not secrets_in(text, app) for text in shown)


def test_details_never_keep_secrets(app):
    with app.app_context():
        event = audit_service.record("user.test", "user", 1, {"password": "p", "new_password": "q", "api_token": "t",
                                                              "camera": "rtsp://admin:hunter2@192.0.2.1/stream",
                                                              "name": "x" * 500, "nested": {"secret": 1, "ok": 2}})
        assert event.detail == {"camera": "(address hidden)", "name": "x" * 200, "nested": {"ok": 2}}


# --------------------------------------------------------------------------- exports
def test_every_download_is_one_row_and_a_video_view_is_one_row(app, people):
    expert, trainee2 = signed_in(app, "expert"), signed_in(app, "trainee2")
    card_id, reference = published_card(app, expert)
    attempt = fake_take(app, "trainee", card_id, "attempt")
    for what in ("csv", "trc", "c3d", "videos"):
        reply = expert.get(f"/api/takes/{attempt}/download/{what}")
        assert reply.status_code == 200, what
        reply.get_data()
    assert expert.get(f"/api/takes/{attempt}/download/pdf").status_code == 404
    assert trainee2.get(f"/api/takes/{attempt}/download/csv").status_code == 404  # not theirs: not found, no row
    exports = rows(app, "take.export")
    assert [(e["user"], e["role"], e["target_id"], e["detail"]["what"]) for e in exports] == [
        ("expert", "expert", attempt, what) for what in ("csv", "trc", "c3d", "videos")]
    assert all(e["ip"] == "127.0.0.1" for e in exports)

    video = f"/api/takes/{attempt}/video/cam1"
    assert expert.get(video).status_code == 200                                  # a download: one row
    assert expert.get(video, headers={"Range": "bytes=0-"}).status_code == 206   # a player starts: one row
    for start in (1000, 50_000, 2000):                                           # ... then seeks: no row
        assert expert.get(video, headers={"Range": f"bytes={start}-"}).status_code == 206
    assert expert.get(f"/api/takes/{attempt}/video/cam9").status_code == 404
    views = [e for e in rows(app, "take.export") if e["detail"]["what"] == "video"]
    assert len(views) == 2 and all(v["detail"]["camera"] == "cam1" and v["target_id"] == attempt for v in views)
    assert reference  # the published reference was made through the audited API
    assert [e["action"] for e in rows(app) if e["action"].startswith("workcard.")] == [
        "workcard.create", "workcard.reference", "workcard.steps", "workcard.publish"]


# --------------------------------------------------------------------------- calibration, work cards
def test_calibration_import_and_activation_are_audited(app, tmp_path):
    technician = signed_in(app, "technician")
    rig = save_toml(CameraGroup(camera_ring(2)), tmp_path / "rig.toml").read_bytes()
    bad = call(technician, "POST", "/api/calibrations/import", None)  # no file: refused, no row
    assert bad.status_code == 400
    imported = technician.post("/api/calibrations/import", data={"file": (io.BytesIO(rig), "rig.toml")},
                               headers={"X-CSRFToken": token(technician)}, content_type="multipart/form-data")
    assert imported.status_code == 201, imported.get_json()
    set_id = imported.get_json()["id"]
    assert call(technician, "POST", f"/api/calibrations/{set_id}/activate").status_code == 200
    assert call(technician, "POST", "/api/calibrations/19990101-000000/activate").status_code == 404

    done = rows(app, "calibration.import")
    assert len(done) == 1 and done[0]["target_type"] == "calibration" and done[0]["target_id"] == set_id
    assert done[0]["detail"]["file"] == "rig.toml" and (done[0]["user"], done[0]["role"]) == ("technician", "technician")
    activated, = rows(app, "calibration.activate")
    assert activated["target_id"] == set_id and activated["user"] == "technician"


def test_work_card_actions_are_audited(app, people):
    expert = signed_in(app, "expert")
    card_id, reference = published_card(app, expert)
    assert call(expert, "POST", f"/api/workcards/{card_id}/revise", {}).status_code == 200
    assert call(expert, "PATCH", f"/api/workcards/{card_id}", {"title": "Lift it", "tags": ["a"]}).status_code == 200
    assert call(expert, "PATCH", f"/api/workcards/{card_id}", {}).status_code == 400          # refused: no row
    assert call(signed_in(app, "expert2"), "POST", f"/api/workcards/{card_id}/revise", {}).status_code == 403
    assert call(expert, "POST", f"/api/workcards/{card_id}/publish", {}).status_code == 200

    cards = [e for e in rows(app) if e["target_type"] == "work_card"]
    assert [e["action"] for e in cards] == ["workcard.create", "workcard.reference", "workcard.steps",
                                           "workcard.publish", "workcard.revise", "workcard.update",
                                           "workcard.publish"]
    assert all(e["target_id"] == str(card_id) and e["user"] == "expert" for e in cards)
    assert cards[0]["detail"] == {"title": "Lift the box"}
    assert cards[1]["detail"] == {"take_id": reference} and cards[2]["detail"] == {"steps": len(STEPS)}
    assert cards[3]["detail"] == {"version": 1} and cards[6]["detail"] == {"version": 2}
    assert cards[5]["detail"] == {"fields": ["tags", "title"]}


# --------------------------------------------------------------------------- deletion
def delete(client, take_id):
    return call(client, "DELETE", f"/api/takes/{take_id}")


def test_who_may_delete_which_take(app, people):
    expert, expert2, admin = signed_in(app, "expert"), signed_in(app, "expert2"), signed_in(app, "admin")
    trainee, technician = signed_in(app, "trainee"), signed_in(app, "technician")
    card_id, published_reference = published_card(app, expert)
    draft = call(expert, "POST", "/api/workcards", {"title": "Draft card"}).get_json()["id"]
    draft_reference = fake_take(app, "expert", draft, "reference")
    assert call(expert, "POST", f"/api/workcards/{draft}/reference", {"take_id": draft_reference}).status_code == 200
    mine = fake_take(app, "trainee", card_id, "attempt")
    other = fake_take(app, "trainee2", card_id, "attempt")
    technician_free = fake_take(app, "technician", None, "free")
    expert_free = fake_take(app, "expert", None, "free")
    with app.app_context():
        db.session.add(Comparison(attempt_id=mine, reference_id=published_reference, work_card_version=1, score=91.0))
        db.session.commit()

    def can_delete(client, take_id):
        return client.get(f"/api/takes/{take_id}").get_json()["can_delete"]

    # Trainees: their own attempts only; another trainee's attempt is not even found.
    assert delete(trainee, other).status_code == 404
    refused = delete(trainee, published_reference)
    assert refused.status_code == 403 and "own attempts" in refused.get_json()["error"]
    assert can_delete(trainee, mine) and not can_delete(trainee, published_reference)
    # Technicians: the free takes they recorded.
    assert delete(technician, other).status_code == 404
    assert delete(technician, expert_free).status_code == 403 and not can_delete(technician, expert_free)
    assert can_delete(technician, technician_free)
    # Experts: any take but a card's reference (the card is named).
    for take_id, title in ((published_reference, "Lift the box"), (draft_reference, "Draft card")):
        refused = delete(expert2, take_id)
        assert refused.status_code == 403 and title in refused.get_json()["error"], refused.get_json()
        assert not can_delete(expert2, take_id)
    # Admins: anything but a published version's reference.
    refused = delete(admin, published_reference)
    assert refused.status_code == 403 and "Lift the box" in refused.get_json()["error"]
    assert not can_delete(admin, published_reference) and can_delete(admin, draft_reference)
    assert call(trainee, "DELETE", f"/api/takes/{mine}", csrf=False).status_code == 400
    assert take_folder(app, mine).is_dir()  # without the CSRF token nothing happened

    for client, take_id in ((trainee, mine), (technician, technician_free), (expert2, other),
                            (admin, draft_reference), (expert, expert_free)):
        reply = delete(client, take_id)
        assert reply.status_code == 200 and reply.get_json() == {"deleted": take_id}, reply.get_json()
        assert not take_folder(app, take_id).exists()
        assert client.get(f"/api/takes/{take_id}").status_code == 404
        assert delete(client, take_id).status_code == 404
    with app.app_context():
        assert db.session.scalars(db.select(Comparison)).all() == []
        assert db.session.get(WorkCard, draft).reference_take_id is None     # the draft lost its reference
        assert db.session.get(Take, published_reference) is not None
    assert take_folder(app, published_reference).is_dir()
    assert expert.get(f"/api/workcards/{draft}").get_json()["reference_take_id"] is None

    deleted = rows(app, "take.delete")
    assert [(e["user"], e["role"], e["target_id"]) for e in deleted] == [
        ("trainee", "trainee", mine), ("technician", "technician", technician_free), ("expert2", "expert", other),
        ("admin", "admin", draft_reference), ("expert", "expert", expert_free)]
    assert deleted[0]["detail"] == {"kind": "attempt", "owner": "trainee", "work_card_id": card_id}
    assert deleted[2]["detail"] == {"kind": "attempt", "owner": "trainee2", "work_card_id": card_id}
    assert deleted[3]["detail"] == {"kind": "reference", "owner": "expert", "work_card_id": draft}
    assert deleted[4]["detail"] == {"kind": "free", "owner": "expert", "work_card_id": None}


def test_a_take_being_recorded_or_processed_is_not_deleted(app, people):
    admin = signed_in(app, "admin")
    take_id = fake_take(app, "technician", None, "free")
    for field, value in (("status", "recording"), ("processing", "queued"), ("processing", "running")):
        with app.app_context():
            take = db.session.get(Take, take_id)
            take.status, take.processing = "complete", "done"
            setattr(take, field, value)
            db.session.commit()
        reply = delete(admin, take_id)
        assert reply.status_code == 409 and "recorded or processed" in reply.get_json()["error"], (field, value)
        assert take_folder(app, take_id).is_dir()
    with app.app_context():
        db.session.get(Take, take_id).processing = "failed"
        db.session.commit()
    assert delete(admin, take_id).status_code == 200
    assert [e["target_id"] for e in rows(app, "take.delete")] == [take_id]


def test_the_take_page_offers_deletion_to_whoever_may(app, people):
    take_id = fake_take(app, "technician", None, "free")
    technician, expert2 = signed_in(app, "technician"), signed_in(app, "expert2")
    page = technician.get(f"/takes/{take_id}").get_data(as_text=True)
    assert 'id="take-delete"' in page and 'id="take-delete-yes"' in page and "Supprimer" in page
    assert technician.get(f"/api/takes/{take_id}").get_json()["can_delete"] is True
    assert expert2.get(f"/api/takes/{take_id}").get_json()["can_delete"] is True
    assert signed_in(app, "trainee").get(f"/api/takes/{take_id}").status_code == 404


# --------------------------------------------------------------------------- reading the log
@pytest.mark.parametrize("role", ["technician", "expert", "trainee"])
def test_only_admins_read_the_log(app, role):
    client = signed_in(app, role)
    for path in ("/admin/audit", "/api/audit", "/api/audit.csv"):
        assert client.get(path).status_code == 403, path
    assert 'id="nav-audit"' not in client.get("/workcards").get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/api/audit").status_code == 401 and anonymous.get("/api/audit.csv").status_code == 401
    assert anonymous.get("/admin/audit").status_code == 302
    assert not rows(app, "audit.export")


def test_admins_page_through_filter_and_export_the_log(app):
    with app.app_context():
        for k in range(7):
            audit_service.record(f"take.{'export' if k % 2 else 'start'}", "take", f"t{k}", {"k": k},
                                 username="expert" if k < 4 else "trainee", ip="192.0.2.7")
        audit_service.record("calibration.import", "calibration", "=1+1", {"note": "@bad"}, ip="192.0.2.7")
    admin = signed_in(app, "admin")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert 'id="nav-audit"' in page and 'id="audit-table"' in page and 'src="/static/js/audit.js"' in page

    def fetch(query=""):
        reply = admin.get("/api/audit" + query)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    everything = fetch()["events"]
    first = fetch("?limit=3&action=take.")
    assert [e["target_id"] for e in first["events"]] == ["t6", "t5", "t4"] and first["next_before"]
    second = fetch(f"?limit=3&action=take.&before={first['next_before']}")
    third = fetch(f"?limit=3&action=take.&before={second['next_before']}")
    assert [e["target_id"] for e in second["events"] + third["events"]] == ["t3", "t2", "t1", "t0"]
    assert third["next_before"] is None
    assert [e["target_id"] for e in fetch("?action=take.export")["events"]] == ["t5", "t3", "t1"]
    assert [e["target_id"] for e in fetch("?user=trainee&lang=fr")["events"]] == ["t6", "t5", "t4"]
    assert fetch("?action=take.&user=nobody") == {"events": [], "next_before": None}
    assert {"id", "at", "user", "role", "action", "target_type", "target_id", "detail", "ip"} <= set(everything[0])
    for bad in ("limit=0", "limit=501", "limit=many", "before=-3", "before=x", "action=Take!", "action=" + "a" * 41,
                "user=" + "u" * 65):
        reply = admin.get("/api/audit?" + bad)
        assert reply.status_code == 400 and "invalid" in reply.get_json()["error"], bad

    exported = admin.get("/api/audit.csv?action=take.")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert table[0] == list(audit_service.CSV_COLUMNS)
    assert [r[6] for r in table[1:]] == ["t6", "t5", "t4", "t3", "t2", "t1", "t0"]
    whole = list(csv.reader(io.StringIO(admin.get("/api/audit.csv").get_data(as_text=True))))
    by_action = {r[4]: r for r in whole[1:]}
    assert by_action["calibration.import"][6] == "'=1+1"  # a spreadsheet does not run it
    assert by_action["audit.export"][3] == "admin"        # the first export is in the second one
    exports = rows(app, "audit.export")
    assert len(exports) == 2 and exports[0]["detail"] == {"action_prefix": "take.", "username": None}
    assert exports[0]["user"] == "admin" and exports[0]["ip"] == "127.0.0.1"
