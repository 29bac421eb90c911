"""Several people in a real browser (Debian's Chromium driven by Playwright) on ``demo --people``:
the live page draws two skeletons over the previews and in 3D with the worker starred, and a click
on a person makes them the worker (and "Let the work area decide" gives the choice back); the
Calibration page shows the work area of the calibration in force."""
import json
import time

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import shot
from tests.helpers.servers import DemoServer

pytestmark = pytest.mark.slow
WAIT_S = 300  # the live rate of a loaded machine: a frame set every second or two


@pytest.fixture(scope="module")
def people_server(tmp_path_factory):
    server = DemoServer(tmp_path_factory.mktemp("demo-people"), args=("--people",))
    try:
        server.start()
        yield server
        assert server.terminate() == 0, server.log()
    finally:
        server.kill()


def _poll(page, expression: str, accept, what: str, timeout: float = WAIT_S):
    """Poll a page expression (wait_for_function would evaluate a string, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if accept(value):
            return value
        assert time.monotonic() < deadline, f"{what}: last {value!r}"
        page.wait_for_timeout(300)


def _signed_in(browser, server, role: str):
    page = browser.new_page(viewport={"width": 1500, "height": 950}, locale="en-GB")
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + "/login?lang=en")
    page.fill("#username", role)
    page.fill("#password", server.logins[role])
    page.click("#sign-in")
    return page, problems


def _boxes(page) -> list[dict]:
    return page.evaluate("() => [...document.querySelectorAll('.frame')].map(f => JSON.parse(f.dataset.boxes || '{}'))")


def test_two_skeletons_with_the_worker_and_a_click_changes_the_worker(people_server, chromium):
    page, problems = _signed_in(chromium, people_server, "technician")
    expect(page.locator("article.camera")).to_have_count(4)
    _poll(page, "() => +document.getElementById('skeleton-view').dataset.people || 0", lambda n: n >= 2,
          "two people in 3D")
    worker = _poll(page, "() => document.getElementById('people-panel').dataset.worker", bool, "a worker")
    expect(page.locator("#worker-line")).to_contain_text(f"Worker: person {worker}")
    boxes = _poll(page, "() => [...document.querySelectorAll('.frame')].map(f => Object.keys(JSON.parse("
                  "f.dataset.boxes || '{}')).length)", lambda counts: max(counts) >= 2, "two people over a preview")
    assert sum(boxes) >= 4  # both people drawn over several previews
    shot(page, "people-live")

    # A click on the other person over a preview makes them the worker.
    for _ in range(5):
        views = _boxes(page)
        camera = max(range(len(views)), key=lambda i: len(views[i]))
        other = next((k for k in views[camera] if k != worker), None)
        if other is None:
            continue
        x0, y0, x1, y1 = views[camera][other]
        page.locator(".frame").nth(camera).click(position={"x": (x0 + x1) / 2, "y": (y0 + y1) / 2})
        try:
            _poll(page, "() => document.getElementById('people-panel').dataset.worker", lambda w, other=other: w == other,
                  "the clicked person becomes the worker", timeout=60)
            break
        except AssertionError:
            continue
    else:
        pytest.fail("a click on a person did not make them the worker")
    expect(page.locator("#worker-line")).to_contain_text(f"Worker: person {other} (chosen)")
    expect(page.locator("#worker-auto")).to_be_visible()
    _poll(page, "() => document.getElementById('skeleton-view').dataset.worker", lambda w: w == other, "the 3D star")
    shot(page, "people-live-chosen")
    page.click("#worker-auto")
    _poll(page, "() => document.getElementById('worker-auto').hidden", bool, "the choice given back", timeout=120)
    assert not problems, problems


def test_the_calibration_page_shows_the_work_area(people_server, chromium):
    page, problems = _signed_in(chromium, people_server, "technician")
    page.goto(people_server.url + "/calibration")
    page.click("#step-result")
    expect(page.locator("#work-area-state")).to_contain_text("Default")
    values = [float(page.input_value(f"#work-area-{k}")) for k in ("x0", "y0", "x1", "y1")]
    assert values[0] < values[2] and values[1] < values[3]
    page.click("#work-area-show")
    page.fill("#work-area-x1", str(values[2] + 0.5))
    page.click("#work-area-save")
    expect(page.locator("#work-area-state")).to_contain_text("Saved")
    saved = json.loads(page.evaluate("() => JSON.stringify([...'x0 y0 x1 y1'.split(' ')].map(k => "
                                     "+document.getElementById('work-area-' + k).value))"))
    assert abs(saved[2] - (values[2] + 0.5)) < 1e-6
    shot(page, "people-work-area")
    page.click("#work-area-default")
    expect(page.locator("#work-area-state")).to_contain_text("Default")
    assert not problems, problems
