"""Live pose over Socket.IO and the jobs endpoint: in process on file cameras, then a real demo server."""
from __future__ import annotations

import json
import time

import psutil
import pytest
import requests

from tests.helpers.accounts import login
from tests.helpers.servers import DemoServer, EventClient
from web.extensions import socketio

ROLES = ("admin", "technician", "expert", "trainee")


def _pose_errors(sio) -> list[dict]:
    return [e["args"][0] for e in sio.get_received() if e["name"] == "live pose error"]


# --------------------------------------------------------------------------- in process (fast)
def test_live_pose_refused_without_login(app, client):
    sio = socketio.test_client(app, flask_test_client=client)
    assert not sio.is_connected()
    assert not app.extensions["vsion"].live_pose.wanted


@pytest.mark.parametrize("payload", [{"enabled": "yes"}, {}, {"enabled": True, "x": 1}, ["enabled", True], "on",
                                     {"enabled": 1}], ids=["string", "empty", "extra", "list", "text", "number"])
def test_bad_payloads_change_nothing(app, client, payload):
    live_pose = app.extensions["vsion"].live_pose
    login(client, "trainee")
    sio = socketio.test_client(app, flask_test_client=client)
    sio.get_received()
    ack = sio.emit("live pose", payload, callback=True)
    assert ack["ok"] is False and ack["code"] == "invalid" and ack["event"] == "live pose"
    assert ack["message"].startswith("invalid payload")
    assert _pose_errors(sio)[-1] == {k: ack[k] for k in ("event", "code", "message")}
    assert not live_pose.wanted
    # Nor does a bad payload turn live pose off for a client that enabled it.
    assert sio.emit("live pose", {"enabled": True}, callback=True)["ok"]
    again = sio.emit("live pose", payload, callback=True)
    assert again["ok"] is False and again["code"] == "invalid"
    assert live_pose.wanted
    assert sio.emit("live pose", {"enabled": False}, callback=True)["ok"]
    assert not live_pose.wanted
    sio.disconnect()


def test_extra_arguments_are_refused(app, client):
    login(client)
    sio = socketio.test_client(app, flask_test_client=client)
    ack = sio.emit("live pose", {"enabled": True}, 1, callback=True)
    assert ack["ok"] is False and ack["code"] == "invalid"
    assert not app.extensions["vsion"].live_pose.wanted
    sio.disconnect()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_toggle_live_pose(app, client, role):
    live_pose = app.extensions["vsion"].live_pose
    login(client, role)
    sio = socketio.test_client(app, flask_test_client=client)
    on = sio.emit("live pose", {"enabled": True}, callback=True)
    assert on == {"ok": True, "enabled": True, "available": True, "calibrated": False,
                  "message": "live_pose_no_calibration", "chosen": None}
    assert live_pose.wanted
    off = sio.emit("live pose", {"enabled": False}, callback=True)
    assert off["ok"] is True and off["enabled"] is False and off["calibrated"] is False
    assert not live_pose.wanted
    assert not _pose_errors(sio)
    sio.disconnect()


def test_disconnect_forgets_the_client(app, client):
    live_pose = app.extensions["vsion"].live_pose
    login(client, "expert")
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.emit("live pose", {"enabled": True}, callback=True)["ok"]
    assert live_pose.wanted
    sio.disconnect()
    assert not live_pose.wanted


def test_api_jobs_needs_login(client):
    reply = client.get("/api/jobs")
    assert reply.status_code == 401 and reply.get_json() == {"error": "login required"}


def test_the_live_skeletons_posture_scores():
    """What the pose3d payload carries as ``ergonomics``: the scores of scoring.ergonomics.live_scores
    for the skeleton as the payload holds it (None for a missing joint), None without a skeleton."""
    import numpy as np

    from live.ergonomics import pose_ergonomics
    from scoring.ergonomics import live_scores
    from tests.helpers.motion import person_motion

    frame = person_motion(30, 30.0, seed=1, task="lift")[15]
    points3d = [[round(float(v), 4) for v in p] for p in frame]
    points3d[0] = None  # the nose unseen
    got = pose_ergonomics(points3d)
    expected = live_scores(np.array([p if p else [np.nan] * 3 for p in points3d]))
    assert got == {key: expected[key] for key in ("rula_score", "rula_action_level", "reba_score", "reba_risk_level")}
    assert 1 <= got["rula_score"] <= 7 and 1 <= got["reba_score"] <= 15
    assert pose_ergonomics(None) is None and pose_ergonomics([]) is None
    assert pose_ergonomics([[0, 0]] * 33) is None  # not 3D: skipped, live pose goes on
    assert pose_ergonomics([None] * 33)["rula_score"] is None


