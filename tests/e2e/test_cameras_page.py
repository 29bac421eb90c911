"""The Cameras page in a real browser (Debian's Chromium driven by Playwright) against a real VSION
server and real RTSP servers: a wrong password says 401, a camera is added, seen live, recorded
with, and removed, all without a restart."""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.helpers.browser import shot
from tests.helpers.media import make_test_streams
from tests.helpers.servers import RtspServer, VsionServer

pytestmark = pytest.mark.slow
SECRET = "Top5ecret"
FAST = {"open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.2, "backoff_max_s": 1.0}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    streams = make_test_streams(2)
    plain = RtspServer(streams[:1]).start()
    locked = RtspServer(streams[1:], auth=f"operator:{SECRET}").start()
    vsion = VsionServer(tmp_path_factory.mktemp("cameras"), [{"name": "cam1", "url": plain.url(0)}], {"camera": FAST})
    try:
        vsion.start()
        vsion.wait_connected(1)
        yield vsion, locked
    finally:
        vsion.stop()
        plain.kill()
        locked.kill()


def previews_playing(page, selector: str) -> bool:
    return page.evaluate(f"() => [...document.querySelectorAll('{selector}')].length > 0 && "
                         f"[...document.querySelectorAll('{selector}')].every(i => i.naturalWidth > 0)")


def wait_for(page, check, timeout: float, what: str) -> float:
    """Poll ``check()`` (page.evaluate: wait_for_function evaluates strings, which the CSP forbids)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, what
        page.wait_for_timeout(100)
    return time.monotonic() - started


def test_add_see_record_remove_a_camera(site, chromium):
    vsion, locked = site
    pid = vsion.proc.pid
    page = chromium.new_page(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(vsion.url + "/login")
    page.fill("#username", "tech")
    page.fill("#password", vsion.passwords["tech"])
    page.click("#sign-in")
    page.click("#nav-cameras-setup")
    expect(page).to_have_url(re.compile(r"/cameras$"))
    expect(page.locator(".cam-card")).to_have_count(1)
    wait_for(page, lambda: previews_playing(page, "#cam-card-cam1 .frame img"), 30, "cam1's preview never played")

    # a wrong password: the test says 401, in the page's language
    page.click("#cams-add")
    page.fill("#cam-name", "door")
    page.fill("#cam-url", locked.url(0, credentials=False))
    page.fill("#cam-user", "operator")
    page.fill("#cam-password", "wrong-one")
    page.click("#cam-test")
    failure = page.locator(".cam-test-failure[data-code=unauthorized]")
    expect(failure).to_contain_text("401", timeout=30000)
    expect(failure).to_contain_text("mot de passe")
    shot(page, "cameras-wrong-password")

    page.fill("#cam-password", SECRET)
    page.click("#cam-test")
    expect(page.locator(".cam-test-found")).to_contain_text("1280×720", timeout=30000)
    expect(page.locator(".cam-test-snapshot")).to_be_visible()
    clicked = time.monotonic()
    page.click("#cam-save")
    expect(page.locator(".cam-card")).to_have_count(2, timeout=30000)
    wait_for(page, lambda: previews_playing(page, "#cam-card-door .frame img"), 30, "the new camera never played")
    print(f"Add to live picture in the browser: {time.monotonic() - clicked:.2f} s")  # a figure, not a check
    expect(page.locator("#cam-card-door [data-role=status]")).to_have_text("connectée", timeout=20000)
    assert SECRET not in page.content()
    shot(page, "cameras-added")

    # record a take with it, from the live page
    page.goto(vsion.url + "/")
    expect(page.locator("article.camera")).to_have_count(2)
    page.click("#record")
    expect(page.locator("#rec-label")).to_have_text("Enregistrement en cours")
    page.wait_for_timeout(2000)
    page.click("#stop")
    expect(page.locator("#rec-take")).to_contain_text("door:", timeout=30000)
    frames = int(re.search(r"door: (\d+)", page.locator("#rec-take").inner_text()).group(1))
    assert frames > 20

    # remove it: no restart, the other camera still plays
    page.goto(vsion.url + "/cameras")
    page.click("#cam-card-door .cam-remove")
    expect(page.locator(".cam-card")).to_have_count(1, timeout=30000)
    expect(page.locator("#cams-done")).to_contain_text("door")
    wait_for(page, lambda: previews_playing(page, "#cam-card-cam1 .frame img"), 30, "cam1 stopped playing")
    session = vsion.login("tech")
    assert [c["name"] for c in session.get(vsion.url + "/api/cameras").json()] == ["cam1"]
    assert vsion.proc.pid == pid and vsion.proc.poll() is None
    assert requests.get(vsion.url + "/healthz", timeout=5).json()["cameras"] == 1
    assert not problems, problems
    page.close()
    assert SECRET not in vsion.config.read_text() and SECRET not in vsion.log.read_text()
