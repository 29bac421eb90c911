"""Background jobs (processing takes) behind one ``JobRunner`` interface.

The default runner is an in-process pool (:class:`LocalJobRunner`); the heavy work itself
(MediaPipe) runs in worker processes started by the reconstruction pipeline.
"""
from jobs.runner import Job, JobCancelled, JobRunner, LocalJobRunner, process_take_task

__all__ = ["Job", "JobCancelled", "JobRunner", "LocalJobRunner", "process_take_task"]
