"""What the pages show of takes: the take object of the contract, a take's detail, a card's
takes, the latest scores. Read-only queries; who sees what is :mod:`accounts.policy`'s."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from accounts.policy import card_takes_shown
from accounts.users import USERNAME
from common.errors import ServiceError
from database.base import db
from database.models import Comparison, Take, User, WorkCard
from takes import files as takefiles
from takes.service import list_takes
from workcards.service import card_content, published_version


def iso(when: datetime | None) -> str | None:
    """``when`` in ISO 8601 (None stays None)."""
    return when.isoformat() if when else None


def page_of(stmt, page: int, per_page: int) -> tuple[list, dict]:
    """Rows ``(page - 1) * per_page`` on of the select ``stmt`` (ordered by the caller), and
    ``{"total", "page", "per_page", "pages"}`` (the count of every matching row)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(db.session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)))
    return rows, {"total": total, "page": page, "per_page": per_page, "pages": -(-total // per_page)}


def take_view(take: Take, score: float | None = None) -> dict:
    """The contract's ``take`` object (JSON-ready); ``score`` from the attempt's latest comparison."""
    return {"id": take.id, "kind": take.kind, "user": take.user.username, "work_card_id": take.work_card_id,
            "work_card_version": take.work_card_version, "created_at": iso(take.created_at),
            "duration_s": take.duration_s, "status": take.status, "processing": take.processing,
            "processing_message": take.processing_message, "metrics": take.metrics, "score": score,
            "label": take.label, "notes": take.notes}


def card_takes(user: User, card: WorkCard) -> list[Take]:
    """The takes of ``card`` that ``user`` is shown, newest first: everything for admins and
    experts; for others their own attempts and the reference in force."""
    published = published_version(card)
    reference = published.reference_take_id if published else None
    return [t for t in list_takes(user, work_card=card) if card_takes_shown(user, t, reference)]


def find_user(name: str) -> User | None:
    """The user called ``name`` (exact), or None."""
    if not isinstance(name, str) or not USERNAME.match(name):
        return None  # not a user name (PostgreSQL refuses a NUL byte in a query)
    return db.session.scalars(sa.select(User).filter_by(username=name)).first()


def own_take_ids(user: User, take_ids) -> set[str]:
    """Which of ``take_ids`` ``user`` recorded (e.g. to show a trainee only their own jobs)."""
    ids = [t for t in take_ids if isinstance(t, str)]
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(Take.id).where(Take.id.in_(ids), Take.user_id == user.id)))


def latest_comparison(take_id: str) -> Comparison | None:
    """The latest comparison of attempt ``take_id`` with its reference, if any."""
    return db.session.scalars(sa.select(Comparison).filter_by(attempt_id=take_id)
                              .order_by(Comparison.created_at.desc(), Comparison.id.desc())).first()


def latest_scores(take_ids) -> dict[str, float | None]:
    """The score of each attempt's latest comparison (attempts without one are left out)."""
    ids = [t for t in take_ids if isinstance(t, str)]
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Comparison).where(Comparison.attempt_id.in_(ids))
                              .order_by(Comparison.created_at, Comparison.id))
    return {row.attempt_id: row.score for row in rows}


def _steps(snapshot_steps) -> list[dict]:
    return [{"name": s["name"], "instructions": s.get("instructions", ""), "start_s": s["start_s"],
             "end_s": s["end_s"]} for s in snapshot_steps or []]


def take_steps(user: User, take: Take) -> list[dict]:
    """The card steps shown with a take: for an attempt, those of the version it followed; for a
    reference, the card as ``user`` sees it; none for a free take (or a card ``user`` may not see)."""
    card = take.work_card
    if card is None:
        return []
    if take.kind == "attempt" and take.work_card_version:
        version = published_version(card, take.work_card_version)
        return _steps(version.snapshot.get("steps")) if version else []
    try:
        return _steps(card_content(user, card)["steps"])
    except ServiceError:
        return []


def take_detail(user: User, take: Take, takes_dir: Path | str) -> dict:
    """The contract's take detail without URLs: :func:`take_view` plus ``fps``, ``frames`` (of the
    3D timeline once processed), ``steps``, ``processed`` and ``cameras`` [{"name", "offset_s"}]."""
    try:
        folder = takefiles.take_folder(takes_dir, take.id)
    except takefiles.TakeFileMissing:
        folder = None
    report = takefiles.read_report(folder) if folder else {}
    metrics = take.metrics or {}
    fps = metrics.get("fps") or report.get("fps")
    if fps is None and folder is not None:
        fps = takefiles.read_take_json(folder).get("fps")
    offsets = takefiles.camera_offsets(folder) if folder else {}
    cameras = [{"name": cam["name"], "offset_s": offsets.get(cam["name"], 0.0)}
               for cam in (takefiles.recorded_cameras(folder) if folder else [])]
    score = latest_scores([take.id]).get(take.id) if take.kind == "attempt" else None
    return {**take_view(take, score), "fps": fps, "frames": metrics.get("frames") or report.get("frames"),
            "steps": take_steps(user, take), "processed": bool(folder and takefiles.processed(folder)),
            "cameras": cameras}
