"""A :class:`~jobs.base.JobRunner` on Celery + Redis, so many stations share one processing cluster.

How to run a processing station
-------------------------------
A processing station is any machine that can read the take folders at the same paths as the
stations that record them (a shared disk) and reach the Redis server. Start one worker per
station; each runs one job at a time::

    export VSION_CELERY_BROKER=redis://redis-host:6379/0
    export VSION_CELERY_BACKEND=redis://redis-host:6379/1   # optional: default, the broker
    celery -A jobs.celery_runner worker --pool=solo --concurrency=1 -Q vsion --loglevel=INFO

(from the VSION folder, in its virtual environment). ``--pool=solo`` runs the job in the
worker process itself, which is what the 2D pose stage needs to start its own pool of
processes. A worker started without ``VSION_CELERY_BROKER`` refuses to start and says so.
The recording stations use :class:`CeleryJobRunner` with the same two URLs.

Delivery: a job's message is acknowledged only when the job has finished
(``task_acks_late``), and a worker reserves one job at a time (``worker_prefetch_multiplier=1``).
With a prefork pool, a pool process dying under a job puts the job back in the queue at once
(``task_reject_on_worker_lost``). When the worker itself dies (power cut, ``kill -9``; with the
solo pool, the job runs in the worker itself), Redis gives the unacknowledged job to another worker once the
*visibility timeout* has passed since it was delivered: ``VSION_CELERY_VISIBILITY_TIMEOUT``
seconds (default 6 hours; idle workers look for such jobs every 10 s at most). It must exceed
the longest job, or a job still running would be handed to a second worker as well. Until it
is delivered again, a job whose worker died stays "running" on the page, and it then runs
from the start (outputs are written only at the end of a job, all together).

Job statuses flow back through the result backend: the worker stores ``PROGRESS`` states
(``{"done", "total", "stage"}``, at most about twice a second plus every change of stage), the
result (the report) or the failure; :class:`CeleryJobRunner` polls them. Everything crossing
the broker is JSON.
"""
from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping

from celery import Celery, signals
from celery.backends.redis import RedisBackend

from jobs.base import Job, JobFailure, JobRunner, JobStatus, Task

logger = logging.getLogger(__name__)

BROKER_ENV = "VSION_CELERY_BROKER"
BACKEND_ENV = "VSION_CELERY_BACKEND"
VISIBILITY_ENV = "VSION_CELERY_VISIBILITY_TIMEOUT"
TASKS_ENV = "VSION_TASKS"                # the module whose TASKS a worker runs (default: VSION's own)
DEFAULT_TASKS_MODULE = "takes.tasks"
QUEUE = "vsion"                          # the queue workers consume (``-Q vsion``)
TASK_NAME = "vsion.run_job"
DEFAULT_VISIBILITY_TIMEOUT_S = 6 * 3600  # longer than any job: see the module docstring
PROGRESS_PERIOD_S = 0.5                  # worker: at most ~2 progress states a second (plus stage changes)
UNCONFIGURED_BROKER = "memory://"        # the module-level app without configuration (a worker refuses it)


class JobInputError(Exception):
    """A job failed on bad input (a ``ValueError`` in the task); the message is for the user as is."""


