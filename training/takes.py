"""Takes in the database: registered when recording stops, processing state, visibility; calibration sets.

The take folder (``data_dir/takes/<id>/take.json`` and the videos) stays the source of the
recording; the database says whose it is, what it is for and how its processing went.

Visibility: admins, technicians and experts see every take. Anyone else (trainees) sees
only their own takes and the reference takes of published work card versions — never
another trainee's attempt; asking for one answers "not found", as for a take that does
not exist.

Deletion (:func:`delete_take`): personal data can be deleted, by whom depends on the role and
on what the take is for; a published version's reference is kept.

Services run inside an app context, commit their own changes and raise
:class:`TrainingError` with a message for the user.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from training.db import db
from training.models import (
    PROCESSING,
    TAKE_KINDS,
    TAKE_STATUSES,
    CalibrationSet,
    Comparison,
    Take,
    User,
    WorkCard,
    WorkCardVersion,
)
from training.workcards import TrainingError, can_edit, visible_cards

logger = logging.getLogger(__name__)

__all__ = ["DeleteRefused", "TakeBusy", "TrainingError", "active_calibration_set", "can_delete", "delete_take",
           "get_take", "list_takes", "register_take", "set_processing", "sync_calibration_sets", "visible_takes"]

TAKE_ID = re.compile(r"^\d{8}-\d{6}(-[0-9A-Za-z]{1,8})?$")
# Who sees every take, trainees' attempts included. Technicians (cameras and calibration) see the
# free takes they test the cameras with, their own, and the published references.
SEES_ALL_TAKES = ("admin", "expert")
MAX_MESSAGE = 2_000


# --------------------------------------------------------------------------- visibility
def visible_takes(user: User):
    """A SQL condition on :class:`Take`: the takes ``user`` may see."""
    if user.role in SEES_ALL_TAKES:
        return sa.true()
    published_references = sa.select(WorkCardVersion.reference_take_id)
    seen = [Take.user_id == user.id, Take.id.in_(published_references)]
    if user.role == "technician":
        seen.append(Take.kind == "free")
    return sa.or_(*seen)


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
        raise TrainingError("take not found")
    take = db.session.scalars(sa.select(Take).where(Take.id == take_id, visible_takes(user))).first()
    if take is None:
        raise TrainingError("take not found")
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


def _absolute_folder(folder: str) -> Path:
    """The inverse of :func:`_relative_folder`."""
    path = Path(folder)
    settings = current_app.config.get("VSION_SETTINGS")
    return path if path.is_absolute() or settings is None else Path(settings.data_dir) / path


def _relative_folder(folder: Path | str) -> str:
    """``folder`` relative to the data directory when inside it (the data directory may move)."""
    folder = Path(folder)
    settings = current_app.config.get("VSION_SETTINGS")
    if settings is not None:
        try:
            return folder.resolve().relative_to(Path(settings.data_dir).resolve()).as_posix()
        except ValueError:
            pass
    return folder.as_posix()


def _calibration(calibration_set: CalibrationSet | str | None) -> CalibrationSet | None:
    if calibration_set is None or isinstance(calibration_set, CalibrationSet):
        return calibration_set
    found = db.session.get(CalibrationSet, calibration_set)
    if found is None:
        raise TrainingError(f"unknown calibration set {calibration_set!r}")
    return found


def _check_purpose(user: User, work_card: WorkCard | None, kind: str) -> int | None:
    """The card version an attempt follows; raises when ``user`` may not record this kind of take."""
    if kind not in TAKE_KINDS:
        raise TrainingError(f"unknown kind of take {kind!r}: use one of {', '.join(TAKE_KINDS)}")
    if kind == "free":
        if work_card is not None:
            raise TrainingError("a take for a work card is a reference or an attempt")
        return None
    if work_card is None:
        raise TrainingError(f"an {kind} take needs its work card")
    if kind == "reference":
        if not can_edit(user, work_card):
            raise TrainingError("only the card's author or an admin records its reference")
        return None
    visible = db.session.scalars(sa.select(WorkCard.id).where(WorkCard.id == work_card.id, visible_cards(user)))
    if work_card.version < 1 or visible.first() is None:
        raise TrainingError("this work card is not published yet")
    return work_card.version


def register_take(take_json: dict, folder: Path | str, user: User, work_card: WorkCard | None = None,
                  kind: str = "free", calibration_set: CalibrationSet | str | None = None) -> Take:
    """Record the take described by ``take_json`` (its ``take.json``) in ``folder`` as ``user``'s.

    Calling it again for the same take (e.g. when it stops after being registered at start,
    or from two threads at once) updates its status, files and duration; it never changes
    whose take it is or what it is for (that raises).
    """
    take_id = take_json.get("id") if isinstance(take_json, dict) else None
    if not isinstance(take_id, str) or not TAKE_ID.fullmatch(take_id):
        raise TrainingError(f"not a VSION take id: {take_id!r}")
    status = take_json.get("status", "recording")
    if status not in TAKE_STATUSES:
        raise TrainingError(f"take {take_id}: unknown status {status!r}")
    version = _check_purpose(user, work_card, kind)
    calibration = _calibration(calibration_set)
    fields = {"status": status, "files": _files(take_json), "duration_s": _duration_s(take_json)}
    for attempt in (1, 2):
        take = db.session.get(Take, take_id)
        if take is not None:
            if (take.user_id, take.kind, take.work_card_id) != (user.id, kind, work_card.id if work_card else None):
                raise TrainingError(f"take {take_id} is already registered for another user or purpose")
            for name, value in fields.items():
                setattr(take, name, value)
        else:
            take = Take(id=take_id, user_id=user.id, kind=kind, work_card_id=work_card.id if work_card else None,
                        work_card_version=version, calibration_set_id=calibration.id if calibration else None,
                        folder=_relative_folder(folder), created_at=_created_at(take_json), **fields)
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
        raise TrainingError(f"unknown processing state {status!r}: use one of {', '.join(PROCESSING)}")
    if metrics is not None and not isinstance(metrics, dict):
        raise TrainingError("processing metrics must be a mapping")
    take = db.session.get(Take, take_id) if isinstance(take_id, str) else None
    if take is None:
        raise TrainingError("take not found")
    take.processing = status
    take.processing_message = message[:MAX_MESSAGE] if message else None
    if metrics is not None:
        take.metrics = metrics
        frames, fps = metrics.get("frames"), metrics.get("fps")
        if isinstance(frames, int | float) and isinstance(fps, int | float) and frames > 0 and fps > 0:
            take.duration_s = float(frames) / float(fps)
    db.session.commit()
    return take


# --------------------------------------------------------------------------- calibration sets
def _set_time(value) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def sync_calibration_sets(root: Path | str, active_id: str | None) -> list[CalibrationSet]:
    """Mirror the calibration sets saved under ``root`` (``calibration/store.py``) in the database.

    Sets are added or updated from their ``meta.json``; ``active_id`` is marked active and
    every other set inactive. Rows of sets no longer on disk are kept (takes name them).
    Returns the sets on disk, newest first.
    """
    from calibration.store import SET_ID, list_sets

    metas = [meta for meta in list_sets(Path(root)) if SET_ID.fullmatch(meta["id"])]
    for attempt in (1, 2):
        users = {}
        rows = []
        for meta in metas:
            row = db.session.get(CalibrationSet, meta["id"])
            if row is None:
                row = CalibrationSet(id=meta["id"], created_at=_set_time(meta.get("created_at")))
                creator = meta.get("created_by")
                if isinstance(creator, str):
                    users.setdefault(creator, db.session.scalars(sa.select(User.id).filter_by(username=creator)).first())
                    row.created_by_id = users[creator]
                db.session.add(row)
            row.note = str(meta.get("note") or "")[:200]
            row.cameras = [str(name) for name in meta.get("cameras") or []]
            rms = meta.get("rms_px")
            row.rms = {str(k): v for k, v in rms.items()} if isinstance(rms, dict) else {}
            row.active = meta["id"] == active_id
            rows.append(row)
        on_disk = [meta["id"] for meta in metas]
        db.session.execute(sa.update(CalibrationSet).where(CalibrationSet.id.not_in(on_disk), CalibrationSet.active)
                           .values(active=False))
        try:
            db.session.commit()
            return rows
        except IntegrityError:
            db.session.rollback()  # another process added the same set meanwhile: update it instead
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def active_calibration_set() -> CalibrationSet | None:
    """The set marked active by the last :func:`sync_calibration_sets`, if any."""
    return db.session.scalars(sa.select(CalibrationSet).filter_by(active=True)).first()


# --------------------------------------------------------------------------- recording for a purpose
def recording_purpose(user: User, work_card_id: int | None, kind: str | None) -> tuple[WorkCard | None, str]:
    """The card and kind of take ``user`` may start recording now, or :class:`TrainingError` saying why not.

    ``kind`` defaults to ``free``, which is only for takes without a card. A ``reference`` is
    recorded by the card's author (an expert) or an admin while the card is a draft; an
    ``attempt`` at a card with a published version in force, by anyone who sees it. Trainees
    record attempts only.
    """
    from training.workcards import get_work_card

    if kind is None:
        if work_card_id is not None:
            raise TrainingError("say whether this take is the work card's reference or an attempt")
        kind = "free"
    if kind not in TAKE_KINDS:
        raise TrainingError(f"unknown kind of take {kind!r}: use one of {', '.join(TAKE_KINDS)}")
    if user.role == "trainee" and kind != "attempt":
        raise TrainingError("trainees record attempts at a published work card: open the work card, then "
                            "record your attempt from its page")
    if kind == "free":
        if work_card_id is not None:
            raise TrainingError("a take for a work card is a reference or an attempt")
        return None, kind
    if work_card_id is None:
        raise TrainingError(f"an {kind} take needs its work card")
    card = get_work_card(user, work_card_id)
    if kind == "reference":
        if not can_edit(user, card):
            raise TrainingError("only the card's author or an admin records its reference")
        if card.status != "draft":
            raise TrainingError("the card is published: revise it before recording a new reference")
    elif card.version < 1:
        raise TrainingError("this work card is not published yet: attempts are recorded at published cards")
    return card, kind


def register_recorded_take(take_json: dict, folder: Path | str) -> Take | None:
    """Register a take that just stopped, for the user, card and kind kept in its ``take.json``
    (``user_id``, ``work_card``, ``kind``, written at start), with the active calibration set
    when a calibration was in force. None for a take recorded without a known user."""
    user_id = take_json.get("user_id")
    user = db.session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if user is None:
        logger.warning("take %s: no known user recorded it: not registered", take_json.get("id"))
        return None
    card_id = take_json.get("work_card")
    card = db.session.get(WorkCard, card_id) if isinstance(card_id, int) and not isinstance(card_id, bool) else None
    if card_id is not None and card is None:
        raise TrainingError(f"take {take_json.get('id')}: work card {card_id!r} no longer exists")
    calibration = active_calibration_set() if take_json.get("calibration") else None
    return register_take(take_json, folder, user, card, take_json.get("kind") or "free", calibration)


def interrupted_takes() -> list[dict]:
    """``take.json`` of the takes whose processing a stop or a crash interrupted: rows left
    ``queued`` or ``running``, or ``failed`` because the server stopped (their folder must still
    hold a ``take.json``)."""
    rows = db.session.scalars(sa.select(Take).where(sa.or_(
        Take.processing.in_(("queued", "running")),
        sa.and_(Take.processing == "failed", Take.processing_message.like("cancelled%"))))).all()
    out = []
    for take in rows:
        try:
            out.append(json.loads((_absolute_folder(take.folder) / "take.json").read_text()))
        except (OSError, ValueError):
            logger.warning("take %s: its folder is gone; processing not resumed", take.id)
    return out


# --------------------------------------------------------------------------- what the pages show
def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def take_view(take: Take, score: float | None = None) -> dict:
    """The contract's ``take`` object (JSON-ready); ``score`` from the attempt's latest comparison."""
    return {"id": take.id, "kind": take.kind, "user": take.user.username, "work_card_id": take.work_card_id,
            "work_card_version": take.work_card_version, "created_at": _iso(take.created_at),
            "duration_s": take.duration_s, "status": take.status, "processing": take.processing,
            "processing_message": take.processing_message, "metrics": take.metrics, "score": score}


def card_takes(user: User, card: WorkCard) -> list[Take]:
    """The takes of ``card`` that ``user`` is shown, newest first: everything for admins and
    experts; for others their own attempts and the reference in force."""
    from training.workcards import published_version

    takes = list_takes(user, work_card=card)
    if user.role in SEES_ALL_TAKES:
        return takes
    published = published_version(card)
    reference = published.reference_take_id if published else None
    return [t for t in takes if (t.user_id == user.id and t.kind == "attempt") or t.id == reference]


def find_user(name: str) -> User | None:
    """The user called ``name`` (exact), or None."""
    from training.users import USERNAME

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
    from training.workcards import card_content, published_version

    card = take.work_card
    if card is None:
        return []
    if take.kind == "attempt" and take.work_card_version:
        version = published_version(card, take.work_card_version)
        return _steps(version.snapshot.get("steps")) if version else []
    try:
        return _steps(card_content(user, card)["steps"])
    except TrainingError:
        return []


def take_detail(user: User, take: Take, takes_dir: Path | str) -> dict:
    """The contract's take detail without URLs: :func:`take_view` plus ``fps``, ``frames`` (of the
    3D timeline once processed), ``steps``, ``processed`` and ``cameras`` [{"name", "offset_s"}]."""
    from training import takefiles

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


# --------------------------------------------------------------------------- deletion
class DeleteRefused(TrainingError):
    """``user`` sees the take but may not delete it (the message says why)."""


class TakeBusy(TrainingError):
    """The take is being recorded or processed: it cannot be deleted now."""


def _deletion_refusal(user: User, take: Take) -> str | None:
    """Why ``user`` may not delete ``take`` (their role, or what the take is for), or None."""
    if user.role == "trainee":
        return None if take.kind == "attempt" and take.user_id == user.id else "trainees delete only their own attempts"
    if user.role == "technician":
        return None if take.kind == "free" and take.user_id == user.id else \
            "technicians delete only the free takes they recorded"
    if user.role not in ("admin", "expert"):
        return "your role may not delete takes"
    published = db.session.scalars(sa.select(WorkCardVersion).where(WorkCardVersion.reference_take_id == take.id)
                                   .order_by(WorkCardVersion.work_card_id, WorkCardVersion.version)).first()
    if published is not None:
        # Published versions are kept unchanged (attempts and comparisons name them): even an admin
        # cannot take their reference away.
        return (f"this take is the reference of version {published.version} of the work card "
                f"\u00ab{published.work_card.title}\u00bb (#{published.work_card_id}): a published reference is kept")
    if user.role == "expert":
        card = db.session.scalars(sa.select(WorkCard).where(WorkCard.reference_take_id == take.id)).first()
        if card is not None:
            return (f"this take is the reference of the work card \u00ab{card.title}\u00bb (#{card.id}): choose "
                    "another reference first, or ask an administrator")
    return None


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
    from training import takefiles

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
