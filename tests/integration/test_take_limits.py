"""Per-user limits on takes (``limits.takes_per_hour``, ``limits.jobs_per_user``): past them a
user's next take is refused with a message naming the limit, and nothing is recorded."""
from __future__ import annotations

import time

import pytest
from flask_socketio import SocketIO

from settings import parse_settings
from tests.helpers.accounts import PASSWORDS, login
from tests.helpers.world import wait_connected


@pytest.fixture
def limited(tmp_path, video_file):
    from accounts.users import create_user
    from app import create_app, start_app

    def make(**limits):
        settings = parse_settings({"cameras": [{"name": "cam1", "url": str(video_file)}],
                                   "data_dir": str(tmp_path / f"data{len(made)}"), "limits": limits})
        app = create_app(settings, {"TESTING": True})
        start_app(app)
        with app.app_context():
            create_user("technician", PASSWORDS["technician"], "technician")
        made.append(app)
        return app

    made = []
    yield make
    for app in made:
        app.extensions["vsion"].stop()


def record(sio, seconds=0.5) -> dict:
    started = sio.emit("start recording", {}, callback=True)
    if started["ok"]:
        time.sleep(seconds)
        assert sio.emit("stop recording", {}, callback=True)["ok"]
    return started


def signed_in_socket(app):
    from web.extensions import socketio

    client = app.test_client()
    login(client, "technician")
    wait_connected(client, count=1)
    sio: SocketIO = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    return sio


def test_takes_per_hour(limited):
    app = limited(takes_per_hour=2, jobs_per_user=100)
    sio = signed_in_socket(app)
    assert record(sio)["ok"] and record(sio)["ok"]
    refused = record(sio)
    assert not refused["ok"] and refused["code"] == "refused"
    assert "2 takes in the last hour" in refused["message"] and "limits.takes_per_hour" in refused["message"]
    assert len(list(app.extensions["vsion"].processor.takes_dir.iterdir())) == 2
    sio.disconnect()


def test_jobs_waiting_per_user(limited):
    from jobs.base import Job

    app = limited(jobs_per_user=1)
    runner = app.extensions["vsion"].jobs
    with app.app_context():
        from accounts.users import by_name

        user_id = by_name("technician").id
    waiting = Job(kind="process", take_id="20260101-000000-abcd", params={"user_id": user_id})
    runner._remember(waiting)  # a take of this user still waiting for processing
    sio = signed_in_socket(app)
    refused = record(sio)
    assert not refused["ok"] and "waiting to be processed" in refused["message"]
    assert "limits.jobs_per_user" in refused["message"]
    waiting.succeed({})
    assert record(sio)["ok"]
    sio.disconnect()