def _json_safe(value):
    """``value`` with numpy scalars and arrays made plain, tuples made lists, NaN and inf made None."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _json_safe(value.tolist())
    return str(value)  # paths and the like


def _restore_interval_s(visibility_timeout_s: float) -> int:
    # Redis hands out abandoned jobs only when a worker sweeps for them; sweep often enough
    # for the timeout to mean what it says, at most every 10 s.
    return int(max(1, min(10, visibility_timeout_s // 4)))


def worker_tasks() -> Mapping[str, Task]:
    """The tasks a worker runs: ``TASKS`` of the module named by ``$VSION_TASKS`` (default
    :mod:`takes.tasks`), loaded when the first job arrives (so a recording station that only
    sends jobs never loads them)."""
    return importlib.import_module(os.environ.get(TASKS_ENV) or DEFAULT_TASKS_MODULE).TASKS


def make_celery(broker_url: str, backend_url: str | None = None,
                visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S,
                tasks: Callable[[], Mapping[str, Task]] = worker_tasks) -> Celery:
    """The "vsion" Celery app on ``broker_url`` (results in ``backend_url``, default the broker),
    with the ``vsion.run_job(kind, params)`` task running ``tasks()[kind]`` in the worker.

    ``visibility_timeout_s`` (s): how long after delivery Redis gives a job whose worker died
    to another worker. The app is safe to share between threads for sending and reading states.
    """
    app = Celery("vsion", broker=broker_url, backend=backend_url or broker_url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue=QUEUE, task_track_started=True,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": visibility_timeout_s,
                                  "unacked_restore_interval": _restore_interval_s(visibility_timeout_s),
                                  "unacked_restore_throttle": 1},
        broker_connection_retry_on_startup=True,
        # A Redis host that stopped answering must not hold a station's polling thread for minutes.
        redis_socket_connect_timeout=5, redis_socket_timeout=30,
    )

    @app.task(name=TASK_NAME, bind=True)
    def run_job(self, kind: str, params: dict) -> dict:
        known = tasks()
        task = known.get(kind)
        if task is None:
            raise JobInputError(f"unknown job kind {kind!r}: this worker runs {', '.join(sorted(known))}")
        last = [0.0, None]

        def progress(done, total, stage):
            now = time.monotonic()
            if stage == last[1] and done < total and now - last[0] < PROGRESS_PERIOD_S:
                return
            last[:] = [now, stage]
            try:
                self.update_state(state="PROGRESS", meta={"done": int(done), "total": int(total), "stage": str(stage)})
            except Exception:  # noqa: BLE001 - progress is advisory: a lost update must not fail the job
                logger.warning("job %s: progress not stored", self.request.id, exc_info=True)

        started = time.monotonic()
        logger.info("job %s: %s started", self.request.id, kind)
        try:
            report = task(params, progress)
        except ValueError as exc:  # bad input: the message says what to do
            logger.warning("job %s: %s", self.request.id, exc)
            raise JobInputError(str(exc)) from None
        logger.info("job %s: %s done in %.1f s", self.request.id, kind, time.monotonic() - started)
        return _json_safe(report)

    return app


class _PollingRedisBackend(RedisBackend):
    """The Redis result backend without the pub/sub subscription made at every send.

    That subscription serves ``AsyncResult.get()``, which :class:`CeleryJobRunner` never calls:
    it polls, and unread subscriptions would only pile up messages on the connection.
    """

    def on_task_call(self, producer, task_id):
        pass


def _is_input_error(error) -> bool:
    return isinstance(error, JobInputError) or type(error).__name__ == JobInputError.__name__


def _failure_kind(error) -> JobFailure:
    return JobFailure.INPUT if _is_input_error(error) else JobFailure.CRASH


def _failure_message(error) -> str:
    if _is_input_error(error):
        return str(error.args[0]) if error.args else str(error)
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


class CeleryJobRunner(JobRunner):
    """Jobs sent to the Celery workers of a processing cluster; their statuses polled back.

    ``poll_s`` (s): how often the states of unfinished jobs are read from the result backend.
    ``shutdown`` stops the polling only: jobs sent to the cluster go on there.

    Thread-safety: ``submit``, ``jobs`` and ``shutdown`` may be called from any thread; jobs
    are updated and ``listener`` is called from one polling thread (and from ``submit`` for the
    "queued" announcement).
    """

    def __init__(self, broker_url: str, backend_url: str | None = None, listener: Callable[[Job], None] | None = None,
                 poll_s: float = 0.5, tasks: Mapping[str, Task] | None = None):
        super().__init__(listener, worker_tasks() if tasks is None else tasks)
        self.poll_s = poll_s
        self.app = make_celery(broker_url, backend_url)
        backend = self.app.conf.result_backend
        if backend.split("://", 1)[0] in ("redis", "rediss"):
            self.app.conf.result_backend = f"{__name__}:_PollingRedisBackend+{backend}"
        self._watched: list[Job] = []  # sent and not finished: polled
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, kind: str, take_id: str, params: dict) -> Job:
        """Send a job of ``kind`` to the cluster; returns at once. ``params`` must be JSON data
        (paths as seen by the workers). A cluster that cannot be reached gives a failed job."""
        job = self._new_job(kind, take_id, params)
        if self._stop.is_set():
            raise RuntimeError("the job runner is stopped")
        try:
            self.app.send_task(TASK_NAME, args=(kind, job.params), task_id=job.id, queue=QUEUE)
        except Exception as exc:  # noqa: BLE001 - any broker failure is reported on the job
            job.fail(JobFailure.CRASH, f"the processing cluster cannot be reached: {type(exc).__name__}: {exc}")
            logger.error("job %s: %s of take %s not sent: %s", job.id, kind, take_id, exc)
        else:
            logger.info("job %s: %s of take %s sent to the processing cluster", job.id, kind, take_id)
        self._remember(job)
        self._notify(job)
        if job.status == JobStatus.QUEUED:
            with self._lock:  # watched only once announced, so "queued" always comes first
                self._watched.append(job)
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._poll, name="celery-jobs", daemon=True)
                    self._thread.start()
        return job

    def shutdown(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()
        self.app.close()

    # ------------------------------------------------------------------ polling thread
    def _poll(self) -> None:
        unreachable = False
        while not self._stop.wait(self.poll_s):
            with self._lock:
                self._watched = [j for j in self._watched if not j.finished]
                pending = list(self._watched)
            for job in pending:
                if self._stop.is_set():
                    return
                try:
                    meta = self.app.backend.get_task_meta(job.id, cache=False)
                except Exception as exc:  # noqa: BLE001 - the cluster may come back: keep polling
                    if not unreachable:
                        logger.warning("job states cannot be read from the processing cluster: %s", exc)
                    unreachable = True
                    break
                if unreachable:
                    logger.info("job states readable again")
                    unreachable = False
                if self._update(job, meta):
                    self._notify(job)

    def _update(self, job: Job, meta: dict) -> bool:
        """Apply a task state to ``job``; True if anything the page shows changed."""
        before = (job.status, job.stage, job.done, job.total)
        state, result = meta.get("status"), meta.get("result")
        if state in ("STARTED", "PROGRESS"):
            job.status = JobStatus.RUNNING
            if state == "PROGRESS" and isinstance(result, dict):
                job.done, job.total = int(result.get("done", 0)), int(result.get("total", 0))
                job.stage = str(result.get("stage", ""))
        elif state == "SUCCESS":
            job.done = max(job.done, job.total)
            job.succeed(result if isinstance(result, dict) else {"result": result})
            logger.info("job %s: %s of take %s done", job.id, job.kind, job.take_id)
        elif state == "FAILURE":
            job.fail(_failure_kind(result), _failure_message(result))
            logger.warning("job %s: %s of take %s failed: %s", job.id, job.kind, job.take_id, job.message)
        elif state == "REVOKED":
            job.fail(JobFailure.CANCELLED, "cancelled on the processing cluster")
        return (job.status, job.stage, job.done, job.total) != before


def _app_from_environment() -> Celery:
    broker = os.environ.get(BROKER_ENV)
    if not broker:
        return make_celery(UNCONFIGURED_BROKER, "cache+memory://")
    timeout = float(os.environ.get(VISIBILITY_ENV) or DEFAULT_VISIBILITY_TIMEOUT_S)
    return make_celery(broker, os.environ.get(BACKEND_ENV) or None, timeout)


#: The app a processing station's worker runs (``celery -A jobs.celery_runner worker``).
celery_app = _app_from_environment()


@signals.celeryd_init.connect
def _refuse_unconfigured_worker(sender=None, instance=None, **kwargs):
    if instance is not None and getattr(instance, "app", None) is celery_app and \
            celery_app.conf.broker_url == UNCONFIGURED_BROKER:
        raise SystemExit(f"VSION processing station: set {BROKER_ENV} to the Redis URL of the processing "
                         f"cluster (e.g. redis://redis-host:6379/0) before starting the worker")
