"""Board detection on many pictures at once, on a pool of worker processes.

Detection is CPU-bound C++ holding the GIL for part of its time, so processes (``spawn``:
nothing inherited from a server's threads) rather than threads. Each worker runs OpenCV on
one thread: the pool, not OpenCV, spreads the work over the cores. Tasks are submitted a few
at a time, so a long video never sits whole in memory.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cv2

logger = logging.getLogger(__name__)

TASKS_PER_WORKER = 4  # submitted ahead of the results, per worker


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    cv2.setNumThreads(1)


def run_tasks(fn: Callable[[Any], Any], tasks: Iterable, workers: int | None = None) -> Iterator[tuple[Any, Any]]:
    """``(task, fn(task))`` for every task, in completion order.

    ``fn`` must be a module-level function and tasks picklable. ``workers`` defaults to the
    usable cores; with one worker the tasks run here, in order, without a pool. An exception
    raised by ``fn`` is raised here, and the remaining tasks are cancelled. Not reentrant from
    a worker.
    """
    workers = default_workers() if workers is None else max(1, int(workers))
    if workers == 1:
        for task in tasks:
            yield task, fn(task)
        return
    ctx = multiprocessing.get_context("spawn")
    pending: dict[cf.Future, Any] = {}
    source = iter(tasks)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
        try:
            while True:
                for task in source:
                    pending[pool.submit(fn, task)] = task
                    if len(pending) >= TASKS_PER_WORKER * workers:
                        break
                if not pending:
                    return
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()
