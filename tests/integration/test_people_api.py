"""Several people on the real app (SQLite, the real job runner, take folders written by the real
pipeline): the work area kept with the calibration in force (``/api/calibration/work-area``), a
take's people (``GET /api/takes/<id>/people``), choosing its worker after the take (``POST
/api/takes/<id>/person``, processed again for them), a worker chosen in the live view kept in the
take and found again by its processing, and the ``live person`` event."""
from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest
import sqlalchemy as sa

from calibration import store
from calibration.camera import CameraGroup
from calibration.io import load_toml, save_toml
from database.base import db
from database.models import JobRecord
from reconstruction import exports
from reconstruction.pipeline import Options, triangulate_file
from takes.service import set_processing
from takes.tasks import process_take_task
from tests.helpers.accounts import call, create_users, signed_in
from tests.helpers.motion import observe_people, two_people
from tests.helpers.synthetic import camera_ring
from tests.helpers.world import fake_take, make_app, stop_app

FPS = 30.0
FRAMES = 150
WAIT_S = 120


@pytest.fixture(scope="module")
def app(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("people"), video_file)  # cameras idle; the job runner runs
    create_users(app)
    try:
        yield app
    finally:
        stop_app(app)


@pytest.fixture(scope="module")
def scene():
    cameras = [dataclasses.replace(c, name=f"cam{i + 1}") for i, c in enumerate(camera_ring(4))]
    truth = two_people(FRAMES, FPS, seed=0)
    return CameraGroup(cameras), observe_people(cameras, truth, seed=3)


def _activate(app, group: CameraGroup) -> str:
    wizard = app.extensions["vsion"].wizard
    saved = store.save_set(wizard.sets_root, group, note="people")
    store.activate(wizard.sets_root, saved["id"], wizard.active_path)
    return saved["id"]


def _wait_jobs(app, take_id: str, count: int) -> list[JobRecord]:
    deadline = time.monotonic() + WAIT_S
    while True:
        with app.app_context():
            rows = db.session.scalars(sa.select(JobRecord).filter_by(take_id=take_id).order_by(JobRecord.created_at)).all()
            done = [r for r in rows if r.status in ("done", "failed", "cancelled")]
            if len(done) >= count:
                return [(r.status, r.message) for r in done]
        assert time.monotonic() < deadline, f"the jobs of take {take_id} did not finish"
        time.sleep(0.2)


# --------------------------------------------------------------------------- the work area
def test_the_work_area_is_kept_with_the_calibration_in_force(app, scene):
    group, _ = scene
    technician, wizard = signed_in(app, "technician"), app.extensions["vsion"].wizard
    assert call(technician, "PUT", "/api/calibration/work-area", {"x0": 0, "y0": 0, "x1": 1, "y1": 1}).status_code == 400
    set_id = _activate(app, CameraGroup(group.cameras[:2], {}))
    state = technician.get("/api/calibration/work-area").get_json()
    assert state["source"] == "default" and state["set_id"] == set_id and len(state["rig"]["cameras"]) == 2
    assert state["work_area"] == state["default"] and len(state["default"]) == 4

    reply = call(technician, "PUT", "/api/calibration/work-area", {"x0": -0.5, "y0": -1, "x1": 0.75, "y1": 0.5})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["work_area"] == [-0.5, -1.0, 0.75, 0.5] and reply.get_json()["source"] == "saved"
    for path in (wizard.active_path, wizard.sets_root / set_id / "calibration.toml"):
        assert load_toml(path).metadata["work_area"] == [-0.5, -1.0, 0.75, 0.5]
    # The live view takes it up from the calibration in force.
    live = app.extensions["vsion"].live_pose
    assert live._scene_for(live.calibration())[2].as_list() == [-0.5, -1.0, 0.75, 0.5]

    back = call(technician, "DELETE", "/api/calibration/work-area")
    assert back.status_code == 200 and back.get_json()["source"] == "default"
    assert "work_area" not in load_toml(wizard.active_path).metadata


