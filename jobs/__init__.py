"""Background jobs (processing takes) behind one ``JobRunner`` interface.

The default runner is an in-process pool (:class:`LocalJobRunner`); the heavy work itself
(MediaPipe) runs in worker processes started by the reconstruction pipeline. When configured,
:class:`CeleryJobRunner` sends jobs to a processing cluster of Celery workers through Redis
(imported on first use, so the default runner never loads Celery).
"""
from jobs.runner import Job, JobCancelled, JobRunner, LocalJobRunner, process_take_task

__all__ = ["CeleryJobRunner", "Job", "JobCancelled", "JobRunner", "LocalJobRunner", "process_take_task"]


def __getattr__(name: str):
    if name == "CeleryJobRunner":
        from jobs.celery_runner import CeleryJobRunner

        return CeleryJobRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
