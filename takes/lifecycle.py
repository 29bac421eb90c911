"""The life of a take: started by a user for a purpose, stopped (by them or by VSION itself),
registered in the database, processed in the background, and taken up again after a restart.

:class:`TakeLifecycle` is the one place these rules live. It is given the camera group, the job
runner, a way to open a database session from any thread (``session``, a context-manager
factory) and :class:`TakeEvents` to tell the pages; it never imports the web layer.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from accounts.policy import may_stop_take
from capture.group import RecordingError, VideoProcessor
from capture.takefile import Recording, TakeMeta
from common.errors import ServiceError
from common.files import write_json
from common.takefolder import PROCESS_JOB, TAKE_JSON
from database.models import User
from jobs.base import Job, JobFailure, JobRunner
from takes.history import close_interrupted_jobs, record_job_change
from takes.library import PROCESSED_STATUSES, reprocess_params
from takes.people import person_choice_params
from takes.results import job_params, record_job
from takes.service import (
    TakeBusy,
    interrupted_takes,
    recording_purpose,
    register_recorded_take,
    set_processing,
    takes_started_since,
)

logger = logging.getLogger(__name__)


class TakeEvents(Protocol):
    """How the lifecycle tells the pages; the web layer decides who hears what."""

    def recording_status(self, state: dict) -> None:
        """A take started or stopped (``state`` carries its owner's ``user_id``)."""

    def recording_error(self, error: dict, owner_id: int | None) -> None:
        """VSION stopped a take by itself: ``{"event", "code", "message"}``."""

    def job_status(self, job: Job) -> None:
        """A take's background job changed."""

    def present(self, user_id: int | None) -> bool:
        """Has ``user_id`` a page or script connected now?"""


class LimitReached(ServiceError):
    """A user reached one of their limits (``limits`` in config.yaml); the message says which."""


Places = Callable[[int, int], list]  # (start, stop) monotonic ns -> rows [t s, x m, y m]


class TakeLifecycle:
    """Starts, stops, registers, processes and resumes takes. Thread-safe: the camera group
    serialises recording; database work runs in its own ``session()`` per call.

    ``places`` (optional) tells where the worker chosen in the live view stood between two
    monotonic times (:meth:`live.pose.LivePose.chosen_places`): a take keeps them in its
    ``take.json`` (``person_hint``), and its processing takes the person found there as the worker.
    """

    def __init__(self, processor: VideoProcessor, jobs: JobRunner, session: Callable[[], contextlib.AbstractContextManager],
                 events: TakeEvents, places: Places | None = None):
        self.processor, self.jobs, self.session, self.events = processor, jobs, session, events
        self._owner_gone_at: float | None = None  # monotonic s since the take's starter has no link open
        self.places = places
        self._submitting = threading.Lock()  # "is it busy?" and "queue it" as one step
        processor.on_auto_stop = self.take_auto_stopped
        processor.stop_rule = self._orphaned

    @property
    def takes_dir(self) -> Path:
        return self.processor.takes_dir

    # ---- recording
    def recording_state(self) -> dict:
        """The camera group's recording state, with the work card, kind and owner of the take recording."""
        state = self.processor.recording_state()
        take = self.processor.take
        if take is None or not state.get("recording"):
            return {**state, "work_card_id": None, "kind": None}
        return {**state, "work_card_id": take.meta.work_card, "kind": take.meta.kind, "user_id": take.meta.user_id}

    def start_take(self, user: User, label: str | None = None, work_card_id: int | None = None,
                   kind: str | None = None) -> dict:
        """Start recording a take by ``user`` for a purpose they may record
        (:func:`takes.service.recording_purpose`, raising ServiceError); returns the state. The take
        is registered at once, so a crash cannot leave it unknown."""
        with self.session():
            card, kind = recording_purpose(user, work_card_id, kind)
            self._check_limits(user)
            meta = TakeMeta(user_id=user.id, created_by=user.username, label=label,
                            work_card=card.id if card is not None else None, kind=kind)
        self._owner_gone_at = None
        state = self.processor.start_recording(meta)
        logger.info("user %s started take %s (%s%s)", user.username, state["take_id"], kind,
                    f", work card {meta.work_card}" if meta.work_card is not None else "")
        self._register(self.processor.take.to_dict())
        state = {**state, "work_card_id": meta.work_card, "kind": kind, "user_id": user.id}
        self.events.recording_status(state)
        return state

    def _check_jobs(self, user: User) -> None:
        """Raise :class:`LimitReached` when ``user`` has ``limits.jobs_per_user`` jobs waiting or
        running (of their takes, or queued by them)."""
        limit = self.processor.settings.limits.jobs_per_user
        waiting = sum(1 for job in self.jobs.jobs() if not job.finished
                      and user.id in (job.params.get("user_id"), job.params.get("queued_by")))
        if waiting >= limit:
            raise LimitReached(f"{waiting} of your takes are still waiting to be processed (at most {limit}, "
                               "limits.jobs_per_user): try again once they are done")

    def _check_limits(self, user: User) -> None:
        """Raise :class:`LimitReached` when ``user`` has too many takes waiting for processing or
        started too many takes in the last hour (``limits`` in config.yaml)."""
        self._check_jobs(user)
        limit = self.processor.settings.limits.takes_per_hour
        started = takes_started_since(user.id, datetime.now(UTC) - timedelta(hours=1))
        if started >= limit:
            raise LimitReached(f"you started {started} takes in the last hour (at most {limit}, "
                               "limits.takes_per_hour): wait a while, or ask an administrator")

    def _orphaned(self, take: Recording) -> tuple[str, str] | None:
        """The take monitor's rule (every 0.5 s): stop a take whose starter has had no page or
        script connected for ``recording.orphan_stop_s``; a link back in time keeps it."""
        if self.events.present(take.meta.user_id):
            self._owner_gone_at = None
            return None
        now = time.monotonic()
        if self._owner_gone_at is None:
            self._owner_gone_at = now
            logger.info("take %s: the user who started it has no page open any more", take.id)
        limit = self.processor.settings.recording.orphan_stop_s
        if now - self._owner_gone_at < limit:
            return None
        return "orphaned", (f"recording stopped: the page that started this take was closed {limit:g} s ago "
                            "(recording.orphan_stop_s); the take is kept up to this point")

    def stop_take(self, user: User, take_id: str | None = None) -> dict:
        """Stop the take recording (trainees: only their own), register it and queue its
        processing; returns the ``recording status`` state."""
        current = self.processor.take
        if current is not None and not may_stop_take(user, current.meta.user_id):
            raise RecordingError("this take was started by someone else: they or a technician stop it")
        take = self.processor.stop_recording(take_id)
        logger.info("user %s stopped take %s", user.username, take["id"])
        state = self.stopped_state(take)
        self.events.recording_status(state)
        self.take_stopped(take, queued_by=user.id)
        return state

    def stopped_state(self, take: dict) -> dict:
        """The ``recording status`` state of a take that just stopped (its take.json in ``take``);
        ``stop_reason`` and ``message`` say why when VSION stopped it by itself."""
        meta = TakeMeta.from_json(take)
        return {"recording": False, "take_id": take["id"], "status": take["status"], "take": take, "work_card_id": meta.work_card, "kind": meta.kind,
                "user_id": meta.user_id, "stop_reason": take.get("stop_reason"), "message": take.get("stop_message")}

    def take_auto_stopped(self, take: dict) -> None:
        """The camera group stopped a take by itself (disk almost full...): tell the pages why,
        then register and process the take like one stopped by a user."""
        state = self.stopped_state(take)
        try:
            self.events.recording_status(state)
            self.events.recording_error({"event": "stop recording", "code": take.get("stop_reason") or "stopped",
                                         "message": take.get("stop_message")}, state["user_id"])
        except Exception:  # noqa: BLE001 - the take must still be registered
            logger.exception("take %s: could not tell the pages it stopped", take["id"])
        self.take_stopped(take)

    # ---- registration and processing
    def _register(self, take: dict) -> dict:
        """Record ``take`` (its take.json) in the database; the job parameters of its row ({} when
        it could not be registered). One transaction: a crash leaves the row before or after."""
        try:
            with self.session():
                row = register_recorded_take(take, self.takes_dir / take["id"])
                return job_params(row, self.takes_dir) if row is not None else {}
        except ServiceError as exc:
            logger.error("take %s: not registered: %s", take["id"], exc)
        except Exception:  # noqa: BLE001 - the take is on disk: it must still be processed
            logger.exception("take %s: not registered", take["id"])
        return {}

    def take_stopped(self, take: dict, submit: bool = True, queued_by: int | None = None) -> None:
        """Register a finished take and process it in the background (outputs in
        ``<take>/processed``; an attempt is then compared with its reference). An interrupted take
        is processed too: its files are readable up to the crash. ``queued_by``: the user whose
        action queues the job (None: VSION itself)."""
        take = self._keep_choice(take)
        params = self._register(take)
        if take.get("status") not in PROCESSED_STATUSES or not submit:
            return
        try:
            self.jobs.submit(PROCESS_JOB, take["id"], {"take_dir": str(self.takes_dir / take["id"]), **params,
                                                     "queued_by": queued_by})
        except RuntimeError:  # the server is stopping (a take stopped by itself meanwhile): next start
            logger.info("take %s: the server is stopping; processed at the next start", take["id"])
            self._mark_queued(take["id"])

    def _keep_choice(self, take: dict) -> dict:
        """``take`` with the places of the worker chosen in the live view while it recorded
        (``person_hint``), written into its take.json; unchanged when nobody was chosen."""
        start, stop = (take.get("start") or {}).get("monotonic_ns"), (take.get("stop") or {}).get("monotonic_ns")
        if self.places is None or not isinstance(start, int) or not isinstance(stop, int):
            return take
        rows = self.places(start, stop)
        if not rows:
            return take
        take = {**take, "person_hint": rows}
        try:
            write_json(self.takes_dir / take["id"] / TAKE_JSON, take)
        except OSError as exc:
            logger.warning("take %s: the chosen worker's places could not be kept (%s)", take["id"], exc)
        else:
            logger.info("take %s: the worker chosen in the live view is kept (%d places)", take["id"], len(rows))
        return take

    def job_changed(self, job: Job) -> None:
        """The job listener (called from the runner's threads): keep the job in the history, store
        what it says about its take, then tell the pages."""
        try:
            with self.session():
                record_job_change(job)
        except Exception:  # noqa: BLE001 - the take and the pages must still hear about the job
            logger.exception("job %s: not kept in the job history", job.id)
        try:
            with self.session():
                record_job(job.take_id, job.kind, str(job.status), job.message, job.report,
                           cancelled=job.failure == JobFailure.CANCELLED)
        except Exception:  # noqa: BLE001 - the pages must still hear about the job
            logger.exception("job %s: its take %s could not be updated", job.id, job.take_id)
        self.events.job_status(job)

    def reprocess(self, user: User, take_id: str) -> Job:
        """Queue take ``take_id`` for processing again, asked by ``user``; the job reports its
        progress as any other (``job status`` events, the job history). Raises ServiceError
        ("take not found"), :class:`~takes.library.TakeRefused`, :class:`TakeBusy` (recorded,
        queued or processed now: asking twice queues one job) or :class:`LimitReached`."""
        job = self._resubmit(user, take_id, "process it again", lambda settings: reprocess_params(
            user, take_id, self.takes_dir, settings.calibration_path))
        logger.info("user %s: take %s queued for processing again (job %s)", user.username, take_id, job.id)
        return job

    def choose_person(self, user: User, take_id: str, person: int | None) -> Job:
        """Make ``person`` the worker of processed take ``take_id`` (None: the work area decides),
        asked by ``user``, and queue the job that re-exports and scores the take for them. Raises
        as :meth:`reprocess` does, or ServiceError for a person the take does not have."""
        job = self._resubmit(user, take_id, "choose its worker", lambda settings: person_choice_params(
            user, take_id, person, self.takes_dir, settings.calibration_path))
        logger.info("user %s: take %s queued for its new worker (job %s)", user.username, take_id, job.id)
        return job

    def _resubmit(self, user: User, take_id: str, then: str, params: Callable) -> Job:
        """Queue a ``process`` job on a take already registered, with ``params(settings)`` (worked
        out in a database session): ``user``'s job limit and the take being busy checked first."""
        with self._submitting:
            self._check_jobs(user)
            if self.busy(take_id):
                raise TakeBusy(f"this take is being recorded or processed: wait until it is finished, then {then}")
            with self.session():
                made = params(self.processor.settings)
            return self.jobs.submit(PROCESS_JOB, take_id, made)

    def busy(self, take_id: str) -> bool:
        """Is the take recording now, or has it a processing job queued or running here?"""
        recording = self.processor.take
        if recording is not None and recording.id == take_id:
            return True
        return any(job.take_id == take_id and not job.finished for job in self.jobs.jobs())

    def _mark_queued(self, take_id: str) -> None:
        try:
            with self.session():
                set_processing(take_id, "queued", "waiting for the next start")
        except Exception:  # noqa: BLE001 - not registered: nothing to resume
            logger.warning("take %s: left unprocessed", take_id)

    # ---- restart and shutdown
    def resume(self) -> None:
        """At start: from the database, queue again the processing a stop or a crash interrupted
        (takes left queued, running or cancelled; their unfinished jobs are marked cancelled in the
        history), then register and process the takes a killed server left."""
        try:
            with self.session():
                close_interrupted_jobs()
                pending = interrupted_takes(self.takes_dir)
        except Exception:  # noqa: BLE001 - a start must not fail on this
            logger.exception("could not look for interrupted processing")
            pending = []
        for take in pending:
            logger.info("take %s: processing interrupted by the last stop, queued again", take["id"])
            self.take_stopped(take)
        for take in self.processor.interrupted:
            logger.info("take %s: interrupted by the last stop, registered and queued for processing", take["id"])
            self.take_stopped(take)

    def shutdown(self) -> None:
        """Finish a take in progress (registered, to be processed at the next start)."""
        if self.processor.take is None:
            return
        try:
            take = self.processor.stop_recording()
        except RecordingError:
            return
        self.take_stopped(take, submit=False)
        self._mark_queued(take["id"])

