"""The whole story in a real browser on the demo cameras (Debian's Chromium driven by Playwright).

The administrator creates two users; the technician loads a calibration from a file; the expert
creates a work card, records a reference, marks two steps and publishes; the trainee replays the
card, records an attempt and sees a score. Every screen is saved in ``test-artifacts/story-*.png``.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from capture import demo
from tests.helpers.browser import CHROMIUM_ARGS, SignedIn
from tests.helpers.servers import DemoServer

pytestmark = pytest.mark.slow
PROCESSING_S = 300  # a 4 s take on two shared cores, with live pose off


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = DemoServer(tmp_path_factory.mktemp("story"), tls=True)  # as a site serves it: HTTPS
    try:
        yield server.start()
        assert server.terminate() == 0, server.log()
    finally:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium",
                               args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def Person(browser, url: str, name: str, password: str, viewport=None) -> SignedIn:
    """One signed-in browser context (French), with its console errors collected; screens ``story-*.png``."""
    return SignedIn(browser, url, name, password, viewport=viewport, prefix="story-")


def wait_for(page, script: str, timeout_s: float, what: str):
    """Poll a page expression (wait_for_function would need eval, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script)
        if value:
            return value
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(500)


def record(page, prefix: str, seconds: float) -> None:
    page.click(f"#{prefix}-record")
    expect(page.locator(f"#{prefix}-stop")).to_be_enabled(timeout=30000)
    page.wait_for_timeout(seconds * 1000)
    page.click(f"#{prefix}-stop")
    expect(page.locator(f"#{prefix}-record")).to_be_enabled(timeout=60000)


def test_the_whole_story(server, browser):
    url = server.url
    passwords = {"paul": "paul-expert-secret", "lea": "lea-trainee-secret"}

    # 1. The administrator creates an expert and a trainee.
    admin = Person(browser, url, "admin", server.logins["admin"])
    admin.page.goto(url + "/admin/users")
    for name, role in (("paul", "expert"), ("lea", "trainee")):
        admin.page.fill("#user-name", name)
        admin.page.select_option("#user-role", role)
        admin.page.fill("#user-password", passwords[name])
        admin.page.click("#user-create")
        expect(admin.page.locator(f"#user-{name}")).to_be_visible()
    admin.page.fill("#user-name", "x")  # too short: the form says so, nothing is created
    admin.page.fill("#user-password", "short")
    admin.page.click("#user-create")
    assert admin.page.locator("#user-x").count() == 0
    admin.shot("1-admin-users")
    admin.close()

    # 2. The technician loads the rig's calibration from a file (the demo cameras' Qualisys export).
    tech = Person(browser, url, "technician", server.logins["technician"])
    tech.page.goto(url + "/calibration")
    tech.page.click("#step-result")  # the saved sets, where a file can be loaded
    tech.page.set_input_files("#calib-import-file", str(demo.pose2sim_file("calibration/Calib.qca.txt")))
    tech.page.click("#calib-import")
    expect(tech.page.locator("#calib-import-done")).to_contain_text("cam01 → cam1", timeout=30000)
    tech.shot("2-technician-calibration")
    tech.close()

    # 3. The expert creates a work card, records a reference, marks two steps and publishes.
    expert = Person(browser, url, "paul", passwords["paul"])
    page = expert.page
    page.goto(url + "/workcards")
    page.click("#new-card-open")
    page.fill("#new-title", "Monter le support")
    page.fill("#new-description", "Prendre le support, le présenter, le fixer.")
    page.fill("#new-tags", "montage, atelier")
    page.click("#new-card-submit")
    expect(page).to_have_url(re.compile(r"/workcards/\d+$"))
    card_url = page.url
    expert.shot("3-expert-new-card")
    record(page, "ref", 4)
    choose = page.locator("#reference-takes [data-role=choose]").first
    expect(choose).to_be_enabled(timeout=PROCESSING_S * 1000)
    choose.click()
    wait_for(page, "() => +(document.getElementById('replay') || {dataset: {}}).dataset.frame >= 0", 60,
             "the reference replay did not load")
    expert.shot("4-expert-reference")
    for name, start, end in (("Saisir le support", "0.2", "1.6"), ("Fixer le support", "1.6", "3.2")):
        page.click("#step-add")
        row = page.locator("#steps-edit-list li.step-row").last
        row.locator("[data-role=name]").fill(name)
        row.locator("[data-role=start]").fill(start)
        row.locator("[data-role=start]").dispatch_event("change")
        row.locator("[data-role=end]").fill(end)
        row.locator("[data-role=end]").dispatch_event("change")
    page.click("#steps-save")
    expect(page.locator("#steps-dirty")).to_be_hidden(timeout=15000)
    expert.shot("5-expert-steps")
    page.click("#card-publish")
    expect(page.locator("#card-status")).to_contain_text("ubli", timeout=30000)
    expert.shot("6-expert-published")
    expert.close()

    # 4. The trainee replays the card, records an attempt and sees a score.
    trainee = Person(browser, url, "lea", passwords["lea"])
    page = trainee.page
    page.goto(url + "/workcards")
    page.get_by_text("Monter le support").first.click()
    expect(page).to_have_url(card_url)
    wait_for(page, "() => document.getElementById('replay').dataset.frame !== undefined", 60, "no replay")
    page.click("#replay-play")
    wait_for(page, "() => +document.getElementById('replay').dataset.frame > 5", 30, "the replay did not play")
    page.click("#replay-play")
    page.locator("#replay-steps button[data-step='1']").click()
    trainee.shot("7-trainee-replay")
    record(page, "att", 4)
    score = page.locator("#attempts [data-role=score]").first
    expect(score).to_be_visible(timeout=PROCESSING_S * 1000)
    trainee.shot("8-trainee-attempts")
    page.locator("#attempts a").first.click()
    expect(page.locator("#score")).to_contain_text(re.compile(r"\d"), timeout=30000)
    trainee.shot("9-trainee-result")
    take_url = page.url
    # The printable summary of the trainee's results.
    page.goto(card_url + "/summary")
    expect(page.locator("#summary-attempts tbody tr")).to_have_count(1)
    trainee.shot("10-trainee-summary")
    # The same pages on a tablet.
    page.set_viewport_size({"width": 820, "height": 1180})
    for name, target in (("list", url + "/workcards"), ("card", card_url), ("result", take_url)):
        page.goto(target)
        page.wait_for_load_state("networkidle")
        trainee.shot(f"11-tablet-{name}")
    trainee.close()
