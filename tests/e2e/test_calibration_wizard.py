"""The calibration wizard end to end on a real server, with synthetic cameras of known truth.

Four file cameras play rendered videos of a checkerboard: each camera's own intrinsic
positions, then moments seen by several cameras, then the board on the floor. A technician
client drives the wizard over Socket.IO as the page does; the saved calibration is compared
with the truth.
"""
import time

import numpy as np
import pytest
import requests

from calibration.io import load_toml
from tests.helpers.servers import VsionServer
from tests.helpers.studio import compare, wizard_videos

pytestmark = pytest.mark.slow


def linked(names, pairs) -> bool:
    """True when the pairs ("a|b": count) join every camera into one group."""
    group = {names[0]}
    for _ in names:
        for pair in pairs:
            a, b = pair.split("|")
            if a in group or b in group:
                group |= {a, b}
    return group == set(names)


def more_views(events, camera: int, wanted: int, timeout: float) -> int:
    """Let the wizard capture views of ``camera`` until it has ``wanted`` or ``timeout`` s pass (a
    position too near an earlier one is not captured); returns how many it has."""
    deadline = time.monotonic() + timeout
    while True:
        seen = [d["captured"] for e, d in list(events.events) if e == "calibration live" and d["camera"] == camera]
        if (seen and seen[-1] >= wanted) or time.monotonic() > deadline:
            return seen[-1] if seen else 0
        time.sleep(0.5)


@pytest.fixture(scope="module")
def studio():
    return wizard_videos()


@pytest.fixture(scope="module")
def server(studio, tmp_path_factory):
    cams = [{"name": cam.name, "url": str(path)} for cam, path in zip(studio.truth, studio.paths)]
    vsion = VsionServer(tmp_path_factory.mktemp("wizard"), cams, users={"tech": "technician", "eve": "trainee"})
    vsion.start()
    vsion.wait_connected(len(cams))
    yield vsion
    vsion.stop()


def test_wizard_refuses_other_roles_and_bad_payloads(server):
    trainee = server.login("eve")
    assert trainee.get(server.url + "/calibration").status_code == 403
    assert trainee.get(server.url + "/api/calibrations").status_code == 403
    events = server.socket(trainee)
    refused = events.call("calibration begin", {})
    assert not refused["ok"] and refused["code"] == "forbidden"
    events.close()

    tech = server.login("tech")
    events = server.socket(tech)
    for payload in ({"step": "bogus"}, {"step": "camera", "camera": 9}, {"step": "camera", "camera": "0"},
                    {"step": "extrinsics", "extra": 1}):
        answer = events.call("calibration focus", payload)
        assert not answer["ok"] and answer["code"] == "invalid", payload
    early = events.call("calibration save", {})  # nothing solved yet
    assert not early["ok"] and early["code"] == "refused" and "run the calibration first" in early["message"]
    events.close()
    assert tech.get(server.url + "/api/calibrations/..%2F..%2Fetc").status_code == 404
    assert tech.get(server.url + "/api/calibrations/20260101-000000").status_code == 404
    token_free = requests.post(server.url + "/api/calibrations/20260101-000000/activate", cookies=tech.cookies)
    assert token_free.status_code == 400  # no CSRF token


