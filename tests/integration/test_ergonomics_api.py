"""Ergonomics in the web app: the take's report with the steps that apply now
(``GET /api/takes/<id>/ergonomics``), the expert's inputs saved with the steps, the safety part
shown with attempts, and the printable ergonomic report of a card.

The real app on idle file cameras, the real SQLite database, take folders written with the real
exporters (the synthetic person of ``tests.helpers.motion``, no MediaPipe), attempts scored by
the real process job's comparison (``run_comparison``).
"""
from __future__ import annotations

import os

import pytest

from takes import ergonomics
from tests.helpers.accounts import call
from tests.helpers.world import ANON, STEPS, build_world, fake_take, make_app, run_comparison, stop_app

LIFT = {"load_kg": 15.0, "lift": True, "coupling": "fair", "frequency_per_min": 2.0, "duration_h": 1.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("ergo"), video_file)
    try:
        yield build_world(app)
    finally:
        stop_app(app)


def report(world, who: str, take_id: str):
    return world.client(who).get(f"/api/takes/{take_id}/ergonomics")


def draft_with_reference(world, seconds: float = 10.0, task: str = "lift") -> tuple[int, str]:
    """A draft card by ``expert`` with a processed reference take and the world's two steps."""
    expert = world.client("expert")
    card_id = call(expert, "POST", "/api/workcards", {"title": "Lift from the floor"}).get_json()["id"]
    reference = fake_take(world.app, "expert", card_id, "reference", seconds=seconds, task=task, seed=3)
    assert call(expert, "POST", f"/api/workcards/{card_id}/reference", {"take_id": reference}).status_code == 200
    assert call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": STEPS}).status_code == 200
    return card_id, reference


# --------------------------------------------------------------------------- who sees what
@pytest.mark.parametrize("variant, allowed", [
    ("reference", {"admin", "technician", "expert", "trainee", "trainee2", "expert2"}),
    ("attempt", {"admin", "expert", "expert2", "trainee"}),
    ("other_attempt", {"admin", "expert", "expert2", "trainee2"}),
    ("free", {"admin", "expert", "expert2", "technician"}),
])
def test_the_report_follows_the_takes_visibility(world, variant, allowed):
    take_id = getattr(world, variant)
    for who in ("admin", "technician", "expert", "trainee", "trainee2", "expert2", ANON):
        reply = report(world, who, take_id)
        if who in allowed:
            assert reply.status_code == 200, (who, reply.get_json())
            assert reply.get_json()["frames"] > 0
        elif who == ANON:
            assert reply.status_code == 401 and "error" in reply.get_json()
        else:
            assert reply.status_code == 404 and reply.get_json() == {"error": "not found"}, who


def test_409_until_the_take_is_processed(world):
    take_id = fake_take(world.app, "technician", None, "free", seconds=2, processed=False)
    reply = report(world, "technician", take_id)
    assert reply.status_code == 409 and "not processed" in reply.get_json()["error"]
    detail = world.client("technician").get(f"/api/takes/{take_id}").get_json()
    assert {"mot", "ergonomics", "bvh"} <= set(detail["downloads"])
    assert world.client("technician").get(detail["downloads"]["mot"]).status_code == 404


# --------------------------------------------------------------------------- the steps that apply
def test_a_reference_gets_its_cards_steps_and_an_attempt_the_same_steps_moved_onto_it(world):
    ref = report(world, "trainee", world.reference).get_json()
    assert [s["name"] for s in ref["steps"]] == [s["name"] for s in STEPS]
    assert [(s["start_s"], s["end_s"]) for s in ref["steps"]] == [(s["start_s"], s["end_s"]) for s in STEPS]
    assert set(ref) >= {"series", "whole", "steps", "warnings", "niosh", "unreliable", "fps", "frames"}
    assert len(ref["series"]["rula_action_level"]) == ref["frames"] == len(ref["series"]["angles"]["trunk_flexion"])
    assert {"trunk_twist", "left_wrist_flexion"} <= set(ref["unreliable"]) and "trunk_flexion" not in ref["unreliable"]

    attempt = report(world, "trainee", world.attempt).get_json()  # recorded 1.2 times slower
    assert [s["name"] for s in attempt["steps"]] == [s["name"] for s in STEPS]
    assert attempt["steps"][1]["end_s"] > STEPS[1]["end_s"] + 0.5, attempt["steps"][1]
    assert report(world, "technician", world.free).get_json()["steps"] == []


