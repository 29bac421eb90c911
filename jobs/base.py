"""The ``JobRunner`` interface: background jobs with states, progress and a listener.

Infrastructure only: what a job does is a *task*, a function ``task(params, progress) -> report``
given to the runner by its owner (VSION's domain tasks live in :mod:`takes.tasks`). ``progress``
is the one progress signature of VSION: ``progress(done, total, stage)``.
"""
from __future__ import annotations

import enum
import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

MAX_KEPT = 50  # finished jobs a runner remembers (oldest forgotten first)
# The report's figures shown with a job's status (the rest of a report stays on the server).
SUMMARY_KEYS = ("median_reprojection_px", "reconstructed_pct", "mean_segment_cv_pct", "frames")
# ... and those of a calibration from a take, when it has them.
EXTRA_SUMMARY_KEYS = ("score", "safety_score", "mode", "camera", "rms_px", "calibration_set", "errors_px")

Progress = Callable[[int, int, str], None]
Task = Callable[[dict, Progress], dict]


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobFailure(enum.StrEnum):
    """Why a failed job failed: bad input (its message says what to do), a crash, or cancelled
    (the server stopped or the cluster revoked it: the job may run again)."""

    INPUT = "input"
    CRASH = "crash"
    CANCELLED = "cancelled"


class JobCancelled(Exception):
    """Raised inside a job when the runner shuts down."""


@dataclass
class Job:
    """One background job. Mutated only by its runner; read through :meth:`to_dict`."""

    kind: str
    take_id: str
    params: dict
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    status: JobStatus = JobStatus.QUEUED
    failure: JobFailure | None = None
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str | None = None
    report: dict | None = None
    created: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def fail(self, failure: JobFailure, message: str) -> None:
        self.status, self.failure, self.message, self.finished_at = JobStatus.FAILED, failure, message, time.time()

    def succeed(self, report: dict) -> None:
        self.status, self.report, self.finished_at = JobStatus.DONE, report, time.time()

    def to_dict(self) -> dict:
        """The ``job status`` event payload: a summary of the report, never the parameters.

        ``take_kind`` and ``work_card_id`` say what the take is for (``free`` / None outside a
        work card); the report of an attempt compared with its reference also carries ``score``.
        """
        summary = None
        if self.report:
            summary = {key: self.report.get(key) for key in SUMMARY_KEYS}
            for key in EXTRA_SUMMARY_KEYS:
                if key in self.report:
                    summary[key] = self.report[key]
        return {"id": self.id, "take_id": self.take_id, "kind": self.kind, "status": str(self.status),
                "stage": self.stage, "done": self.done, "total": self.total, "message": self.message,
                "report": summary, "created": self.created, "work_card_id": self.params.get("work_card_id"),
                "take_kind": self.params.get("take_kind", "free")}


class JobRunner(ABC):
    """Runs jobs in the background and reports every change to ``listener(job)``.

    ``tasks`` maps a job kind to its task. Subclasses keep their jobs with :meth:`_remember`,
    which forgets the oldest finished ones beyond :data:`MAX_KEPT`.
    """

    def __init__(self, listener: Callable[[Job], None] | None, tasks: Mapping[str, Task]):
        self.listener = listener
        self.tasks = dict(tasks)
        self._jobs: list[Job] = []
        self._jobs_lock = threading.Lock()

    @abstractmethod
    def submit(self, kind: str, take_id: str, params: dict) -> Job:
        """Queue a job of ``kind`` (a key of :attr:`tasks`); returns at once."""

    @abstractmethod
    def shutdown(self) -> None:
        """Cancel what is queued or running and stop the workers."""

    def jobs(self) -> list[Job]:
        """Known jobs, newest first. Thread-safe."""
        with self._jobs_lock:
            return list(self._jobs)

    def _new_job(self, kind: str, take_id: str, params: dict) -> Job:
        if kind not in self.tasks:
            raise ValueError(f"unknown job kind {kind!r}")
        return Job(kind=kind, take_id=take_id, params=dict(params))

    def _remember(self, job: Job) -> None:
        with self._jobs_lock:
            self._jobs.insert(0, job)
            finished = [j for j in self._jobs if j.finished]
            for old in finished[MAX_KEPT:]:
                self._jobs.remove(old)

    def _notify(self, job: Job) -> None:
        if self.listener is not None:
            try:
                self.listener(job)
            except Exception:  # noqa: BLE001 - a failed notification must not fail the job
                logger.exception("job %s: status listener failed", job.id)
