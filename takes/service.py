"""Takes in the database: registered when recording stops, processing state, visibility; calibration sets.

The take folder (``data_dir/takes/<id>/take.json`` and the videos) stays the source of the
recording; the database says whose it is, what it is for and how its processing went.

Who sees and deletes which take is :mod:`accounts.policy`'s: a take the user may not see
answers "not found", as one that does not exist. Deletion (:func:`delete_take`): personal data
(the take, its comparisons and its job history) can be deleted, by whom depends on the role and
on what the take is for; a published version's reference is kept.

Services run inside an app context, commit their own changes and raise
:class:`ServiceError` with a message for the user.
"""
from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accounts.policy import (
    can_edit_card,
    deletion_refusal,
    recording_kind_refusal,
    visible_cards,
    visible_takes,
)
from capture.takefile import TakeMeta
from common.errors import ServiceError
from common.takefolder import TAKE_ID, TAKE_JSON, TAKES_DIR
from database.base import db
from database.models import (
    MAX_LABEL,
    PROCESSING,
    TAKE_KINDS,
    TAKE_STATUSES,
    CalibrationSet,
    Comparison,
    JobRecord,
    Take,
    User,
    WorkCard,
    WorkCardVersion,
)
from takes import files as takefiles
from takes.calibrations import active_calibration_set
from workcards.service import get_work_card

logger = logging.getLogger(__name__)

__all__ = ["DeleteRefused", "ServiceError", "TakeBusy", "can_delete", "delete_take", "get_take", "list_takes",
           "register_take", "set_processing"]

MAX_MESSAGE = 2_000
RESUMED = ("queued", "running", "cancelled")  # processing a restart takes up again


# --------------------------------------------------------------------------- visibility


def list_takes(user: User, work_card: WorkCard | None = None, kind: str | None = None) -> list[Take]:
    """The takes ``user`` may see (of ``work_card`` and ``kind`` when given), newest first."""
    query = sa.select(Take).where(visible_takes(user))
    if work_card is not None:
        query = query.where(Take.work_card_id == work_card.id)
    if kind is not None:
        query = query.where(Take.kind == kind)
    return list(db.session.scalars(query.order_by(Take.created_at.desc(), Take.id.desc())))


def get_take(user: User, take_id: str) -> Take:
    """Take ``take_id`` if ``user`` may see it; otherwise "not found" (whether it exists or not)."""
    if not isinstance(take_id, str) or not TAKE_ID.fullmatch(take_id):
        raise ServiceError("take not found")
    take = db.session.scalars(sa.select(Take).where(Take.id == take_id, visible_takes(user))).first()
    if take is None:
        raise ServiceError("take not found")
    return take


# --------------------------------------------------------------------------- registration
def _duration_s(take_json: dict) -> float | None:
    try:
        start, stop = take_json["start"]["monotonic_ns"], take_json["stop"]["monotonic_ns"]
    except (KeyError, TypeError):
        return None
    return max(0.0, (stop - start) / 1e9)


