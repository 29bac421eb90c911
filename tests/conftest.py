"""Shared fixtures: real test streams, a real RTSP server, the Flask app on file cameras."""
from __future__ import annotations

import pytest

from settings import parse_settings
from tests.helpers.accounts import PASSWORDS
from tests.helpers.media import make_test_streams, make_test_video
from tests.helpers.servers import RtspServer, server_log_tails


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report ends with the last lines of each VSION server it had running."""
    report = (yield).get_result()
    if report.failed:
        for path, tail in server_log_tails():
            report.sections.append((f"VSION server log {path} (last lines)", tail))


@pytest.fixture(scope="session")
def streams():
    """Six 1280x720 30 fps H.264 test streams (10 s loops, a keyframe every second)."""
    return make_test_streams()


@pytest.fixture
def rtsp(streams):
    server = RtspServer(streams).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def video_file():
    return make_test_video()


@pytest.fixture
def settings(tmp_path, video_file):
    return parse_settings({"cameras": [{"name": "cam1", "url": str(video_file)}, {"name": "cam2", "url": str(video_file)}],
                           "data_dir": str(tmp_path / "data")})


@pytest.fixture
def app(settings):
    from accounts.users import create_user
    from app import create_app, start_app

    app = create_app(settings, {"TESTING": True})
    start_app(app)
    with app.app_context():
        for role, password in PASSWORDS.items():
            create_user(role, password, role)
    yield app
    app.extensions["vsion"].stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()



@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright, for one test module."""
    from tests.helpers.browser import chromium as launch

    with launch() as browser:
        yield browser
