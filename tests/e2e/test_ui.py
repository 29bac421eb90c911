"""The live page in a real browser (Debian's Chromium driven by Playwright) on the demo cameras."""
import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers.browser import CHROMIUM_ARGS, shot
from tests.helpers.servers import DemoServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    server = DemoServer(tmp_path_factory.mktemp("demo"))
    try:
        server.start()
        yield server.url, server.logins
        assert server.terminate() == 0, server.log()
    finally:
        server.kill()  # never leave a server behind, whatever failed


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 820, "height": 1180}],
                         ids=["laptop", "tablet"])
def test_live_page_records_a_take(demo_server, browser, viewport):
    url, logins = demo_server
    page = browser.new_page(viewport=viewport, locale="fr-FR")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#username", "expert")
    page.fill("#password", "wrong password")
    page.click("#sign-in")
    expect(page.locator("#login-error")).to_be_visible()
    problems.clear()  # the 401 of the wrong password is logged by the browser
    page.fill("#username", "expert")
    page.fill("#password", logins["expert"])
    page.click("#sign-in")
    expect(page.locator("article.camera")).to_have_count(4)
    expect(page.locator("#record")).to_contain_text("Enregistrer")
    for i in range(4):
        expect(page.locator(f"#camera-{i} [data-role=status]")).to_have_text("connectée", timeout=20000)
    # Polled with evaluate: wait_for_function evaluates strings, which the page's CSP forbids.
    deadline = time.monotonic() + 20
    while not page.evaluate("() => [...document.querySelectorAll('.frame img')].every(i => i.naturalWidth > 0)"):
        assert time.monotonic() < deadline, "camera previews did not load"
        page.wait_for_timeout(200)
    # Live pose: the demo installs its calibration, so 2D overlays and the 3D skeleton appear.
    deadline = time.monotonic() + 90
    while page.evaluate("() => +document.getElementById('skeleton-view').dataset.points || 0") < 20:
        assert time.monotonic() < deadline, "the 3D skeleton never appeared"
        page.wait_for_timeout(500)
    expect(page.locator("#pose-rate")).to_contain_text("Hz")
    assert page.evaluate("() => [...document.querySelectorAll('canvas.pose-overlay')].some(c => {"
                         " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                         " for (let k = 3; k < d.length; k += 4) if (d[k]) return true; return false; })")
    shot(page, f"live-{viewport['width']}")
    page.click("#live-pose-toggle")  # off: the take below is processed sooner

    page.click("#record")
    expect(page.locator("#rec-label")).to_have_text("Enregistrement en cours")
    expect(page.locator("#stop")).to_be_enabled()
    time.sleep(2)
    shot(page, f"recording-{viewport['width']}")
    page.click("#stop")
    expect(page.locator("#rec-take")).to_contain_text("Prise enregistrée", timeout=30000)
    expect(page.locator("#record")).to_be_enabled()
    # The take is processed in the background; its job row ends "done" with its figures.
    expect(page.locator("#jobs .job-done").first).to_be_visible(timeout=180000)
    shot(page, f"saved-{viewport['width']}")

    page.click("#lang-switch")
    expect(page.locator("#record")).to_contain_text("Record")
    seen = list(problems)  # after logout, requests still in flight are refused (401): the session is over
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login"))
    assert not seen, seen
    assert all("401" in text for text in problems[len(seen):]), problems[len(seen):]
    page.close()