@pytest.mark.parametrize("role", ROLES)
def test_api_jobs_lists_no_job_at_first(client, role):
    login(client, role)
    reply = client.get("/api/jobs")
    assert reply.status_code == 200 and reply.get_json()["jobs"] == [] and reply.get_json()["total"] == 0


# --------------------------------------------------------------------------- a real demo server (slow)
@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    server = DemoServer(tmp_path_factory.mktemp("live-pose-demo"))
    try:
        yield server.start()
        code = server.terminate()
        assert code == 0, f"exit code {code} on SIGTERM:\n{server.log()}"
    finally:
        server.kill()  # never leave a server behind, whatever failed


@pytest.fixture
def clients(demo_server):
    """Socket.IO clients opened by a test, closed at its end."""
    opened = []

    def connect(role: str) -> tuple[requests.Session, EventClient]:
        session = demo_server.login(role)
        opened.append(EventClient(demo_server.url, session))
        return session, opened[-1]

    yield connect
    for client in opened:
        if client.client.connected:
            client.close()


def _plausible_pose(event: dict) -> bool:
    """A ``pose3d`` event with 2D landmarks from most cameras and a skeleton in metres."""
    if not event.get("calibrated") or len(event.get("cameras") or []) != 4 or not event.get("rate", 0) > 0:
        return False
    full = 0
    for cam in event["cameras"]:
        points = cam["points"]
        if points is None:
            continue
        if len(points) != 33 or any(len(p) != 3 for p in points):
            return False
        inside = sum(0 <= x <= 1 and 0 <= y <= 1 for x, y, _ in points)
        full += inside >= 25
    if full < 3:
        return False
    joints = [p for p in (event.get("points3d") or []) if p is not None]
    return len(joints) >= 25 and all(abs(x) < 5 and abs(y) < 5 and -0.5 < z < 2.5 for x, y, z in joints)


def _children_cpu_s(pid: int, seconds: float) -> float:
    """CPU time (s) the child processes of ``pid`` (the live pose workers) use in the next ``seconds``."""

    def total() -> dict[int, float]:
        times = {}
        for child in psutil.Process(pid).children(recursive=True):
            try:
                cpu = child.cpu_times()
                times[child.pid] = cpu.user + cpu.system
            except psutil.NoSuchProcess:
                pass
        return times

    before = total()
    time.sleep(seconds)
    after = total()
    return sum(t - before.get(child, 0.0) for child, t in after.items())


def _pose_events(client: EventClient) -> list[dict]:
    return [data for name, data in list(client.events) if name == "pose3d"]


@pytest.mark.slow
def test_live_pose_on_the_demo_cameras(demo_server, clients):
    session, viewer = clients("technician")
    _, bystander = clients("expert")  # signed in, never asks for live pose
    t0 = time.monotonic()
    ack = viewer.call("live pose", {"enabled": True})
    assert ack["ok"] and ack["enabled"] and ack["available"] and ack["calibrated"], ack

    event = viewer.wait_for("pose3d", _plausible_pose, timeout=90)
    joints = [p for p in event["points3d"] if p is not None]
    print(f"first plausible pose3d after {time.monotonic() - t0:.1f} s: rate {event['rate']} Hz, {len(joints)} joints, "
          f"z {min(p[2] for p in joints):.2f}..{max(p[2] for p in joints):.2f} m")
    assert [cam["index"] for cam in event["cameras"]] == [0, 1, 2, 3]
    ergonomics = event["ergonomics"]  # the posture scores of that skeleton, for the live page
    assert set(ergonomics) == {"rula_score", "rula_action_level", "reba_score", "reba_risk_level"}
    assert ergonomics["reba_score"] is None or 1 <= ergonomics["reba_score"] <= 15, ergonomics
    assert isinstance(event["seq"], int) and isinstance(event["t"], int)

    # Capture is not slowed by live pose: every camera at its full rate, nothing dropped.
    viewer.wait_for("pose3d", lambda e: e["seq"] >= event["seq"] + 5, timeout=30)
    cameras = session.get(demo_server.url + "/api/cameras", timeout=10).json()
    print("while live pose runs:", [(c["name"], c["fps"], c["dropped"]) for c in cameras],
          f"pose rate {_pose_events(viewer)[-1]['rate']} Hz")
    assert len(cameras) == 4
    for cam in cameras:
        assert cam["status"] == "connected" and cam["fps"] >= 25 and cam["dropped"] == 0, cameras
    assert len(_pose_events(viewer)) >= 5
    assert not _pose_events(bystander)  # only the clients that asked get the pose
    assert any(name == "camera status" for name, _ in bystander.events)  # ...but it does get the rest

    busy = _children_cpu_s(demo_server.proc.pid, 1.0)
    assert busy > 0.2, f"the pose workers used {busy:.2f} s of CPU in 1 s"  # what the next check rules out

    off = viewer.call("live pose", {"enabled": False})
    assert off["ok"] and off["enabled"] is False
    time.sleep(3)
    count = len(_pose_events(viewer))
    idle = _children_cpu_s(demo_server.proc.pid, 2.0)
    print(f"pose workers' CPU: {busy:.2f} s in 1 s while on, {idle:.2f} s in 2 s from 3 s after off")
    assert idle < 0.2, f"live pose still works after it was turned off ({idle:.2f} s of CPU in 2 s)"
    assert len(_pose_events(viewer)) == count, "pose3d events went on after live pose was turned off"
    assert not _pose_events(bystander)


