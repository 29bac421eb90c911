"""Calibration from a recorded take through the API, on a real server whose four file cameras play
the synthetic studio's board session (each camera's own positions, then moments seen together,
then the board on the floor): the technician records a take, then calibrates each camera's
intrinsics from it (background jobs, used in the wizard's session) and every position (a new
calibration set). The result meets the live wizard's accuracy (test_calibration_wizard.py)."""
import re
import time

import pytest

from calibration import store
from tests.helpers.studio import compare, wizard_videos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def studio():
    return wizard_videos()


@pytest.fixture(scope="module")
def server(studio, tmp_path_factory):
    from tests.helpers.servers import VsionServer

    cams = [{"name": cam.name, "url": str(path)} for cam, path in zip(studio.truth, studio.paths)]
    vsion = VsionServer(tmp_path_factory.mktemp("from-take"), cams)
    vsion.start()
    vsion.wait_connected(len(cams))
    yield vsion
    vsion.stop()


class Api:
    def __init__(self, server):
        self.server, self.session = server, server.login("tech")
        page = self.session.get(server.url + "/calibration").text
        self.token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    def post(self, path: str, body: dict):
        return self.session.post(self.server.url + path, json=body, headers={"X-CSRFToken": self.token}, timeout=60)

    def job(self, take_id: str, job_id: str | None = None, timeout: float = 600) -> dict:
        """The take's job (``job_id``, else its newest) once finished."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.session.get(self.server.url + f"/api/jobs?take={take_id}").json()["jobs"]
            job = next((j for j in jobs if job_id is None or j["id"] == job_id), None)
            if job is not None and job["status"] in ("done", "failed", "cancelled"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} of take {take_id} did not finish: {job}"
            time.sleep(0.5)


def record_board_session(server, studio) -> str:
    """A take of one whole loop of the videos (every part of the board session), as a technician records it."""
    events = server.socket(server.login("tech"))
    started = events.call("start recording", {"label": "board session"})
    assert started["ok"], started
    time.sleep(studio.loop_s + 3)
    stopped = events.call("stop recording", {})
    assert stopped["ok"] and stopped["status"] == "complete", stopped
    events.close()
    return stopped["take_id"]


def test_calibration_from_a_recorded_take(server, studio, record_property):
    api = Api(server)
    take_id = record_board_session(server, studio)
    processed = api.job(take_id)  # no calibration was in force: its processing stops at once
    assert processed["kind"] == "process" and processed["status"] == "failed"

    started = time.monotonic()
    events = server.socket(api.session)
    for cam in studio.truth:
        queued = api.post("/api/calibration/from-take", {"take_id": take_id, "mode": "intrinsics", "camera": cam.name})
        assert queued.status_code == 202, queued.text
        job = api.job(take_id, queued.json()["id"])
        assert job["status"] == "done", job
        assert job["report"]["mode"] == "intrinsics" and job["report"]["camera"] == cam.name
        adopted = events.call("calibration adopt", {"job_id": job["id"]})
        assert adopted["ok"], adopted
        assert adopted["result"]["rms_px"] < 0.3 and abs(adopted["result"]["fx"] / cam.matrix[0, 0] - 1) < 0.01
    intrinsics_s = time.monotonic() - started
    state = events.call("calibration begin", {})["state"]
    assert all(state["intrinsics"][c.name]["result"] is not None for c in studio.truth)
    events.close()

    queued = api.post("/api/calibration/from-take", {"take_id": take_id, "mode": "positions"})
    assert queued.status_code == 202, queued.text
    job = api.job(take_id, queued.json()["id"])
    total_s = time.monotonic() - started
    assert job["status"] == "done", job
    set_id = job["report"]["calibration_set"]
    group, meta = store.load_set(server.data_dir / "calibration" / "sets", set_id)
    assert meta["note"] == f"from take {take_id}" and not meta.get("active")
    errors = compare(studio.truth, [group[c.name] for c in studio.truth])
    for key in ("camera_centre_error_mm_max", "relative_rotation_error_deg_max", "focal_error_pct_max"):
        record_property(key, round(errors[key], 4))
    record_property("intrinsics_from_take_s", round(intrinsics_s, 1))
    record_property("calibration_from_take_s", round(total_s, 1))
    # The live wizard's bounds (test_wizard_calibrates_the_studio).
    assert errors["camera_centre_error_mm_max"] < 10
    assert errors["relative_rotation_error_deg_max"] < 0.2
    assert errors["focal_error_pct_max"] < 0.5
    shown = api.session.get(server.url + f"/api/calibrations/{set_id}").json()
    assert [c["name"] for c in shown["rig"]["cameras"]] == [c.name for c in studio.truth]
