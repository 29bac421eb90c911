"""The ``JobRunner`` interface and its default in-process implementation."""
from __future__ import annotations

import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

PROCESSED_DIR = "processed"  # a take's outputs: <take>/processed/
MAX_KEPT = 50                # finished jobs remembered for the page (oldest forgotten first)
SUMMARY_KEYS = ("median_reprojection_px", "reconstructed_pct", "mean_segment_cv_pct", "frames")
COMPARISON_FILE = "comparison.json"  # an attempt's comparison with its reference, in <take>/processed/


class JobCancelled(Exception):
    """Raised inside a job when the runner shuts down."""


@dataclass
class Job:
    """One background job. Mutated only by the runner's worker thread; read through ``to_dict``."""

    kind: str
    take_id: str
    params: dict
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    status: str = "queued"          # queued | running | done | failed
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str | None = None
    report: dict | None = None
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        """The ``job status`` event payload (a summary of the report, never the parameters).

        ``kind`` is the job's kind (a key of ``TASKS``: ``process``); ``take_kind`` and ``work_card_id``
        say what the take is for (``free`` / None for takes recorded outside a work card). The
        report of an attempt compared with its reference also carries ``score`` (0-100).
        """
        summary = None
        if self.report:
            summary = {key: self.report.get(key) for key in SUMMARY_KEYS}
            if "score" in self.report:
                summary["score"] = self.report["score"]
        return {"id": self.id, "take_id": self.take_id, "kind": self.kind, "status": self.status, "stage": self.stage,
                "done": self.done, "total": self.total, "message": self.message, "report": summary,
                "created": self.created, "work_card_id": self.params.get("work_card_id"),
                "take_kind": self.params.get("take_kind", "free")}


def process_take_task(params: dict, progress) -> dict:
    """The ``process`` job: a take folder, its calibration, outputs in ``<take>/processed``."""
    from calibration.io import CalibrationFileError, load_calibration
    from reconstruction.pipeline import Options, ProcessError, process_take

    take_dir = Path(params["take_dir"])
    calibration = take_dir / "calibration.toml"
    if not calibration.is_file():
        raise ProcessError("no calibration was in force when this take was recorded: calibrate the cameras "
                           "(Calibration page), then process the take again")
    try:
        group = load_calibration(calibration)
    except CalibrationFileError as exc:
        raise ProcessError(str(exc)) from None
    options = Options(nice=int(params.get("nice", 10)), workers=params.get("workers"))
    report = process_take(take_dir, group, take_dir / PROCESSED_DIR, options, progress)
    if params.get("compare"):
        report = {**report, **compare_take_task(params, progress)}
    return report


def compare_take_task(params: dict, progress) -> dict:
    """The last step of the ``process`` job for an attempt: score the processed
    take ``<take_dir>/processed`` against ``params["compare"]``:
    ``{"reference_dir", "reference_take_id", "work_card_version", "steps": [{"name", "start_s", "end_s"}]}``.

    Returns ``{"score": float | None, "comparison": {...} | None, "comparison_error": str | None}``;
    the full result (``training.comparison.compare`` plus ``reference_take_id`` and
    ``work_card_version``) is also written to ``<take>/processed/comparison.json``. A comparison
    that cannot be made (e.g. no joint seen in both takes) is reported, not raised: the take's
    processing itself succeeded.
    """
    from reconstruction.exports import ExportError, write_json
    from training.comparison import Step, compare_folders

    spec = params.get("compare")
    if not isinstance(spec, dict) or not spec.get("reference_dir"):
        raise ValueError("nothing to compare this take with: it is not an attempt at a published work card")
    processed = Path(params["take_dir"]) / PROCESSED_DIR
    progress(0, 1, "comparison")
    try:
        steps = [Step(str(s["name"]), float(s["start_s"]), float(s["end_s"])) for s in spec.get("steps") or []]
        result = compare_folders(processed, Path(spec["reference_dir"]), steps)
    except Exception as exc:  # noqa: BLE001 - the take's own outputs stand even if its comparison fails
        message = f"the comparison with the reference failed: {exc}"
        logger.warning("take %s: %s", Path(params["take_dir"]).name, message)
        progress(1, 1, "comparison")
        return {"score": None, "comparison": None, "comparison_error": message}
    result.pop("attempt", None)
    result.pop("reference", None)  # server paths: not for the pages
    result["reference_take_id"] = spec.get("reference_take_id")
    result["work_card_version"] = spec.get("work_card_version")
    try:
        write_json(processed / COMPARISON_FILE, result)
    except ExportError as exc:
        logger.warning("take %s: %s", Path(params["take_dir"]).name, exc)
    progress(1, 1, "comparison")
    return {"score": result["score"], "comparison": result, "comparison_error": None}