def test_new_steps_and_inputs_give_a_new_report(world):
    card_id, reference = draft_with_reference(world)
    expert = world.client("expert")
    misses = ergonomics.cache_info().misses
    first = report(world, "expert", reference).get_json()
    again = report(world, "expert", reference).get_json()
    assert first == again and ergonomics.cache_info().misses == misses + 1  # the second came from the cache
    assert first["niosh"] == [] and first["steps"][1]["inputs"]["load_kg"] == 0

    steps = [STEPS[0], {**STEPS[1], "ergonomics": LIFT}]
    assert call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": steps}).status_code == 200
    lifted = report(world, "expert", reference).get_json()
    assert ergonomics.cache_info().misses == misses + 2
    assert lifted["steps"][1]["inputs"]["load_kg"] == 15.0 and lifted["steps"][1]["inputs"]["coupling"] == "fair"
    assert [lift["step"] for lift in lifted["niosh"]] == [2] and lifted["niosh"][0]["rwl_kg"] > 0
    assert lifted["niosh"][0]["lifting_index"] == pytest.approx(15.0 / lifted["niosh"][0]["rwl_kg"], abs=0.01)

    # Processing the take again (a new pose3d.csv) is a new report too.
    csv_path = world.app.extensions["vsion"].processor.takes_dir / reference / "processed" / "pose3d.csv"
    stat = csv_path.stat()
    os.utime(csv_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert report(world, "expert", reference).get_json() == lifted
    assert ergonomics.cache_info().misses == misses + 3


# --------------------------------------------------------------------------- the expert's inputs
def test_the_card_editor_saves_the_inputs_and_publishing_keeps_them(world):
    card_id, reference = draft_with_reference(world)
    expert = world.client("expert")
    steps = [STEPS[0], {**STEPS[1], "ergonomics": LIFT}]
    saved = call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": steps}).get_json()
    assert "ergonomics" not in saved["steps"][0]
    assert saved["steps"][1]["ergonomics"]["load_kg"] == 15.0 and saved["steps"][1]["ergonomics"]["lift"] is True
    assert saved["steps"][1]["ergonomics"]["shock"] is False  # the defaults are stored with what was given
    for bad in ({"load_kg": -1}, {"coupling": "sticky"}, {"frequency_per_min": 100}, {"duration_h": 0},
                {"weight": 3}, {"lift": "yes please"}):
        reply = call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": [{**STEPS[0], "ergonomics": bad}]})
        assert reply.status_code == 400 and "error" in reply.get_json(), bad
    assert call(expert, "GET", f"/api/workcards/{card_id}").get_json()["steps"][1]["ergonomics"]["load_kg"] == 15.0
    assert call(expert, "POST", f"/api/workcards/{card_id}/publish", {}).status_code == 200
    seen = call(world.client("trainee"), "GET", f"/api/workcards/{card_id}").get_json()
    assert seen["steps"][1]["ergonomics"]["lift"] is True
    assert [lift["step"] for lift in report(world, "trainee", reference).get_json()["niosh"]] == [2]


# --------------------------------------------------------------------------- a trainee's attempt
def test_an_attempt_that_bends_more_gets_feedback_and_a_safety_score(world):
    card_id, reference = draft_with_reference(world, task="walk")
    expert = world.client("expert")
    steps = [STEPS[0], {**STEPS[1], "ergonomics": LIFT}]
    assert call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": steps}).status_code == 200
    assert call(expert, "POST", f"/api/workcards/{card_id}/publish", {}).status_code == 200
    attempt = fake_take(world.app, "trainee", card_id, "attempt", task="lift", seed=3)
    run_comparison(world.app, attempt)
    trainee = world.client("trainee")
    comparison = trainee.get(f"/api/takes/{attempt}/comparison").get_json()
    assert 0 <= comparison["safety_score"] <= 100 and comparison["high_risk_s"] is not None
    assert comparison["feedback"], comparison
    message = comparison["feedback"][0]
    assert message["key"] == "exposure_longer" and message["text"]["en"].startswith("Step ")
    assert message["text"]["fr"].startswith("Étape ")
    listed = {t["id"]: t for t in trainee.get(f"/api/workcards/{card_id}/takes").get_json()["takes"]}
    assert listed[attempt]["safety_score"] == comparison["safety_score"]
    progress = trainee.get(f"/api/workcards/{card_id}/progress").get_json()["attempts"]
    assert progress[-1]["safety_score"] == comparison["safety_score"]
    detail = trainee.get(f"/api/takes/{attempt}").get_json()
    assert detail["safety_score"] == comparison["safety_score"]
    for what in ("mot", "ergonomics", "bvh"):
        assert trainee.get(detail["downloads"][what]).status_code == 200, what
    page = trainee.get(f"/workcards/{card_id}/summary").get_data(as_text=True)
    assert "Safety" in page or "Sécurité" in page


# --------------------------------------------------------------------------- the printable report
def test_the_printable_report_shows_steps_lifts_and_worst_moments(world):
    card_id, reference = draft_with_reference(world)
    expert = world.client("expert")
    steps = [STEPS[0], {**STEPS[1], "ergonomics": LIFT}]
    assert call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": steps}).status_code == 200
    page = expert.get(f"/workcards/{card_id}/ergonomics?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="ergo-steps"' in html and 'id="ergo-niosh"' in html and "Reach" in html and "Lift" in html
    assert html.count('<figure class="ergo-moment"') >= 2 and html.count('<line class="near"') >= 10
    assert "Ergonomic report" in html
    french = expert.get(f"/workcards/{card_id}/ergonomics?lang=fr").get_data(as_text=True)
    assert "Rapport ergonomique" in french
    assert world.client("trainee").get(f"/workcards/{card_id}/ergonomics").status_code == 404  # a draft

    empty = call(expert, "POST", "/api/workcards", {"title": "Nothing yet"}).get_json()["id"]
    html = expert.get(f"/workcards/{empty}/ergonomics?lang=en").get_data(as_text=True)
    assert 'id="ergo-none"' in html and "no reference take" in html


def test_side_view_puts_the_head_above_the_feet_and_the_person_facing_right(world):
    import numpy as np

    from tests.helpers.motion import person_motion

    frame = person_motion(30, 30.0, seed=1, task="lift")[15]
    view = ergonomics.side_view(frame)
    lines = np.array(view["near"] + view["far"])
    assert view["head"][1] < lines[:, [1, 3]].min() + 15  # SVG y grows downwards: the head is the top
    assert view["floor"] == pytest.approx(lines[:, [1, 3]].max(), abs=0.2)
    nose = frame[0] - (frame[23] + frame[24]) / 2
    left = frame[23] - frame[24]
    assert nose @ np.array([left[1], -left[0], 0.0]) > 0  # the nose is forward: drawn to the right
    assert ergonomics.side_view(np.full((33, 3), np.nan)) is None
