"""The live pose's worker processes under a starved or stuck worker: real processes running the real
BlazePose estimator, stopped with SIGSTOP the way a loaded machine starves a low-priority process.

Nothing may wait without a bound: the answers are collected with a deadline, a silent worker is
replaced, and live pose (its thread and its workers) stops within seconds however its workers
behave. The bounds below are generous upper limits that a hang would exceed, not timings."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import av
import cv2
import numpy as np
import pytest

from capture import demo
from live import workers
from tests.helpers.accounts import login
from web.extensions import socketio

HANG_S = 30.0  # far beyond every bound of live pose: reaching it means something waited forever


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A frame of Pose2Sim's Demo_MultiPerson cam01 (two people), fitted into 640x640 RGB."""
    path = demo.pose2sim_file("videos/cam01.mp4", demo.POSE2SIM_MULTI_DEMO)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    h, w = frame.shape[:2]
    scale = workers.MAX_SIDE / max(h, w)
    return np.ascontiguousarray(cv2.resize(frame, (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)))


def _ready(worker: workers.PoseWorker) -> None:
    deadline = time.monotonic() + 120
    while not worker.idle:
        assert worker.process.is_alive() and time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)


def test_a_worker_answers_with_every_person(picture):
    worker = workers.PoseWorker(multiprocessing.get_context("spawn"))
    try:
        _ready(worker)
        assert worker.submit(1, picture)
        assert not worker.submit(2, picture)  # one picture at a time
        answers = workers.collect({0: worker}, 1, timeout=60, straggler=1)
        answer = answers[0]
        assert len(answer.ids) == 2 and answer.points.shape == (2, 33, 2) and answer.scores.shape == (2, 33)
        assert ((answer.points >= 0) & (answer.points <= 1)).mean() > 0.9  # normalized to the picture
        assert worker.idle
    finally:
        workers.close_all([worker])
    assert not worker.process.is_alive()


def test_a_starved_worker_is_left_out_then_replaced_and_closes(picture, monkeypatch):
    fine, starved = (workers.PoseWorker(multiprocessing.get_context("spawn")) for _ in range(2))
    try:
        for worker in (fine, starved):
            _ready(worker)
        os.kill(starved.process.pid, signal.SIGSTOP)  # it gets no CPU at all
        assert fine.submit(7, picture) and starved.submit(7, picture)
        t0 = time.monotonic()
        answers = workers.collect({0: fine, 1: starved}, 7, timeout=20, straggler=1)
        assert time.monotonic() - t0 < HANG_S
        assert set(answers) == {0} and not starved.idle  # the others' answers come; the starved one stays busy
        assert not starved.stuck(time.monotonic())
        monkeypatch.setattr(workers, "STUCK_S", 0.0)
        assert starved.stuck(time.monotonic())  # after STUCK_S it is replaced by its owner
    finally:
        t0 = time.monotonic()
        workers.close_all([fine, starved])  # a stopped process cannot end by itself: it is killed
        assert time.monotonic() - t0 < HANG_S
    assert not fine.process.is_alive() and not starved.process.is_alive()


def test_live_pose_stops_while_its_workers_are_starved(app, client):
    """The live pose thread must not block on its workers: with every worker stopped, turning the
    server off still ends live pose, its thread and its processes."""
    live = app.extensions["vsion"].live_pose
    login(client, "technician")
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.emit("live pose", {"enabled": True}, callback=True)["ok"]
    deadline = time.monotonic() + 120
    while not (any(live._workers) and all(w is not None and w.ready for w in live._workers)):
        assert time.monotonic() < deadline, "the live pose workers did not start"
        time.sleep(0.2)
    pids = [w.process.pid for w in live._workers]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(2)  # the thread now waits on workers that will not answer
    stopper = threading.Thread(target=live.stop)
    stopper.start()
    stopper.join(HANG_S)
    assert not stopper.is_alive(), "live pose did not stop"
    assert not live._thread.is_alive()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone (and reaped)
    sio.disconnect()
