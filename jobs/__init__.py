"""Background jobs behind one ``JobRunner`` interface: infrastructure only.

:class:`~jobs.local.LocalJobRunner` (the default) runs jobs one at a time in this process;
:class:`~jobs.celery_runner.CeleryJobRunner` sends them to a processing cluster of Celery workers
through Redis (imported on first use, so the default runner never loads Celery). What a job does
is a task given by the runner's owner (VSION's: :mod:`takes.tasks`).
"""
from jobs.base import Job, JobCancelled, JobFailure, JobRunner, JobStatus
from jobs.local import LocalJobRunner

__all__ = ["CeleryJobRunner", "Job", "JobCancelled", "JobFailure", "JobRunner", "JobStatus", "LocalJobRunner"]


def __getattr__(name: str):
    if name == "CeleryJobRunner":
        from jobs.celery_runner import CeleryJobRunner

        return CeleryJobRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