def test_wizard_calibrates_the_studio(server, studio, record_property):
    events = server.socket(server.login("tech"))
    begun = events.call("calibration begin", {})
    assert begun["ok"] and begun["board"] == {"cols": 9, "rows": 6, "square_mm": 115.0}
    fresh = events.call("calibration session", {"mode": "new"})  # a new session, solved from scratch
    assert fresh["ok"] and fresh["state"]["mode"] == "full" and fresh["state"]["moments"]["moments"] == 0
    assert all(c["captured"] == 0 and c["result"] is None for c in fresh["state"]["intrinsics"].values())
    patience = 4 * studio.loop_s  # two loops of the videos are enough on an idle machine; CI machines are shared

    # Intrinsics, camera by camera, with automatic capture: six views at least (the least the wizard
    # takes), then the positions the videos show within one more loop.
    for i, cam in enumerate(studio.truth):
        assert events.call("calibration focus", {"step": "camera", "camera": i})["ok"]
        events.wait_for("calibration live", lambda d, i=i: d["camera"] == i and d["captured"] >= 6, timeout=patience)
        more_views(events, i, studio.intrinsic_views, studio.loop_s)
        done = events.call("calibration intrinsics", {"camera": i})
        assert done["ok"], done
        result = done["result"]
        assert result["rms_px"] < 0.3 and result["used"] >= max(6, result["views"] - 2)
        assert abs(result["fx"] / cam.matrix[0, 0] - 1) < 0.01

    # Moments seen by several cameras at once.
    assert events.call("calibration focus", {"step": "extrinsics"})["ok"]
    names = [c.name for c in studio.truth]
    events.wait_for("calibration moments", lambda d: d["moments"] >= 7 and linked(names, d["pairs"]), timeout=patience)

    # The board on the floor: wait until a camera sees it there, then capture the origin.
    assert events.call("calibration focus", {"step": "floor"})["ok"]
    watcher = [c.name for c in studio.truth].index(next(iter(studio.floor_corners)))
    deadline = time.monotonic() + patience
    while True:
        seen = events.call("calibration check", {"camera": watcher})
        truth = studio.floor_corners[studio.truth[watcher].name]
        if seen["found"] and np.abs(np.array(seen["corners"]) - truth).max() < 3:
            # On a loaded machine the board may have moved on before the capture: try again then.
            floor = events.call("calibration floor", {})
            if floor["ok"] and studio.truth[watcher].name in floor["cameras"]:
                break
        assert time.monotonic() < deadline, "the floor board never appeared"
        time.sleep(0.3)

    # The joint solve refines the intrinsics too (the wizard's switch): from a handful of views each,
    # a camera's lens alone left relative rotations up to 0.201 deg off on a loaded machine.
    solved = events.call("calibration solve", {"refine_intrinsics": True}, timeout=300)
    assert solved["ok"], solved
    rig = solved["result"]
    assert all(c["median_px"] < 0.5 for c in rig["cameras"])
    saved = events.call("calibration save", {"note": "studio"})
    assert saved["ok"]
    events.close()

    # The saved set is in force, listed, and matches the truth.
    session = server.login("tech")
    sets = session.get(server.url + "/api/calibrations").json()
    assert sets[0]["id"] == saved["set"]["id"] and sets[0]["active"] and sets[0]["note"] == "studio"
    group = load_toml(server.data_dir / "calibration.toml")
    errors = compare(studio.truth, list(group.cameras))
    for key in ("camera_centre_error_mm_max", "relative_rotation_error_deg_max", "focal_error_pct_max"):
        record_property(key, round(errors[key], 4))  # in the JUnit report: what the wizard reached here
    assert errors["camera_centre_error_mm_max"] < 10
    assert errors["relative_rotation_error_deg_max"] < 0.2
    assert errors["focal_error_pct_max"] < 0.5
    world = max(np.linalg.norm(c.center - t.center) for c, t in zip(group.cameras, studio.truth))
    assert world < 0.02  # the floor board set the world origin and Z up
    same = session.get(server.url + f"/api/calibrations/compare?a={sets[0]['id']}&b={sets[0]['id']}").json()
    assert all(c["centre_shift_mm"] == 0 for c in same["cameras"])
    detail = session.get(server.url + f"/api/calibrations/{sets[0]['id']}").json()
    assert [c["name"] for c in detail["rig"]["cameras"]] == [c.name for c in studio.truth]


def test_wizard_page_in_a_browser(server, studio):
    """After the run above: the page resumes the session, checks the board, calibrates a camera,
    shows the rig in 3D, saves a second set and compares the two."""
    from playwright.sync_api import expect, sync_playwright

    from tests.helpers.browser import CHROMIUM_ARGS, shot

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server.url + "/login")
        page.fill("#username", "tech")
        page.fill("#password", server.passwords["tech"])
        page.click("#sign-in")
        page.click("#nav-calibration")
        page.wait_for_selector("body[data-ready='1']")  # resumed where the wizard was
        page.click("#step-camera-0")
        expect(page.locator("#intr-check")).to_be_visible()
        expect(page.locator("#intr-board-line")).to_contain_text("11,5 cm")
        expect(page.locator("#intr-board-line")).to_contain_text("9 x 6")
        page.click("#intr-check")
        expect(page.locator("#calib-message")).not_to_be_empty()
        expect(page.locator("#intr-run")).to_be_enabled(timeout=30000)
        shot(page, "calibration-camera")
        page.click("#intr-run")
        expect(page.locator("#res-rms")).to_contain_text("0,", timeout=60000)
        page.click("#step-extrinsics")
        expect(page.locator("#pair-table")).to_be_visible()
        expect(page.locator("#camera-graph")).to_be_visible()
        shot(page, "calibration-extrinsics")
        page.click("#ext-run")  # camera 1's new intrinsics made the last solve stale: solve again
        expect(page.locator("#ext-result")).to_be_visible(timeout=120000)
        page.click("#step-result")
        expect(page.locator("#result-table tbody tr")).to_have_count(len(studio.truth), timeout=120000)
        expect(page.locator("#rig3d canvas")).to_have_count(1)
        page.fill("#save-note", "second")
        page.click("#save")
        expect(page.locator("#saved-info")).to_be_visible(timeout=30000)
        page.click("#sets-refresh")
        rows = page.locator("#sets-body tr")
        expect(rows).to_have_count(2)
        boxes = page.locator("#sets-body input[type=checkbox]")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.click("#compare")
        expect(page.locator("#compare-table tbody tr")).to_have_count(len(studio.truth))
        shot(page, "calibration-result")
        assert not problems, problems
        browser.close()
