"""The job history: every background job on a take as its runner last reported it, kept in the
database (:class:`~database.models.JobRecord`, table ``jobs``) so it survives a restart.

:func:`record_job_change` is called by the take lifecycle's job listener (from the runner's
threads, each with its own app context); :func:`close_interrupted_jobs` at start, for the jobs a
stop or a crash left unfinished; :func:`list_jobs` reads the history as the policy lets a user
see it (:func:`accounts.policy.visible_jobs`).

Services run inside an app context and commit their own changes.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from accounts.policy import visible_jobs
from database.base import db
from database.models import JobRecord, Take, User
from jobs.base import Job, JobFailure
from takes.schemas import JobQuery
from takes.views import iso, page_of

logger = logging.getLogger(__name__)

MAX_MESSAGE = 2_000
MAX_STAGE = 40
UNFINISHED = ("queued", "running")
INTERRUPTED = "interrupted: the server stopped before this job finished; the take is processed again"


def _time(seconds: float | None) -> datetime | None:
    """A runner's wall-clock time (s since the epoch) as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(seconds), UTC) if seconds is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def job_state(job: Job) -> str:
    """The history's status of ``job``: the runner's, with ``cancelled`` for a cancelled failure."""
    return "cancelled" if job.failure == JobFailure.CANCELLED else str(job.status)


def _count(value) -> int:
    return max(0, min(int(value or 0), 2**31 - 1))


def _queued_by(params: dict) -> int | None:
    """Who queued the job (``params["queued_by"]``, a user id), if that user exists."""
    user_id = params.get("queued_by") if isinstance(params, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    return user_id if db.session.get(User, user_id) is not None else None


def _apply(row: JobRecord, job: Job, now: datetime) -> None:
    status = job_state(job)
    row.status, row.stage = status, str(job.stage or "")[:MAX_STAGE]
    row.done, row.total = _count(job.done), _count(job.total)
    row.message = job.message[:MAX_MESSAGE] if job.message else None
    row.failure = str(job.failure) if job.failure else None
    if status == "running" and row.started_at is None:
        row.started_at = now
    if job.finished:
        row.finished_at = _time(job.finished_at) or now
    summary = job.to_dict()["report"]
    if summary is not None:
        row.report = summary


def record_job_change(job: Job) -> JobRecord | None:
    """Store the state ``job`` reports (one row per job id, created at its first report); None for
    a job whose take is not registered (nothing to attach it to). Thread-safe with one app
    context per thread."""
    if not isinstance(job.take_id, str) or db.session.get(Take, job.take_id) is None:
        logger.debug("job %s: take %s is not registered: not kept in the history", job.id, job.take_id)
        return None
    for attempt in (1, 2):
        now = datetime.now(UTC)
        row = db.session.get(JobRecord, job.id)
        if row is None:
            row = JobRecord(id=str(job.id)[:64], kind=str(job.kind)[:32], take_id=job.take_id,
                            created_at=_time(job.created) or now, queued_by_id=_queued_by(job.params))
            db.session.add(row)
        _apply(row, job, now)
        try:
            db.session.commit()
            return row
        except IntegrityError:
            db.session.rollback()  # added by another thread meanwhile: update that row
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def close_interrupted_jobs() -> list[str]:
    """At start: the jobs a stop or a crash left queued or running can no longer finish; mark
    them ``cancelled`` (the lifecycle processes their takes again). Returns their take ids."""
    rows = db.session.scalars(sa.select(JobRecord).where(JobRecord.status.in_(UNFINISHED))).all()
    now = datetime.now(UTC)
    for row in rows:
        row.status, row.failure, row.message, row.finished_at = "cancelled", "cancelled", INTERRUPTED, now
    db.session.commit()
    if rows:
        logger.info("%d job(s) left unfinished by the last stop marked cancelled", len(rows))
    return sorted({row.take_id for row in rows})


def _filtered(user: User, query: JobQuery):
    stmt = sa.select(JobRecord).where(visible_jobs(user))
    if query.status is not None:
        stmt = stmt.where(JobRecord.status == query.status)
    if query.take is not None:
        stmt = stmt.where(JobRecord.take_id == query.take)
    if query.kind is not None:
        stmt = stmt.where(JobRecord.kind == query.kind)
    if query.since is not None:
        stmt = stmt.where(JobRecord.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(JobRecord.created_at < query.until)
    return stmt


def list_jobs(user: User, query: JobQuery) -> dict:
    """One page of the jobs ``user`` may see, newest first, filtered by ``query``:
    ``{"jobs": [job_view...], "total", "page", "per_page", "pages"}``."""
    stmt = _filtered(user, query).order_by(JobRecord.created_at.desc(), JobRecord.id.desc()) \
        .options(selectinload(JobRecord.take), selectinload(JobRecord.queued_by))
    rows, page = page_of(stmt, query.page, query.per_page)
    return {"jobs": [job_view(row) for row in rows], **page}


def job_view(row: JobRecord) -> dict:
    """A job of the history as the pages read it: the ``job status`` event's fields (``created``
    in s since the epoch) plus ``failure``, ISO times, who queued it and the take's label."""
    take = row.take
    return {"id": row.id, "take_id": row.take_id, "kind": row.kind, "status": row.status, "stage": row.stage,
            "done": row.done, "total": row.total, "message": row.message, "failure": row.failure,
            "report": row.report, "created": row.created_at.timestamp(), "created_at": iso(row.created_at),
            "started_at": iso(row.started_at), "finished_at": iso(row.finished_at),
            "queued_by": row.queued_by.username if row.queued_by else None,
            "work_card_id": take.work_card_id if take else None, "take_kind": take.kind if take else None,
            "take_label": take.label if take else None}
