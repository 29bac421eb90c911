"""The default runner: jobs one at a time in a worker thread of this process."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from jobs.base import Job, JobCancelled, JobFailure, JobRunner, JobStatus, Task

logger = logging.getLogger(__name__)

CANCELLED_MESSAGE = "cancelled: the server stopped"


class LocalJobRunner(JobRunner):
    """Jobs one at a time in a worker thread of this process (the heavy work, MediaPipe, runs in
    worker processes the tasks start themselves).

    Thread-safety: ``submit``, ``jobs`` and ``shutdown`` may be called from any thread.
    """

    def __init__(self, listener: Callable[[Job], None] | None, tasks: Mapping[str, Task],
                 progress_period_s: float = 0.5):
        super().__init__(listener, tasks)
        self.progress_period_s = progress_period_s
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def submit(self, kind: str, take_id: str, params: dict) -> Job:
        job = self._new_job(kind, take_id, params)
        if self._stop.is_set():
            raise RuntimeError("the job runner is stopped")
        self._remember(job)
        logger.info("job %s: %s of take %s queued", job.id, kind, take_id)
        self._notify(job)  # before the worker can announce "running"
        self._pool.submit(self._run, job)
        return job

    def _progress(self, job: Job):
        last = [0.0, ""]

        def progress(done, total, stage):
            if self._stop.is_set():
                raise JobCancelled
            job.done, job.total, job.stage = int(done), int(total), str(stage)
            now = time.monotonic()
            if stage != last[1] or done >= total or now - last[0] >= self.progress_period_s:
                last[:] = [now, stage]
                self._notify(job)

        return progress

    def _run(self, job: Job) -> None:
        if self._stop.is_set():
            return
        job.status = JobStatus.RUNNING
        self._notify(job)
        started = time.monotonic()
        try:
            job.succeed(self.tasks[job.kind](job.params, self._progress(job)))
            logger.info("job %s: %s of take %s done in %.1f s", job.id, job.kind, job.take_id,
                        time.monotonic() - started)
        except JobCancelled:
            job.fail(JobFailure.CANCELLED, CANCELLED_MESSAGE)
            logger.info("job %s: cancelled", job.id)
        except ValueError as exc:  # bad input: the message says what to do
            job.fail(JobFailure.INPUT, str(exc))
            logger.warning("job %s: %s", job.id, exc)
        except Exception as exc:  # noqa: BLE001 - a crashed job is reported, the runner goes on
            job.fail(JobFailure.CRASH, f"{type(exc).__name__}: {exc}")
            logger.exception("job %s failed", job.id)
        self._notify(job)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for job in self.jobs():
            if job.status == JobStatus.QUEUED:
                job.fail(JobFailure.CANCELLED, CANCELLED_MESSAGE)
                self._notify(job)