@pytest.mark.parametrize("body, problem", [
    ({"x0": 1, "y0": 0, "x1": 0, "y1": 1}, "x0 < x1"), ({"x0": 0, "y0": 0, "x1": 0.1, "y1": 1}, "at least 0.2 m"),
    ({"x0": 0, "y0": 0, "x1": 101, "y1": 1}, "x1"), ({"x0": 0, "y0": 0, "x1": "1", "y1": 1}, "x1"),
    ({"x0": 0, "y0": 0, "x1": True, "y1": 1}, "x1"), ({"x0": 0, "y0": 0, "x1": 1}, "y1"),
    ({"x0": 0, "y0": 0, "x1": 1, "y1": 1, "z": 0}, "unknown field"), ([0, 0, 1, 1], "payload"),
    ({"x0": 0, "y0": 0, "x1": None, "y1": 1}, "x1")])
def test_bad_work_areas_answer_400_and_change_nothing(app, scene, body, problem):
    group, _ = scene
    technician, wizard = signed_in(app, "technician"), app.extensions["vsion"].wizard
    _activate(app, CameraGroup(group.cameras[:2], {}))
    before = wizard.active_path.read_bytes()
    reply = call(technician, "PUT", "/api/calibration/work-area", body)
    assert reply.status_code == 400 and problem in reply.get_json()["error"], reply.get_json()
    assert wizard.active_path.read_bytes() == before


def test_a_not_a_number_corner_is_refused(app, scene):
    group, _ = scene
    technician = signed_in(app, "technician")
    _activate(app, CameraGroup(group.cameras[:2], {}))
    reply = technician.put("/api/calibration/work-area", data='{"x0": NaN, "y0": 0, "x1": 1, "y1": 1}',
                           content_type="application/json", headers={"X-CSRFToken": _token(technician)})
    assert reply.status_code == 400


def _token(client) -> str:
    from tests.helpers.accounts import token

    return token(client)


# --------------------------------------------------------------------------- a take's people and its worker
def _processed_take(app, scene, owner: str, area) -> str:
    """A take processed by the real pipeline from two synthetic people's keypoints (4 cameras),
    its calibration (with the work area ``area``) in its folder."""
    group, obs = scene
    take_id = fake_take(app, owner, None, "free", seconds=FRAMES / FPS, processed=False)
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    save_toml(CameraGroup(group.cameras, {"work_area": list(area)}), folder / "calibration.toml")
    npz = folder / "processed" / "keypoints2d.npz"
    exports.save_keypoints(npz, exports.Keypoints2D(points=obs.points[:, 0], scores=obs.scores[:, 0], cameras=group.names,
                                                    fps=FPS, offsets=np.zeros(4, np.int64), points_people=obs.points,
                                                    scores_people=obs.scores))
    triangulate_file(npz, load_toml(folder / "calibration.toml"), folder / "processed")
    with app.app_context():
        set_processing(take_id, "done", None, {"frames": FRAMES})
    return take_id


