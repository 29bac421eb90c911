"""The background job runner with real task functions, and the ``process`` task's input checks."""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from jobs import Job, LocalJobRunner
from takes.tasks import TASKS, calibrate_take_task, process_take_task

WAIT_S = 10.0
REPORT = {"median_reprojection_px": 3.2, "reconstructed_pct": 97.5, "mean_segment_cv_pct": 4.1, "frames": 90,
          "cameras": ["cam1", "cam2"], "timings_s": {"total": 1.0}, "warnings": []}


class Recorder:
    """A status listener keeping a snapshot (``Job.to_dict``) of every call; thread-safe."""

    def __init__(self):
        self.calls: list[dict] = []
        self._cond = threading.Condition()

    def __call__(self, job: Job) -> None:
        with self._cond:
            self.calls.append(job.to_dict())
            self._cond.notify_all()

    def wait_finished(self, job_id: str, timeout: float = WAIT_S) -> dict:
        """The first snapshot of ``job_id`` with status done or failed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls:
                    if call["id"] == job_id and call["status"] in ("done", "failed"):
                        return call
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"job {job_id} did not finish within {timeout} s: {self.calls}"
                self._cond.wait(remaining)

    def of(self, job_id: str) -> list[dict]:
        with self._cond:
            return [c for c in self.calls if c["id"] == job_id]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_runner():
    """Runners built by a test, always shut down at its end."""
    runners = []

    def make(*args, **kwargs) -> LocalJobRunner:
        runners.append(LocalJobRunner(*args, **kwargs))
        return runners[-1]

    yield make
    for runner in runners:
        runner.shutdown()


# --------------------------------------------------------------------------- tasks (plain functions)
def three_steps(params, progress):
    for i in range(3):
        progress(i + 1, 3, "work")
    return dict(REPORT)


def many_steps(params, progress):
    for i in range(1000):
        progress(i + 1, 1000, "work")
    return {"frames": 1000}


def bad_input(params, progress):
    raise ValueError("cam3.mp4: not a video; record the take again")


def crash(params, progress):
    raise RuntimeError("disk on fire")


def gated(params, progress):
    """Waits until ``params['gate']`` is set (at most 10 s), telling ``params['started']`` it began."""
    params["started"].set()
    params["gate"].wait(WAIT_S)
    return {"frames": 1}


def logged(params, progress):
    """Appends start and end to ``params['log']``, working a little in between."""
    log, lock = params["log"], params["lock"]
    with lock:
        log.append(("start", params["n"]))
    threading.Event().wait(0.05)
    with lock:
        log.append(("end", params["n"]))
    return {"frames": params["n"]}


def endless(params, progress):
    """Calls progress every 10 ms for up to 10 s (cancellation happens in ``progress``)."""
    params["started"].set()
    for i in range(1000):
        progress(i, 1000, "work")
        threading.Event().wait(0.01)
    return {"frames": 1000}


TEST_TASKS = {"steps": three_steps, "many": many_steps, "bad": bad_input, "crash": crash, "gated": gated,
              "logged": logged, "endless": endless}


# --------------------------------------------------------------------------- statuses
def test_statuses_in_order_and_report_summary(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    gate, started = threading.Event(), threading.Event()
    first = runner.submit("gated", "take-0", {"gate": gate, "started": started})
    assert started.wait(WAIT_S)
    # The worker is busy, so the next job is surely still queued when its submission is announced.
    job = runner.submit("steps", "take-1", {"nice": 5, "secret": "not for the page"})
    assert recorder.of(job.id)[0]["status"] == "queued"
    gate.set()
    recorder.wait_finished(first.id)
    final = recorder.wait_finished(job.id)

    calls = recorder.of(job.id)
    statuses = [c["status"] for c in calls]
    assert statuses[0] == "queued" and statuses[-1] == "done"
    assert statuses == sorted(statuses, key=["queued", "running", "done"].index), statuses
    assert "running" in statuses
    progress = [c["done"] for c in calls if c["status"] == "running"]
    assert progress == sorted(progress) and progress[-1] == 3
    assert final["total"] == 3 and final["stage"] == "work" and final["message"] is None
    assert final["report"] == {"median_reprojection_px": 3.2, "reconstructed_pct": 97.5, "mean_segment_cv_pct": 4.1,
                               "frames": 90}
    assert final["take_id"] == "take-1" and final["kind"] == "steps"
    assert "params" not in final and "not for the page" not in repr(final)
    assert job.params == {"nice": 5, "secret": "not for the page"}  # the job keeps them for the task
    assert [j.id for j in runner.jobs()] == [job.id, first.id]  # newest first


def test_idle_runner_announces_queued_first(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    job = runner.submit("steps", "take-1", {})
    recorder.wait_finished(job.id)
    time.sleep(0.2)  # the submitting thread's late announcement, if any
    statuses = [c["status"] for c in recorder.of(job.id)]
    assert statuses[0] == "queued" and statuses[-1] == "done" and statuses.count("done") == 1, statuses


def test_progress_is_throttled(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS, progress_period_s=0.5)
    job = runner.submit("many", "take-1", {})
    final = recorder.wait_finished(job.id)
    running = [c for c in recorder.of(job.id) if c["status"] == "running"]
    assert len(running) < 20, len(running)  # 1000 progress calls in far less than a second
    assert running[-1]["done"] == running[-1]["total"] == 1000
    assert final["status"] == "done" and final["done"] == 1000


def test_value_error_fails_with_its_message(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    job = runner.submit("bad", "take-1", {})
    final = recorder.wait_finished(job.id)
    assert final["status"] == "failed"
    assert final["message"] == "cam3.mp4: not a video; record the take again"
    assert final["report"] is None


def test_crash_fails_with_the_exception_type(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    job = runner.submit("crash", "take-1", {})
    final = recorder.wait_finished(job.id)
    assert final["status"] == "failed" and final["message"] == "RuntimeError: disk on fire"
    # The runner goes on after a crash.
    after = runner.submit("steps", "take-2", {})
    assert recorder.wait_finished(after.id)["status"] == "done"


def test_failing_listener_does_not_break_the_job(make_runner, caplog):
    calls = []

    def listener(job):
        calls.append(job.status)
        raise RuntimeError("the page went away")

    runner = make_runner(listener, tasks=TEST_TASKS)
    job = runner.submit("steps", "take-1", {})
    deadline = time.monotonic() + WAIT_S
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.status == "done" and job.report["frames"] == 90
    time.sleep(0.1)
    assert "done" in calls and len(calls) >= 3
    assert "status listener failed" in caplog.text


def test_jobs_run_one_at_a_time_in_submission_order(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    log, lock = [], threading.Lock()
    jobs = [runner.submit("logged", f"take-{n}", {"log": log, "lock": lock, "n": n}) for n in range(4)]
    for job in jobs:
        assert recorder.wait_finished(job.id)["status"] == "done"
    assert log == [(step, n) for n in range(4) for step in ("start", "end")]
    assert [j.report["frames"] for j in jobs] == [0, 1, 2, 3]


# --------------------------------------------------------------------------- shutdown and refusals
def test_shutdown_cancels_running_and_queued_jobs(recorder):
    runner = LocalJobRunner(recorder, tasks=TEST_TASKS)
    started = threading.Event()
    running = runner.submit("endless", "take-1", {"started": started})
    assert started.wait(WAIT_S)
    queued = [runner.submit("steps", f"take-{n}", {}) for n in (2, 3)]
    t0 = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - t0 < 5.0  # the task was stopped at its next progress call, not run to its end
    assert running.status == "failed" and running.message.startswith("cancelled")
    assert recorder.of(running.id)[-1]["status"] == "failed"
    for job in queued:
        assert job.status == "failed" and job.message.startswith("cancelled")
        assert job.report is None
    assert {j.id for j in runner.jobs()} == {running.id, *(j.id for j in queued)}
    with pytest.raises(RuntimeError, match="stopped"):
        runner.submit("steps", "take-4", {})


def test_unknown_kind_is_refused(make_runner, recorder):
    runner = make_runner(recorder, tasks=TEST_TASKS)
    with pytest.raises(ValueError, match="unknown job kind 'render'"):
        runner.submit("render", "take-1", {})
    assert runner.jobs() == [] and recorder.calls == []


def test_default_tasks_are_processing_and_calibration_from_a_take():
    assert TASKS == {"process": process_take_task, "calibrate": calibrate_take_task}


# --------------------------------------------------------------------------- the process task
@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two small camera videos (320x240, 0.5 s), made once for this module."""
    from capture import demo

    folder = tmp_path_factory.mktemp("videos")
    return [demo.write_test_pattern(folder / f"{name}.mp4", "x", width=320, height=240, seconds=0.5)
            for name in ("cam1", "cam2")]