def _created_at(take_json: dict) -> datetime:
    try:
        return datetime.fromtimestamp(take_json["start"]["wall_time_ns"] / 1e9, UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def _files(take_json: dict) -> list[dict]:
    files = []
    for camera in take_json.get("cameras") or []:
        if isinstance(camera, dict) and camera.get("file"):
            files.append({"camera": camera.get("name"), "file": camera["file"], "timestamps": camera.get("timestamps"),
                          "frames": camera.get("frames")})
    return files


def _relative_folder(folder: Path | str) -> str:
    """Where a take folder is, as the database keeps it: ``takes/<id>`` under the data folder
    (the data folder may move), or the path as given for a folder elsewhere."""
    folder = Path(folder)
    return f"{TAKES_DIR}/{folder.name}" if folder.parent.name == TAKES_DIR else folder.as_posix()


def _calibration(calibration_set: CalibrationSet | str | None) -> CalibrationSet | None:
    if calibration_set is None or isinstance(calibration_set, CalibrationSet):
        return calibration_set
    found = db.session.get(CalibrationSet, calibration_set)
    if found is None:
        raise ServiceError(f"unknown calibration set {calibration_set!r}")
    return found


def _check_purpose(user: User, work_card: WorkCard | None, kind: str) -> int | None:
    """The card version an attempt follows; raises when ``user`` may not record this kind of take."""
    if kind not in TAKE_KINDS:
        raise ServiceError(f"unknown kind of take {kind!r}: use one of {', '.join(TAKE_KINDS)}")
    if kind == "free":
        if work_card is not None:
            raise ServiceError("a take for a work card is a reference or an attempt")
        return None
    if work_card is None:
        raise ServiceError(f"an {kind} take needs its work card")
    if kind == "reference":
        if not can_edit_card(user, work_card):
            raise ServiceError("only the card's author or an admin records its reference")
        return None
    visible = db.session.scalars(sa.select(WorkCard.id).where(WorkCard.id == work_card.id, visible_cards(user)))
    if work_card.version < 1 or visible.first() is None:
        raise ServiceError("this work card is not published yet")
    return work_card.version


def register_take(take_json: dict, folder: Path | str, user: User, work_card: WorkCard | None = None,
                  kind: str = "free", calibration_set: CalibrationSet | str | None = None,
                  label: str | None = None) -> Take:
    """Record the take described by ``take_json`` (its ``take.json``) in ``folder`` as ``user``'s,
    with ``label`` (the name it was given at its start, kept when the take is registered again).

    Calling it again for the same take (e.g. when it stops after being registered at start,
    or from two threads at once) updates its status, files and duration; it never changes
    whose take it is or what it is for (that raises), nor its label and notes.
    """
    take_id = take_json.get("id") if isinstance(take_json, dict) else None
    if not isinstance(take_id, str) or not TAKE_ID.fullmatch(take_id):
        raise ServiceError(f"not a VSION take id: {take_id!r}")
    status = take_json.get("status", "recording")
    if status not in TAKE_STATUSES:
        raise ServiceError(f"take {take_id}: unknown status {status!r}")
    version = _check_purpose(user, work_card, kind)
    calibration = _calibration(calibration_set)
    fields = {"status": status, "files": _files(take_json), "duration_s": _duration_s(take_json)}
    for attempt in (1, 2):
        take = db.session.get(Take, take_id)
        if take is not None:
            if (take.user_id, take.kind, take.work_card_id) != (user.id, kind, work_card.id if work_card else None):
                raise ServiceError(f"take {take_id} is already registered for another user or purpose")
            for name, value in fields.items():
                setattr(take, name, value)
        else:
            take = Take(id=take_id, user_id=user.id, kind=kind, work_card_id=work_card.id if work_card else None,
                        work_card_version=version, calibration_set_id=calibration.id if calibration else None,
                        folder=_relative_folder(folder), created_at=_created_at(take_json),
                        label=(label.strip()[:MAX_LABEL] or None) if label else None, **fields)
            db.session.add(take)
        try:
            db.session.commit()
            return take
        except IntegrityError:
            db.session.rollback()  # registered by another thread meanwhile: update that row instead
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def set_processing(take_id: str, status: str, message: str | None = None, metrics: dict | None = None) -> Take:
    """Record the processing state of a take (``none|queued|running|done|failed``).

    ``metrics`` is the report's summary (stored as given); with ``frames`` and ``fps`` it
    also sets the take's duration on the processed timeline (s), the one steps are timed on.
    Thread-safe when each thread has its own app context (job workers do).
    """
    if status not in PROCESSING:
        raise ServiceError(f"unknown processing state {status!r}: use one of {', '.join(PROCESSING)}")
    if metrics is not None and not isinstance(metrics, dict):
        raise ServiceError("processing metrics must be a mapping")
    take = db.session.get(Take, take_id) if isinstance(take_id, str) else None
    if take is None:
        raise ServiceError("take not found")
    take.processing = status
    take.processing_message = message[:MAX_MESSAGE] if message else None
    if metrics is not None:
        take.metrics = metrics
        frames, fps = metrics.get("frames"), metrics.get("fps")
        if isinstance(frames, int | float) and isinstance(fps, int | float) and frames > 0 and fps > 0:
            take.duration_s = float(frames) / float(fps)
    db.session.commit()
    return take


# --------------------------------------------------------------------------- recording for a purpose
def recording_purpose(user: User, work_card_id: int | None, kind: str | None) -> tuple[WorkCard | None, str]:
    """The card and kind of take ``user`` may start recording now, or :class:`ServiceError` saying why not.

    ``kind`` defaults to ``free``, which is only for takes without a card. A ``reference`` is
    recorded by the card's author (an expert) or an admin while the card is a draft; an
    ``attempt`` at a card with a published version in force, by anyone who sees it. Trainees
    record attempts only.
    """
    if kind is None:
        if work_card_id is not None:
            raise ServiceError("say whether this take is the work card's reference or an attempt")
        kind = "free"
    if kind not in TAKE_KINDS:
        raise ServiceError(f"unknown kind of take {kind!r}: use one of {', '.join(TAKE_KINDS)}")
    refusal = recording_kind_refusal(user, kind)
    if refusal:
        raise ServiceError(refusal)
    if kind == "free":
        if work_card_id is not None:
            raise ServiceError("a take for a work card is a reference or an attempt")
        return None, kind
    if work_card_id is None:
        raise ServiceError(f"an {kind} take needs its work card")
    card = get_work_card(user, work_card_id)
    if kind == "reference":
        if not can_edit_card(user, card):
            raise ServiceError("only the card's author or an admin records its reference")
        if card.status != "draft":
            raise ServiceError("the card is published: revise it before recording a new reference")
    elif card.version < 1:
        raise ServiceError("this work card is not published yet: attempts are recorded at published cards")
    return card, kind


def register_recorded_take(take_json: dict, folder: Path | str) -> Take | None:
    """Register a take that just stopped, for the user, card and kind its ``take.json`` keeps
    (:class:`~capture.takefile.TakeMeta`, written at start), with the active calibration set when
    a calibration was in force. None for a take recorded without a known user."""
    meta = TakeMeta.from_json(take_json)
    user = db.session.get(User, meta.user_id) if meta.user_id is not None else None
    if user is None:
        logger.warning("take %s: no known user recorded it: not registered", take_json.get("id"))
        return None
    card = db.session.get(WorkCard, meta.work_card) if meta.work_card is not None else None
    if meta.work_card is not None and card is None:
        raise ServiceError(f"take {take_json.get('id')}: work card {meta.work_card!r} no longer exists")
    calibration = active_calibration_set() if meta.calibration else None
    return register_take(take_json, folder, user, card, meta.kind, calibration, meta.label)


def interrupted_takes(takes_dir: Path) -> list[dict]:
    """``take.json`` of the takes whose processing a stop or a crash interrupted: rows left
    ``queued``, ``running`` or ``cancelled`` (their folder in ``takes_dir`` must still hold a
    ``take.json``)."""
    rows = db.session.scalars(sa.select(Take).where(Take.processing.in_(RESUMED))).all()
    out = []
    for take in rows:
        try:
            out.append(json.loads((Path(takes_dir) / take.id / TAKE_JSON).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            logger.warning("take %s: its folder is gone; processing not resumed", take.id)
    return out


# --------------------------------------------------------------------------- deletion
class DeleteRefused(ServiceError):
    """``user`` sees the take but may not delete it (the message says why)."""


class TakeBusy(ServiceError):
    """The take is being recorded or processed: it cannot be deleted now."""


def _deletion_refusal(user: User, take: Take) -> str | None:
    """Why ``user`` may not delete ``take`` (:func:`accounts.policy.deletion_refusal`, given the
    cards and published versions whose reference it is), or None."""
    published = db.session.scalars(sa.select(WorkCardVersion).where(WorkCardVersion.reference_take_id == take.id)
                                   .order_by(WorkCardVersion.work_card_id, WorkCardVersion.version)).first()
    card = db.session.scalars(sa.select(WorkCard).where(WorkCard.reference_take_id == take.id)).first()
    return deletion_refusal(user, take, published, card)


def can_delete(user: User, take: Take) -> bool:
    """May ``user`` delete ``take`` (their role and what the take is for; busy or not)?"""
    return _deletion_refusal(user, take) is None


def delete_take(user: User, take: Take, takes_dir: Path | str, busy: bool = False) -> dict:
    """Delete ``take`` (a take ``user`` sees): its row, its comparisons and its folder.

    Admins delete any take but a published version's reference; experts any take that is no
    card's reference; trainees their own attempts; technicians the free takes they recorded.
    Raises :class:`DeleteRefused` otherwise, and :class:`TakeBusy` while the take is recorded or
    processed (``busy``: the caller knows it is, e.g. a job for it is running). A draft card
    whose reference it was loses its reference. The folder (found from the take id under
    ``takes_dir``) is removed after the commit; a failed removal is logged, the row is gone.
    Returns what the take was (``id``, ``kind``, ``user``, ``work_card_id``), for the audit log.
    """
    reason = _deletion_refusal(user, take)
    if reason is not None:
        raise DeleteRefused(reason)
    if busy or take.status == "recording" or take.processing in ("queued", "running"):
        raise TakeBusy("this take is being recorded or processed: wait until it is finished, then delete it")
    gone = {"id": take.id, "kind": take.kind, "user": take.user.username, "work_card_id": take.work_card_id}
    try:
        db.session.execute(sa.update(WorkCard).where(WorkCard.reference_take_id == take.id)
                           .values(reference_take_id=None))
        db.session.execute(sa.delete(Comparison).where(
            sa.or_(Comparison.attempt_id == take.id, Comparison.reference_id == take.id)))
        db.session.execute(sa.delete(JobRecord).where(JobRecord.take_id == take.id))
        db.session.delete(take)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    logger.info("take %s (%s of %s) deleted by %s", gone["id"], gone["kind"], gone["user"], user.username)
    try:
        shutil.rmtree(takefiles.take_folder(takes_dir, gone["id"]))
    except takefiles.TakeFileMissing:
        logger.warning("take %s: no folder to remove", gone["id"])
    except OSError:
        logger.exception("take %s: deleted from the database but its folder could not be removed", gone["id"])
    return gone


def takes_started_since(user_id: int, since: datetime) -> int:
    """How many takes ``user_id`` started at or after ``since`` (UTC), deleted ones aside."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Take)
                             .where(Take.user_id == user_id, Take.created_at >= since)) or 0
