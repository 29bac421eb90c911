"""Debian's Chromium driven by Playwright: its launch arguments and screenshots in ``test-artifacts/``."""
import contextlib

from tests.helpers.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, launched by Playwright with :data:`CHROMIUM_ARGS`; closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class SignedIn:
    """A browser context signed in as ``name`` through the login form at ``url``; console and page
    errors are collected and :meth:`close` asserts there were none. Screens go to
    ``test-artifacts/<prefix><name>.png``."""

    def __init__(self, browser, url: str, name: str, password: str, locale: str = "fr-FR", viewport=None,
                 prefix: str = ""):
        from playwright.sync_api import expect

        self.context = browser.new_context(viewport=viewport or {"width": 1366, "height": 768}, locale=locale,
                                           ignore_https_errors=True)  # the demo's own authority
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.url, self.prefix = url, prefix
        self.page.goto(url + "/login")
        self.page.fill("#username", name)
        self.page.fill("#password", password)
        self.page.click("#sign-in")
        expect(self.page.locator("#who")).to_have_text(name)

    def open(self, path: str) -> None:
        self.page.goto(self.url + path)

    def shot(self, name: str, full: bool = True) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.prefix}{name}.png"), full_page=full)

    def close(self) -> None:
        assert not self.problems, self.problems
        self.context.close()