@pytest.mark.slow
def test_a_take_is_processed_in_the_background(demo_server, clients):
    session, recorder = clients("technician")
    started = recorder.call("start recording", {"label": "live pose test"})
    assert started["ok"] and started["recording"], started
    take_id = started["take_id"]
    time.sleep(3)
    stopped = recorder.call("stop recording", {})
    assert stopped["ok"] and stopped["take_id"] == take_id and stopped["take"]["status"] == "complete", stopped
    take_dir = demo_server.data / "demo" / "takes" / take_id
    assert "folder" not in stopped  # no server path in events: the take id names the folder
    assert (take_dir / "calibration.toml").is_file()  # the calibration in force, kept with the take

    t0 = time.monotonic()
    final = recorder.wait_for("job status", lambda j: j["take_id"] == take_id and j["status"] in ("done", "failed"),
                              timeout=240)
    print(f"take {take_id} processed in {time.monotonic() - t0:.1f} s: {final['report']}")
    assert final["status"] == "done", final
    assert final["kind"] == "process" and final["message"] is None
    # The demo videos loop together, forward then backward (no jump at a seam), so the worker is one
    # person for the whole take; together the people found cover most of it.
    assert final["report"]["reconstructed_pct"] > 30, final["report"]
    assert final["report"]["frames"] >= 60
    assert set(final["report"]) == {"median_reprojection_px", "reconstructed_pct", "mean_segment_cv_pct", "frames",
                                    "safety_score"}
    people = json.loads((take_dir / "processed" / "people.json").read_text())
    covered = sum(p["frames"] for p in people["people"])
    assert covered >= 0.75 * final["report"]["frames"], people
    statuses = [j["status"] for name, j in recorder.events if name == "job status" and j["take_id"] == take_id]
    assert "running" in statuses and statuses.count("done") >= 1

    processed = take_dir / "processed"
    for name in ("keypoints2d.npz", "pose3d.csv", "pose3d.trc", "pose3d.c3d", "report.json"):
        assert (processed / name).is_file() and (processed / name).stat().st_size > 0, name
    jobs = session.get(demo_server.url + "/api/jobs", timeout=10).json()["jobs"]
    assert jobs[0]["take_id"] == take_id and jobs[0]["status"] == "done"


# --------------------------------------------------------------------------- several people: demo --people (slow)
@pytest.fixture(scope="module")
def people_server(tmp_path_factory):
    server = DemoServer(tmp_path_factory.mktemp("live-pose-people"), args=("--people",))
    try:
        yield server.start()
        code = server.terminate()
        assert code == 0, f"exit code {code} on SIGTERM:\n{server.log()}"
    finally:
        server.kill()


def _two_people(event: dict) -> bool:
    """A ``pose3d`` event with two people in 3D, numbered, placed on the floor, each seen by two cameras or more."""
    people = event.get("people") or []
    if len(people) != 2 or not event.get("calibrated"):
        return False
    for person in people:
        joints = [p for p in person["points3d"] if p is not None]
        if not isinstance(person["id"], int) or len(joints) < 20 or person["views"] < 2 or len(person["floor"]) != 2:
            return False
    return True