@pytest.fixture
def take_dir(tmp_path, videos):
    take = tmp_path / "20240101-120000-abcd"
    take.mkdir()
    for video in videos:
        (take / video.name).write_bytes(video.read_bytes())
    return take


def test_process_without_calibration_asks_to_calibrate(take_dir):
    with pytest.raises(ValueError, match="calibrate the cameras") as err:
        process_take_task({"take_dir": str(take_dir)}, lambda done, total, stage: None)
    assert "no calibration" in str(err.value)
    assert not (take_dir / "processed").exists()


def test_process_job_without_calibration_fails_with_the_advice(take_dir, recorder):
    runner = LocalJobRunner(recorder, TASKS)  # the real tasks
    try:
        job = runner.submit("process", take_dir.name, {"take_dir": str(take_dir)})
        final = recorder.wait_finished(job.id)
    finally:
        runner.shutdown()
    assert final["status"] == "failed" and "calibrate the cameras" in final["message"]
    assert not final["message"].startswith("ProcessError")  # bad input, not a crash


def test_process_with_other_cameras_names_the_missing_one(take_dir):
    from calibration.camera import CameraGroup
    from calibration.io import save_toml
    from tests.helpers.synthetic import camera_ring

    cams = camera_ring(2, size=(320, 240))
    group = CameraGroup([dataclasses.replace(cam, name=name) for cam, name in zip(cams, ("left", "right"))])
    save_toml(group, take_dir / "calibration.toml")
    with pytest.raises(ValueError, match="cam1") as err:
        process_take_task({"take_dir": str(take_dir)}, lambda done, total, stage: None)
    message = str(err.value)
    assert "cam2" in message and "not in the calibration" in message and "left" in message
    assert not (take_dir / "processed").exists()


