"""Ergonomics in a real browser (Debian's Chromium driven by Playwright) on the real app, served
from this process so that takes can be made with the world helpers (synthetic person, no
MediaPipe) and an attempt scored by the real comparison.

An expert opens a draft card, sees the risk band under the reference's timeline, marks step 2 as a
lift of 15 kg, saves and publishes; a trainee records an attempt that bends more than the
reference, and sees the safety score and the feedback per step on it, the posture of each frame
in the replay, the safety score in the card's attempts and progress, and the printable ergonomic
report; the live page shows the posture score of a skeleton. Screens in ``test-artifacts/ergo-*.png``.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.accounts import PASSWORDS, call, create_users, signed_in
from tests.helpers.browser import SignedIn
from tests.helpers.motion import person_motion
from tests.helpers.servers import AppServer
from tests.helpers.world import STEPS, fake_take, make_app, run_comparison, stop_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory, video_file):
    app = make_app(tmp_path_factory.mktemp("ergo-ui"), video_file)  # cameras idle: no live pose work
    create_users(app)
    server = AppServer(app).start()
    try:
        yield app, server.url
    finally:
        server.stop()
        stop_app(app)


def sign_in(browser, url: str, name: str, locale: str) -> SignedIn:
    return SignedIn(browser, url, name, PASSWORDS[name], locale=locale, viewport={"width": 1366, "height": 900},
                    prefix="ergo-")


def expert_marks_a_lift(person: SignedIn, card_id: int) -> None:
    page = person.page
    person.open(f"/workcards/{card_id}")
    expect(page.locator("#ergo-band-row")).to_be_visible(timeout=30000)
    assert page.locator("#replay").get_attribute("data-ergonomics") == "1"
    row = page.locator('li.step-row[data-index="1"]')
    expect(row.locator(".ergo-step-summary .ergo-badge")).to_have_count(2)
    row.locator("details.ergo-inputs > summary").click()
    row.locator('input[data-input="lift"]').check()
    expect(row.locator(".ergo-lift")).to_be_visible()
    row.locator('input[data-input="load_kg"]').fill("15")
    row.locator('input[data-input="frequency_per_min"]').fill("2")
    row.locator('input[data-input="frequency_per_min"]').press("Tab")
    row.locator('select[data-input="coupling"]').select_option("fair")
    expect(page.locator("#steps-dirty")).to_be_visible()
    person.shot("editor-inputs")
    page.click("#steps-save")
    expect(page.locator("#card-notice")).to_contain_text("Steps saved")
    summary = page.locator('li.step-row[data-index="1"] .ergo-step-summary')
    expect(summary).to_contain_text(re.compile(r"lifting index \d"), timeout=30000)
    expect(page.locator("#ergonomics-link")).to_be_visible()
    person.shot("editor-saved")
    page.click("#card-publish")
    expect(page.locator("#card-status")).to_have_text(re.compile("Published", re.I), timeout=30000)


def test_an_expert_marks_a_lift_and_a_trainee_sees_the_feedback(served, chromium):
    app, url = served
    expert_api = signed_in(app, "expert")
    card_id = call(expert_api, "POST", "/api/workcards", {"title": "Lift the crate"}).get_json()["id"]
    reference = fake_take(app, "expert", card_id, "reference", task="walk", seed=1)
    assert call(expert_api, "POST", f"/api/workcards/{card_id}/reference", {"take_id": reference}).status_code == 200
    assert call(expert_api, "PUT", f"/api/workcards/{card_id}/steps", {"steps": STEPS}).status_code == 200

    expert = sign_in(chromium, url, "expert", "en-GB")
    expert_marks_a_lift(expert, card_id)
    saved = call(expert_api, "GET", f"/api/workcards/{card_id}").get_json()["steps"][1]["ergonomics"]
    assert saved["lift"] is True and saved["load_kg"] == 15 and saved["frequency_per_min"] == 2
    assert saved["coupling"] == "fair"
    expert.open(f"/takes/{reference}")  # the reference's own page: the band and the posture beside the player
    expect(expert.page.locator("#ergo-now")).to_be_visible(timeout=30000)
    expert.page.locator("#replay-scrub").fill("6")
    expect(expert.page.locator("#ergo-now")).to_have_attribute("data-frame", "180")
    expert.shot("replay-reference")
    expert.close()

    attempt = fake_take(app, "trainee", card_id, "attempt", task="lift", seed=3)  # bends far more than the walk
    run_comparison(app, attempt)
    trainee = sign_in(chromium, url, "trainee", "fr-FR")
    page = trainee.page
    trainee.open(f"/takes/{attempt}")
    expect(page.locator("#safety-box")).to_be_visible(timeout=30000)
    expect(page.locator("#safety-score")).to_have_text(re.compile(r"^\d+$"))
    feedback = page.locator("#feedback li")
    expect(feedback.first).to_contain_text("Étape")
    expect(feedback.first).to_contain_text("référence")
    assert page.locator("#feedback-none").is_hidden()
    expect(page.locator("#ergo-now")).to_be_visible()
    expect(page.locator('#ergo-angles td[data-angle="trunk_flexion"]')).to_have_text(re.compile(r"°"))
    expect(page.locator('#ergo-angles td[data-angle="trunk_twist"] .ergo-unreliable-mark')).to_have_count(1)
    band = page.locator("#ergo-band").bounding_box()
    page.mouse.click(band["x"] + band["width"] * 0.6, band["y"] + band["height"] / 2)  # the band seeks the player
    expect(page.locator("#ergo-now")).not_to_have_attribute("data-frame", "0")
    page.select_option("#ergo-method", "reba")
    expect(page.locator("[data-download=mot]")).to_be_visible()
    expect(page.locator("[data-download=bvh]")).to_be_visible()
    trainee.shot("attempt")

    trainee.open(f"/workcards/{card_id}")
    expect(page.locator(f"#take-{attempt} [data-role=safety]")).to_be_visible(timeout=30000)
    expect(page.locator("#progress-chart circle.point.safety")).to_have_count(1)
    trainee.shot("card-attempts")

    trainee.open(f"/workcards/{card_id}/ergonomics")
    expect(page.locator("#ergo-steps tbody tr")).to_have_count(2)
    expect(page.locator("#ergo-niosh tbody tr")).to_have_count(1)
    assert page.locator("figure.ergo-moment svg line.near").count() >= 10
    trainee.shot("report")
    page.emulate_media(media="print")
    trainee.shot("report-print")
    page.emulate_media(media="screen")
    trainee.close()


def test_the_live_page_shows_the_posture_score(served, chromium):
    app, url = served
    person = sign_in(chromium, url, "trainee", "en-GB")
    page = person.page
    expect(page.locator("#live-ergo-method")).to_be_visible()
    expect(page.locator("#live-ergo")).to_be_hidden()
    page.select_option("#live-ergo-method", "reba")
    frame = person_motion(30, 30.0, seed=1, task="lift")[15].round(4).tolist()
    # What live.js hands over for each pose3d payload (the server's payload carries `ergonomics`).
    page.evaluate("""([points3d]) => document.dispatchEvent(new CustomEvent("vsion:skeleton", {detail: {points3d,
        ergonomics: {rula_score: 6, rula_action_level: 3, reba_score: 9, reba_risk_level: 3}}}))""", [frame])
    badge = page.locator("#live-ergo")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("REBA 9")
    expect(badge).to_contain_text("high risk")
    assert "ergo-lvl-3" in badge.get_attribute("class")
    person.shot("live", full=False)
    page.select_option("#live-ergo-method", "off")
    expect(badge).to_be_hidden()
    page.reload(wait_until="domcontentloaded")  # the MJPEG previews never finish loading
    expect(page.locator("#live-ergo-method")).to_have_value("off")
    person.close()
