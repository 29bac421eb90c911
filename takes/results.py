"""Attempts scored against their reference: what the process job needs, what it found, and progress.

An attempt follows a published version of a work card; when its processing is done, the
``process`` job (:func:`takes.tasks.compare_take_task`) compares it with that version's reference
take using that version's steps. :func:`record_job` stores what every job change says about
the take (processing state, metrics, the comparison) from the job listener.

Services run inside an app context, commit their own changes and raise
:class:`ServiceError` with a message for the user.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from accounts.policy import sees_results_of
from common.errors import ServiceError
from common.takefolder import PROCESSED_DIR
from database.base import db
from database.models import PROCESSING, Comparison, Take, User, WorkCard
from takes.service import set_processing
from takes.views import find_user, latest_comparison, latest_scores, take_view
from workcards.service import card_view, published_version

logger = logging.getLogger(__name__)

METRIC_KEYS = ("frames", "fps", "median_reprojection_px", "reconstructed_pct", "mean_segment_cv_pct",
               "reprojection_px", "safety_score", "high_risk_s", "rula_max", "reba_max")


# --------------------------------------------------------------------------- the job's parameters
def comparison_spec(take: Take, takes_dir: Path | str) -> dict | None:
    """What the process job compares an attempt with: its card version's reference take (its
    ``processed`` folder under ``takes_dir``) and steps; None for other takes."""
    if take.kind != "attempt" or take.work_card is None or not take.work_card_version:
        return None
    version = published_version(take.work_card, take.work_card_version)
    if version is None:
        return None
    steps = [{"name": s["name"], "start_s": s["start_s"], "end_s": s["end_s"], "ergonomics": s.get("ergonomics")}
             for s in version.snapshot.get("steps") or []]
    return {"reference_dir": str(Path(takes_dir) / version.reference_take_id / PROCESSED_DIR),
            "reference_take_id": version.reference_take_id, "work_card_version": version.version, "steps": steps}


def job_params(take: Take | None, takes_dir: Path | str) -> dict:
    """The parameters a take's process job carries besides its folder: whose take it is and what
    it is for (for the job status events), and for an attempt what to compare it with."""
    if take is None:
        return {"user_id": None, "work_card_id": None, "take_kind": "free"}
    params = {"user_id": take.user_id, "work_card_id": take.work_card_id, "take_kind": take.kind}
    spec = comparison_spec(take, takes_dir)
    if spec is not None:
        params["compare"] = spec
    elif take.kind == "reference" and take.work_card is not None:  # its steps are on its own timeline
        params["ergonomics_steps"] = [step.to_dict() for step in take.work_card.steps]
    return params


# --------------------------------------------------------------------------- the job's results
def _metrics(report: dict) -> dict:
    metrics = {key: report.get(key) for key in METRIC_KEYS if key in report}
    sync = report.get("sync")
    if isinstance(sync, dict):
        metrics["sync"] = {"method": sync.get("method"), "offsets": sync.get("offsets")}
    return metrics


def store_comparison(attempt_id: str, result: dict) -> Comparison:
    """Keep ``result`` (``scoring.motion.compare`` with ``reference_take_id`` and
    ``work_card_version``) as the latest comparison of attempt ``attempt_id``."""
    attempt = db.session.get(Take, attempt_id)
    if attempt is None or attempt.kind != "attempt":
        raise ServiceError(f"take {attempt_id} is not a registered attempt")
    reference = result.get("reference_take_id")
    version = result.get("work_card_version") or attempt.work_card_version
    if not isinstance(reference, str) or db.session.get(Take, reference) is None or not version:
        raise ServiceError(f"take {attempt_id}: the comparison does not name a known reference take")
    safety = result.get("safety") if isinstance(result.get("safety"), dict) else {}
    row = Comparison(attempt_id=attempt_id, reference_id=reference, work_card_version=int(version),
                     score=result.get("score"), per_step=list(result.get("per_step") or []),
                     per_joint=dict(result.get("per_joint") or {}), worst=list(result.get("worst") or []),
                     safety_score=safety.get("safety_score"), feedback=list(safety.get("feedback") or []))
    db.session.add(row)
    db.session.commit()
    logger.info("take %s: score %s against reference %s", attempt_id, row.score, reference)
    return row


def record_job(take_id: str, job_kind: str, status: str, message: str | None, report: dict | None,
               cancelled: bool = False) -> None:
    """Store what a change of a take's job says: the processing state (and metrics once done)
    and, for an attempt, its comparison. A job cancelled by a stop leaves the take ``cancelled``
    (processed again at the next start). A take that is not registered is left alone."""
    status = "cancelled" if cancelled else status
    if job_kind != "process" or status not in PROCESSING or db.session.get(Take, take_id) is None:
        return
    report = report if isinstance(report, dict) else {}
    if status == "done":
        message = message or report.get("comparison_error")
        set_processing(take_id, status, message, _metrics(report))
        if isinstance(report.get("comparison"), dict):
            store_comparison(take_id, report["comparison"])
    else:
        set_processing(take_id, status, message)


# --------------------------------------------------------------------------- reading them
def comparison_view(comparison: Comparison, details: dict | None = None) -> dict:
    """The contract's comparison object; ``details`` is the job's ``comparison.json`` (for
    ``difference_deg``, ``alignment`` and ``speed_ratio``, which the database does not keep)."""
    details = details if isinstance(details, dict) and details.get("reference_take_id") == comparison.reference_id \
        else {}
    return {"score": comparison.score, "difference_deg": details.get("difference_deg"),
            "per_step": comparison.per_step, "per_joint": comparison.per_joint, "worst": comparison.worst,
            "alignment": details.get("alignment") or [], "speed_ratio": details.get("speed_ratio"),
            "reference_take_id": comparison.reference_id, "work_card_version": comparison.work_card_version,
            "created_at": comparison.created_at.isoformat(), "safety_score": comparison.safety_score,
            "feedback": comparison.feedback or []}


def takes_with_scores(takes: list[Take]) -> list[dict]:
    """:func:`takes.service.take_view` of each take, with its latest score."""
    scores = latest_scores(t.id for t in takes if t.kind == "attempt")
    return [take_view(t, scores.get(t.id)) for t in takes]


def trainee_for(viewer: User, name: str | None) -> User:
    """Whose progress ``viewer`` asks for: themselves by default; staff may name anyone,
    trainees only themselves (anything else is "not found")."""
    if not name or name == viewer.username:
        return viewer
    user = find_user(name)
    if user is None or not sees_results_of(viewer, user):
        raise ServiceError("user not found")
    return user


def attempts_of(user: User, card: WorkCard) -> list[Take]:
    """``user``'s attempts at ``card``, oldest first."""
    query = sa.select(Take).where(Take.work_card_id == card.id, Take.user_id == user.id, Take.kind == "attempt")
    return list(db.session.scalars(query.order_by(Take.created_at, Take.id)))


def progress(viewer: User, card: WorkCard, name: str | None = None) -> dict:
    """``{"user", "attempts": [{"take_id", "created_at", "score", "per_step"}]}``, oldest first."""
    user = trainee_for(viewer, name)
    attempts = []
    for take in attempts_of(user, card):
        comparison = latest_comparison(take.id)
        attempts.append({"take_id": take.id, "created_at": take.created_at.isoformat(),
                         "score": comparison.score if comparison else None,
                         "per_step": comparison.per_step if comparison else [],
                         "processing": take.processing, "work_card_version": take.work_card_version})
    return {"user": user.username, "attempts": attempts}


def summary(viewer: User, card: WorkCard, name: str | None, details=lambda take: None) -> dict:
    """What the printable summary shows: the card, the trainee, their attempts (oldest first)
    with their comparisons; ``details(take)`` gives an attempt's ``comparison.json`` content."""
    user = trainee_for(viewer, name)
    attempts = []
    for take in attempts_of(user, card):
        comparison = latest_comparison(take.id)
        view = take_view(take, comparison.score if comparison else None)
        view["comparison"] = comparison_view(comparison, details(take)) if comparison else None
        attempts.append(view)
    return {"card": card_view(viewer, card), "trainee": user.username, "attempts": attempts,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
