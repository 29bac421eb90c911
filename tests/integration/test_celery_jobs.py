"""The Celery job runner against a real redis-server and real Celery workers started here.

Each test gets its own redis-server on 127.0.0.1 (no persistence, in a temporary folder) and
a worker process running ``celery -A jobs.celery_runner worker`` configured through the
environment, as a processing station would be. Jobs are real ``process`` jobs of the Pose2Sim
demo take.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from calibration.io import load_calibration, save_toml
from capture import demo
from jobs import Job
from jobs.celery_runner import BACKEND_ENV, BROKER_ENV, QUEUE, VISIBILITY_ENV, CeleryJobRunner, make_celery
from tests.helpers.paths import ROOT
from tests.helpers.servers import free_port, wait_until

pytestmark = pytest.mark.slow

REDIS_SERVER = "/usr/bin/redis-server"
JOB_TIMEOUT_S = 240.0  # a 4-camera take of 100 frames takes ~15 s on 2 busy cores


class Recorder:
    """A status listener keeping a snapshot (``Job.to_dict``) of every call; thread-safe."""

    def __init__(self):
        self.calls: list[dict] = []
        self._cond = threading.Condition()

    def __call__(self, job: Job) -> None:
        with self._cond:
            self.calls.append(job.to_dict())
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = JOB_TIMEOUT_S) -> dict:
        """The first snapshot for which ``predicate(snapshot)`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls:
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no such status within {timeout} s: {self.calls}"
                self._cond.wait(remaining)

    def wait_finished(self, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict:
        return self.wait_for(lambda c: c["id"] == job_id and c["status"] in ("done", "failed"), timeout)

    def of(self, job_id: str) -> list[dict]:
        with self._cond:
            return [c for c in self.calls if c["id"] == job_id]


class Worker:
    """``python -m celery -A jobs.celery_runner worker`` in its own process group, logging to a file."""

    def __init__(self, env: dict, log: Path, name: str):
        self.log, self.name = log, name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "jobs.celery_runner", "worker", "--pool=solo", "--concurrency=1",
             "-Q", QUEUE, "--loglevel=INFO", "-n", f"{name}@127.0.0.1", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, broker_url: str, timeout: float = 60.0) -> Worker:
        app = make_celery(broker_url)
        try:
            ready = wait_until(lambda: self.proc.poll() is not None or bool(
                app.control.ping(destination=[f"{self.name}@127.0.0.1"], timeout=0.5)), timeout, step=0.2)
        finally:
            app.close()
        assert ready and self.proc.poll() is None, f"worker not ready:\n{self.output()}"
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self, sig=signal.SIGKILL) -> None:
        """Signal the worker and the 2D pose processes it started (its process group)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        self.kill(signal.SIGKILL)  # whatever is left of the group
        self.proc.wait(10)


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of its own on 127.0.0.1 (no persistence); its URL (database 0)."""
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"],
                            stdout=(folder / "redis.log").open("wb"), stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)

    def answers() -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return proc.poll() is not None

    try:
        assert wait_until(answers, 10.0) and proc.poll() is None, (folder / "redis.log").read_text()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def worker_env(redis_url: str, **extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    env[BROKER_ENV] = redis_url
    env[BACKEND_ENV] = redis_url[:-1] + "1"  # results in database 1
    return env


@pytest.fixture
def start_worker(redis_url, tmp_path):
    """Start workers on the test redis (``start_worker(**env)``); all stopped at the end."""
    workers = []

    def start(**extra) -> Worker:
        workers.append(Worker(worker_env(redis_url, **extra), tmp_path / f"worker{len(workers)}.log",
                              f"vsion-test-{len(workers)}"))
        return workers[-1].wait_ready(redis_url)

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_runner(redis_url):
    """Runners on the test redis (results in database 1, as the workers), shut down at the end."""
    runners = []

    def make(listener) -> CeleryJobRunner:
        runners.append(CeleryJobRunner(redis_url, redis_url[:-1] + "1", listener=listener, poll_s=0.2))
        return runners[-1]

    yield make
    for runner in runners:
        runner.shutdown()


def make_take(folder: Path, cameras=(1, 2, 3, 4), calibrated: bool = True) -> Path:
    """A take of the Pose2Sim demo videos (``cam01.mp4`` ...) with the demo's calibration."""
    folder.mkdir()
    for i in cameras:
        (folder / f"cam0{i}.mp4").symlink_to(demo.pose2sim_file(f"videos/cam0{i}.mp4"))
    if calibrated:
        save_toml(load_calibration(demo.pose2sim_file("calibration/Calib.qca.txt")), folder / "calibration.toml")
    return folder


# --------------------------------------------------------------------------- tests
def test_process_job_on_a_worker(start_worker, make_runner, recorder, tmp_path):
    start_worker()
    take = make_take(tmp_path / "take-x")
    runner = make_runner(recorder)
    job = runner.submit("process", "take-x", {"take_dir": str(take)})
    final = recorder.wait_finished(job.id)

    calls = recorder.of(job.id)
    statuses = [c["status"] for c in calls]
    assert statuses[0] == "queued" and statuses[-1] == "done" and statuses.count("done") == 1, statuses
    assert statuses == sorted(statuses, key=["queued", "running", "done"].index), statuses
    pose = [c for c in calls if c["status"] == "running" and c["stage"] == "2d pose"]
    assert pose and all(c["total"] == 400 for c in pose), calls
    assert any(0 < c["done"] <= 400 for c in pose), calls
    assert final["message"] is None and final["take_id"] == "take-x" and final["kind"] == "process"
    assert final["report"]["reconstructed_pct"] > 90 and final["report"]["frames"] > 0
    assert job.report["cameras"] == ["cam01", "cam02", "cam03", "cam04"]  # the whole report, as JSON data
    assert (take / "processed" / "pose3d.csv").is_file()
    assert [j.id for j in runner.jobs()] == [job.id]


def test_failures_reach_the_page(start_worker, make_runner, recorder, tmp_path):
    start_worker()
    take = make_take(tmp_path / "take-y", cameras=(1, 2), calibrated=False)
    runner = make_runner(recorder)
    uncalibrated = runner.submit("process", "take-y", {"take_dir": str(take)})
    broken = runner.submit("process", "take-z", {})  # a crash, not bad input: the type is named

    final = recorder.wait_finished(uncalibrated.id)
    assert final["status"] == "failed" and final["report"] is None
    assert final["message"].startswith("no calibration was in force") and "calibrate the cameras" in final["message"]
    assert not (take / "processed").exists()
    assert recorder.wait_finished(broken.id)["message"] == "KeyError: 'take_dir'"
    assert [j.id for j in runner.jobs()] == [broken.id, uncalibrated.id]

    with pytest.raises(ValueError, match="unknown job kind 'render'"):
        runner.submit("render", "take-y", {})
    runner.shutdown()
    with pytest.raises(RuntimeError, match="stopped"):
        runner.submit("process", "take-y", {"take_dir": str(take)})


def test_job_of_a_killed_worker_is_delivered_again(start_worker, make_runner, recorder, tmp_path):
    first = start_worker()
    take = make_take(tmp_path / "take-k", cameras=(1, 2))
    runner = make_runner(recorder)
    job = runner.submit("process", "take-k", {"take_dir": str(take)})
    recorder.wait_for(lambda c: c["id"] == job.id and c["status"] == "running" and c["stage"] == "2d pose", 120.0)
    first.kill()  # SIGKILL to the worker and its 2D pose processes: the job's message stays unacknowledged
    first.proc.wait(10)
    assert job.status == "running"
    assert "succeeded" not in first.output() and not (take / "processed").exists()

    # Another station; a short visibility timeout so that Redis hands the job over quickly.
    second = start_worker(**{VISIBILITY_ENV: "3"})
    final = recorder.wait_finished(job.id)
    assert final["status"] == "done", final
    assert final["report"]["frames"] > 0 and (take / "processed" / "pose3d.csv").is_file()
    assert job.id in second.output()
    assert [c["status"] for c in recorder.of(job.id)].count("done") == 1


def test_unreachable_cluster_fails_the_job(recorder):
    runner = CeleryJobRunner(f"redis://127.0.0.1:{free_port()}/0", listener=recorder)
    runner.app.conf.broker_connection_timeout = 1
    runner.app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    try:
        job = runner.submit("process", "take-u", {"take_dir": "/nowhere"})
    finally:
        runner.shutdown()
    assert job.status == "failed" and job.message.startswith("the processing cluster cannot be reached")
    assert [c["status"] for c in recorder.of(job.id)] == ["failed"]


def test_worker_without_configuration_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (BROKER_ENV, BACKEND_ENV)}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "jobs.celery_runner", "worker", "--pool=solo"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert BROKER_ENV in done.stderr + done.stdout