TASKS: dict[str, Callable[[dict, Callable], dict]] = {"process": process_take_task}


class JobRunner(ABC):
    """Runs jobs in the background and reports every change to ``listener(job)``."""

    def __init__(self, listener: Callable[[Job], None] | None = None):
        self.listener = listener

    @abstractmethod
    def submit(self, kind: str, take_id: str, params: dict) -> Job:
        """Queue a job of ``kind`` (a key of ``TASKS``); returns at once."""

    @abstractmethod
    def jobs(self) -> list[Job]:
        """Known jobs, newest first."""

    @abstractmethod
    def shutdown(self) -> None:
        """Cancel what is queued or running and stop the workers."""

    def _notify(self, job: Job) -> None:
        if self.listener is not None:
            try:
                self.listener(job)
            except Exception:  # noqa: BLE001 - a failed notification must not fail the job
                logger.exception("job %s: status listener failed", job.id)


class LocalJobRunner(JobRunner):
    """Jobs one at a time in a worker thread of this process (the default runner).

    Thread-safety: ``submit``, ``jobs`` and ``shutdown`` may be called from any thread.
    """

    def __init__(self, listener=None, tasks: dict | None = None, progress_period_s: float = 0.5):
        super().__init__(listener)
        self.tasks = TASKS if tasks is None else tasks
        self.progress_period_s = progress_period_s
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def submit(self, kind: str, take_id: str, params: dict) -> Job:
        if kind not in self.tasks:
            raise ValueError(f"unknown job kind {kind!r}")
        if self._stop.is_set():
            raise RuntimeError("the job runner is stopped")
        job = Job(kind=kind, take_id=take_id, params=dict(params))
        with self._lock:
            self._jobs.insert(0, job)
            finished = [j for j in self._jobs if j.status in ("done", "failed")]
            for old in finished[MAX_KEPT:]:
                self._jobs.remove(old)
        logger.info("job %s: %s of take %s queued", job.id, kind, take_id)
        self._notify(job)  # before the worker can announce "running"
        self._pool.submit(self._run, job)
        return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def _run(self, job: Job) -> None:
        if self._stop.is_set():
            return
        job.status = "running"
        self._notify(job)
        last = [0.0, ""]

        def progress(done, total, stage):
            if self._stop.is_set():
                raise JobCancelled
            job.done, job.total, job.stage = int(done), int(total), str(stage)
            now = time.monotonic()
            if stage != last[1] or done >= total or now - last[0] >= self.progress_period_s:
                last[:] = [now, stage]
                self._notify(job)

        started = time.monotonic()
        try:
            job.report = self.tasks[job.kind](job.params, progress)
            job.status = "done"
            logger.info("job %s: %s of take %s done in %.1f s", job.id, job.kind, job.take_id,
                        time.monotonic() - started)
        except JobCancelled:
            job.status, job.message = "failed", "cancelled: the server stopped"
            logger.info("job %s: cancelled", job.id)
        except ValueError as exc:  # bad input: the message says what to do
            job.status, job.message = "failed", str(exc)
            logger.warning("job %s: %s", job.id, exc)
        except Exception as exc:  # noqa: BLE001 - a crashed job is reported, the runner goes on
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
            logger.exception("job %s failed", job.id)
        self._notify(job)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for job in self._jobs:
                if job.status == "queued":
                    job.status, job.message = "failed", "cancelled: the server stopped"
                    self._notify(job)
