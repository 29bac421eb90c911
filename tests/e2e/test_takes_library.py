"""The takes library and the job history in a real browser (Debian's Chromium driven by Playwright),
on a real VSION server with two file cameras, stopped and started again on the same data.

A technician records two labelled takes (processed at once; without a calibration the jobs fail
and say why), finds them with the library's filters and sorting, adds notes, processes one again,
and after a restart of the server finds the same job history; a trainee sees none of it.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import shot
from tests.helpers.servers import VsionServer, wait_until

pytestmark = pytest.mark.slow


def record(server: VsionServer, session, label: str, seconds: float = 1.5) -> str:
    events = server.socket(session)
    started = events.call("start recording", {"label": label})
    assert started["ok"], started
    time.sleep(seconds)
    stopped = events.call("stop recording", {})
    assert stopped["ok"], stopped
    events.close()
    return started["take_id"]


def finished_jobs(server: VsionServer, session) -> list[dict]:
    jobs = session.get(server.url + "/api/jobs", timeout=10).json()["jobs"]
    return [job for job in jobs if job["status"] in ("done", "failed", "cancelled")]


class Person:
    """A signed-in browser context; console errors collected."""

    def __init__(self, browser, server: VsionServer, name: str):
        self.context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.server, self.name = server, name
        self.open("/takes")

    def open(self, path: str) -> None:
        self.page.goto(self.server.url + path)
        if urlpath(self.page.url) == "/login":  # a new session (e.g. after a restart)
            self.page.fill("#username", self.name)
            self.page.fill("#password", self.server.passwords[self.name])
            self.page.click("#sign-in")
            expect(self.page.locator("#who")).to_have_text(self.name)
            self.page.goto(self.server.url + path)

    def close(self) -> None:
        assert not self.problems, self.problems
        self.context.close()


def urlpath(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def test_takes_library_and_job_history_across_a_restart(tmp_path, video_file, chromium):
    browser = chromium
    cameras = [{"name": "cam1", "url": str(video_file)}, {"name": "cam2", "url": str(video_file)}]
    server = VsionServer(tmp_path, cameras, users={"tech": "technician", "eve": "trainee"})
    try:
        server.start()
        server.wait_connected(2)
        session = server.login("tech")
        first, second = record(server, session, "Camera test A"), record(server, session, "Camera test B")
        assert wait_until(lambda: len(finished_jobs(server, session)) == 2, timeout=120), finished_jobs(server, session)

        tech = Person(browser, server, "tech")
        page = tech.page
        rows = page.locator("#tl-body tr")
        expect(rows).to_have_count(2)
        expect(page.locator(f"#take-{second} .tl-label")).to_have_text("Camera test B")
        expect(page.locator("#jh-body tr")).to_have_count(2)
        expect(page.locator("#jh-body tr").first).to_contain_text("no calibration")
        page.fill("#tl-q", "test b")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_id(f"take-{second}")
        page.fill("#tl-q", "")
        expect(rows).to_have_count(2)
        page.select_option("#tl-sort", "label")
        page.select_option("#tl-order", "asc")
        expect(rows.first).to_have_id(f"take-{first}")
        page.select_option("#tl-processing", "done")
        expect(page.locator("#tl-empty")).to_be_visible()
        page.select_option("#tl-processing", "failed")
        expect(rows).to_have_count(2)

        page.click(f"#take-{first} .tl-edit")
        page.fill("#tl-edit-notes", "cam2 out of focus")
        page.click("#tl-edit-save")
        expect(page.locator("#tl-notice")).to_be_visible()
        expect(page.locator(f"#take-{first} .tl-notes")).to_have_text("cam2 out of focus")
        page.click(f"#take-{second} .tl-process")
        expect(page.locator("#tl-notice")).to_contain_text("Camera test B")
        expect(page.locator("#jh-body tr")).to_have_count(3)
        assert wait_until(lambda: len(finished_jobs(server, session)) == 3, timeout=120)
        shot(page, "takes-library")

        page.goto("about:blank")  # no page polling a stopped server
        assert not tech.problems, tech.problems
        assert server.stop() == 0
        server.start()
        server.wait_connected(2)
        tech.open("/takes")
        expect(page.locator("#jh-body tr")).to_have_count(3)
        expect(page.locator(f"#take-{first} .tl-notes")).to_have_text("cam2 out of focus")
        page.select_option("#jh-status", "failed")
        expect(page.locator("#jh-body tr")).to_have_count(3)
        page.click(f"#take-{second} .tl-jobs")
        expect(page.locator("#jh-take")).to_have_value(second)
        expect(page.locator("#jh-body tr")).to_have_count(2)
        expect(page.locator("#jh-body tr").first).to_contain_text("tech")  # the job asked again: by the technician
        shot(page, "takes-library-after-restart")
        tech.close()

        trainee = Person(browser, server, "eve")
        expect(trainee.page.locator("#tl-empty")).to_be_visible()
        expect(trainee.page.locator("#jh-empty")).to_be_visible()
        expect(trainee.page.locator("#tl-body tr")).to_have_count(0)
        trainee.close()
    finally:
        server.stop()