@pytest.mark.slow
def test_a_killed_pose_worker_fails_the_job_with_its_error(tmp_path, recorder):
    """A real ``process`` job on the Pose2Sim demo: one of its MediaPipe worker processes is
    SIGKILLed mid-job; the job ends ``failed`` with the pool's error, and the runner goes on."""
    import signal

    import psutil

    from calibration.io import load_qca, save_toml
    from capture import demo

    take = tmp_path / "20240101-120000-dead"
    take.mkdir()
    for i in range(1, 5):
        (take / f"cam0{i}.mp4").symlink_to(demo.pose2sim_file(f"videos/cam0{i}.mp4"))
    save_toml(load_qca(demo.pose2sim_file("calibration/Calib.qca.txt")), take / "calibration.toml")
    runner = LocalJobRunner(recorder, TASKS)
    try:
        job = runner.submit("process", take.name, {"take_dir": str(take), "workers": 2})
        me = psutil.Process()
        deadline = time.monotonic() + 120
        workers = []
        while not workers and time.monotonic() < deadline:  # pose workers: spawned children of this process
            workers = [p for p in me.children(recursive=True) if "spawn" in " ".join(p.cmdline())]
            time.sleep(0.2)
        assert workers, "no pose worker process appeared"
        workers[0].send_signal(signal.SIGKILL)
        final = recorder.wait_finished(job.id, timeout=180)
        assert final["status"] == "failed", final
        assert "terminated abruptly" in final["message"], final["message"]
        assert str(tmp_path) not in final["message"]  # pages show it: no server path
        # The runner survives: the next job runs.
        after = runner.submit("process", take.name, {"take_dir": str(tmp_path / "missing")})
        assert recorder.wait_finished(after.id, timeout=60)["status"] == "failed"
    finally:
        runner.shutdown()
    assert not (take / "processed").exists()