def test_a_takes_worker_is_chosen_again_after_the_take(app, scene):
    take_id = _processed_take(app, scene, "technician", (-2.0, -1.0, 2.0, 0.0))  # one of them walks along y = -0.25 m
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    technician = signed_in(app, "technician")
    people = technician.get(f"/api/takes/{take_id}/people").get_json()
    assert [p["id"] for p in people["people"]] == [1, 2] and people["selection"] == "work_area"
    first = people["person_of_interest"]
    other = 3 - first
    assert len(people["points"][str(other)]) == FRAMES
    assert technician.get(f"/api/takes/{take_id}").get_json()["can_process"] is True

    reply = call(technician, "POST", f"/api/takes/{take_id}/person", {"person_id": other})
    assert reply.status_code == 202, reply.get_json()
    assert _wait_jobs(app, take_id, 1)[-1][0] == "done"
    report = json.loads((folder / "processed" / "report.json").read_text())
    assert report["people"]["person_of_interest"] == other and report["people"]["selection"] == "chosen"
    take_json = json.loads((folder / "take.json").read_text())
    assert take_json["person_choice"]["person"] == other and take_json["person_choice"]["by"] == "technician"
    assert len(take_json["person_hint"]) >= 5
    assert (folder / "processed" / "ergonomics.json").is_file()  # scored again for the new worker
    after = technician.get(f"/api/takes/{take_id}/people").get_json()
    assert after["person_of_interest"] == other and after["choice"]["person"] == other

    # Processed again from scratch, the take finds that person where the choice says they stood.
    options = Options(person_hint=tuple(tuple(r) for r in take_json["person_hint"]))
    again = triangulate_file(folder / "processed" / "keypoints2d.npz", load_toml(folder / "calibration.toml"),
                             folder / "other", options)
    assert again["people"]["person_of_interest"] == other and again["people"]["selection"] == "hint"

    assert call(technician, "POST", f"/api/takes/{take_id}/person", {"person_id": 9}).status_code == 400
    assert call(technician, "POST", f"/api/takes/{take_id}/person", {"person_id": "2"}).status_code == 400
    assert call(technician, "POST", f"/api/takes/{take_id}/person", {"person_id": None}).status_code == 202
    assert _wait_jobs(app, take_id, 2)[-1][0] == "done"
    report = json.loads((folder / "processed" / "report.json").read_text())
    assert report["people"]["person_of_interest"] == first
    assert "person_hint" not in json.loads((folder / "take.json").read_text())


def test_who_may_choose_a_takes_worker(app, scene):
    take_id = _processed_take(app, scene, "technician", (-2.0, -1.0, 2.0, 0.0))
    trainee, expert = signed_in(app, "trainee"), signed_in(app, "expert")
    assert call(trainee, "POST", f"/api/takes/{take_id}/person", {"person_id": 2}).status_code == 404
    assert trainee.get(f"/api/takes/{take_id}/people").status_code == 404
    assert call(expert, "POST", f"/api/takes/{take_id}/person", {"person_id": 2}).status_code == 202
    assert _wait_jobs(app, take_id, 1)[-1][0] == "done"
    single = fake_take(app, "technician", None, "free", seconds=1)  # one person: no people outputs
    technician = signed_in(app, "technician")
    assert technician.get(f"/api/takes/{single}/people").get_json()["people"] == []
    refused = call(technician, "POST", f"/api/takes/{single}/person", {"person_id": 1})
    assert refused.status_code == 400 and "no people to choose from" in refused.get_json()["error"]


def test_a_worker_chosen_in_the_live_view_is_found_again_by_processing(app, scene):
    """The places kept in take.json while recording (``person_hint``) choose the worker of its processing."""
    take_id = _processed_take(app, scene, "technician", (-2.0, -1.0, 2.0, 0.0))
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    other = 3 - json.loads((folder / "processed" / "report.json").read_text())["people"]["person_of_interest"]
    points, times = exports.read_pose3d_csv(folder / "processed" / f"pose3d_p{other}.csv")
    hips = (points[:, 23, :2] + points[:, 24, :2]) / 2
    rows = [[round(float(t), 3), *map(float, xy)] for t, xy in zip(times[::15], hips[::15]) if np.isfinite(xy).all()]
    data = json.loads((folder / "take.json").read_text())
    (folder / "take.json").write_text(json.dumps({**data, "person_hint": rows}))
    report = process_take_task({"take_dir": str(folder), "choose_again": True, "nice": 0}, lambda *a: None)
    assert report["people"]["person_of_interest"] == other and report["people"]["selection"] == "hint"


def test_the_live_person_event(app):
    from web.extensions import socketio

    sio = socketio.test_client(app, flask_test_client=signed_in(app, "trainee"))
    refused = sio.emit("live person", {"person_id": 3}, callback=True)
    assert refused["ok"] is False and refused["code"] == "refused" and "not in view" in refused["message"]
    assert sio.emit("live person", {"person_id": None}, callback=True) == {"ok": True, "chosen": None}
    for bad in ({"person_id": 0}, {"person_id": "1"}, {}, {"person_id": 1, "x": 1}, {"person_id": 10**9}):
        assert sio.emit("live person", bad, callback=True)["code"] == "invalid"
    sio.disconnect()