def _check_people_payload(event: dict) -> None:
    ids = {p["id"] for p in event["people"]}
    assert [p["id"] for p in event["people"] if p["worker"]] == ([event["worker"]] if event["worker"] else [])
    assert event["main"] in ids and len(event["work_area"]) == 4
    assert all(isinstance(p["in_area"], bool) and isinstance(p["chosen"], bool) for p in event["people"])
    for cam in event["cameras"]:  # every 2D person says which 3D person it is; the main person's points stay
        assert {p["id"] for p in cam["people"]} - {None} <= ids
        for person in cam["people"]:
            assert len(person["points"]) == 33 and all(len(p) == 3 for p in person["points"])
        main = [p["points"] for p in cam["people"] if p["id"] == event["main"]]
        assert cam["points"] == (main[0] if main else cam["points"])
    joints = [p for p in event["points3d"] if p is not None]  # the single-person field: the main person
    assert len(joints) >= 20 and isinstance(event["latency_ms"], float) and event["rate"] > 0


@pytest.mark.slow
def test_several_people_live_on_the_demo_people_cameras(people_server):
    session = people_server.login("technician")
    viewer = EventClient(people_server.url, session)
    try:
        ack = viewer.call("live pose", {"enabled": True})
        assert ack["ok"] and ack["calibrated"] and ack["chosen"] is None, ack
        first = viewer.wait_for("pose3d", _two_people, timeout=240)
        _check_people_payload(first)
        # The same two ids over the next frame sets (nobody swaps, nobody is renumbered).
        later = viewer.wait_for("pose3d", lambda e: e["seq"] >= first["seq"] + 6 and _two_people(e), timeout=240)
        assert {p["id"] for p in later["people"]} == {p["id"] for p in first["people"]}
        print(f"two people: ids {sorted(p['id'] for p in later['people'])}, worker {later['worker']}, "
              f"rate {later['rate']} Hz, latency {later['latency_ms']} ms, problems {later['problems']}")

        other = next(p["id"] for p in later["people"] if p["id"] != later["worker"])
        assert viewer.call("live person", {"person_id": other}) == {"ok": True, "chosen": other}
        chosen = viewer.wait_for("pose3d", lambda e: e.get("chosen") == other and e["worker"] == other, timeout=120)
        assert [p["id"] for p in chosen["people"] if p["chosen"]] == [other]
        _check_people_payload(chosen)
        take_id = _record_with_the_chosen_worker(people_server, viewer)
        assert viewer.call("live person", {"person_id": None}) == {"ok": True, "chosen": None}
        viewer.wait_for("pose3d", lambda e: e["seq"] > chosen["seq"] and e.get("chosen") is None, timeout=120)
        viewer.call("live pose", {"enabled": False})  # the take's processing gets the CPU to itself
        _processed_with_the_chosen_worker(people_server, viewer, take_id)
    finally:
        viewer.call("live pose", {"enabled": False})
        viewer.close()


def _record_with_the_chosen_worker(server: DemoServer, viewer: EventClient) -> str:
    """A take recorded while a worker is chosen keeps where they stood; returns its id."""
    started = viewer.call("start recording", {"label": "chosen worker"})
    assert started["ok"], started
    take_id = started["take_id"]
    time.sleep(4)
    stopped = viewer.call("stop recording", {})
    assert stopped["ok"], stopped
    take = json.loads((server.data / "demo-people" / "takes" / take_id / "take.json").read_text())
    assert take["person_hint"] and all(len(row) == 3 and 0 <= row[0] <= 6 for row in take["person_hint"])
    return take_id


def _processed_with_the_chosen_worker(server: DemoServer, viewer: EventClient, take_id: str) -> None:
    """The take's processing takes the chosen worker (found where they stood)."""
    final = viewer.wait_for("job status", lambda j: j["take_id"] == take_id and j["status"] in ("done", "failed"),
                            timeout=900)
    assert final["status"] == "done", final
    report = json.loads((server.data / "demo-people" / "takes" / take_id / "processed" / "report.json").read_text())
    print(f"take {take_id}: people {report['people']['count']}, worker {report['people']['person_of_interest']} "
          f"({report['people']['selection']}), problems {report['people']['problems']}")
    assert report["people"]["selection"] == "hint" and report["people"]["count"] >= 2
