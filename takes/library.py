"""The takes library: every take a user may see, filtered, sorted and paginated; a take's label and
notes; processing a take again; making a free take a work card's reference.

Who may do what is :mod:`accounts.policy`'s (:func:`~accounts.policy.visible_takes`,
:func:`~accounts.policy.can_annotate_take`, :func:`~accounts.policy.reprocess_refusal`,
:func:`~accounts.policy.promotion_refusal`, :func:`~accounts.policy.deletion_refusal`). A user who
sees a take but may not act on it gets :class:`TakeRefused` (the message says why), a take being
recorded or processed :class:`~takes.service.TakeBusy`, anything else a :class:`ServiceError`.

Services run inside an app context and commit their own changes.
"""
from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from accounts.policy import (
    Action,
    allows,
    can_annotate_take,
    deletion_refusal,
    promotion_refusal,
    reprocess_refusal,
    visible_cards,
    visible_takes,
)
from common.errors import ServiceError
from common.files import write_bytes, write_json
from common.takefolder import CALIBRATION_FILE, TAKE_JSON
from database.base import db
from database.models import Take, User, WorkCard, WorkCardVersion
from takes import files as takefiles
from takes.calibrations import active_calibration_set
from takes.results import job_params
from takes.schemas import TakeChanges, TakeQuery
from takes.service import TakeBusy, get_take
from takes.views import page_of, views_with_scores
from workcards.service import get_work_card

logger = logging.getLogger(__name__)

PROCESSED_STATUSES = ("complete", "incomplete", "interrupted")  # takes worth processing
BUSY_PROCESSING = ("queued", "running")
SORT_COLUMNS = {"created_at": Take.created_at, "label": Take.label, "owner": User.username, "kind": Take.kind,
                "status": Take.status, "processing": Take.processing, "duration_s": Take.duration_s,
                "work_card": Take.work_card_id}
NULLABLE_SORTS = ("label", "duration_s", "work_card")


class TakeRefused(ServiceError):
    """The user sees the take but may not do this to it (the message says why)."""


# --------------------------------------------------------------------------- listing
def _filtered(user: User, query: TakeQuery):
    stmt = sa.select(Take).join(User, Take.user_id == User.id).where(visible_takes(user))
    for column, value in ((Take.status, query.status), (Take.processing, query.processing), (Take.kind, query.kind),
                          (Take.work_card_id, query.work_card), (User.username, query.owner)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.since is not None:
        stmt = stmt.where(Take.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(Take.created_at < query.until)
    if query.q:
        text = query.q.lower()
        stmt = stmt.where(sa.or_(sa.func.lower(Take.label).contains(text, autoescape=True),
                                 sa.func.lower(Take.notes).contains(text, autoescape=True),
                                 Take.id.contains(query.q, autoescape=True)))
    return stmt


def _ordered(stmt, query: TakeQuery):
    column = SORT_COLUMNS[query.sort]
    ascending = query.order == "asc"
    key = column.asc() if ascending else column.desc()
    if query.sort in NULLABLE_SORTS:
        key = key.nulls_last()  # takes without a label (duration, card) last either way
    return stmt.order_by(key, Take.id.asc() if ascending else Take.id.desc())


def _references(take_ids: list[str]) -> tuple[dict[str, WorkCardVersion], dict[str, WorkCard]]:
    """Of ``take_ids``: the first published version each is the reference of, and the card each
    is the current reference of."""
    published: dict[str, WorkCardVersion] = {}
    versions = sa.select(WorkCardVersion).where(WorkCardVersion.reference_take_id.in_(take_ids)) \
        .order_by(WorkCardVersion.work_card_id, WorkCardVersion.version)
    for version in db.session.scalars(versions):
        published.setdefault(version.reference_take_id, version)
    cards = db.session.scalars(sa.select(WorkCard).where(WorkCard.reference_take_id.in_(take_ids)))
    return published, {card.reference_take_id: card for card in cards}


def library_views(user: User, takes: list[Take]) -> list[dict]:
    """:func:`~takes.views.take_view` of each take with what the library shows besides: the
    card's title (when ``user`` sees the card) and what ``user`` may do (``can_edit``,
    ``can_process``, ``can_promote``, ``can_delete``)."""
    ids = [take.id for take in takes]
    published, card_of = _references(ids)
    card_ids = {take.work_card_id for take in takes if take.work_card_id is not None}
    titles = dict(db.session.execute(sa.select(WorkCard.id, WorkCard.title)
                                     .where(WorkCard.id.in_(card_ids), visible_cards(user))).all()) if card_ids else {}
    author = allows(user, Action.AUTHOR)
    views = []
    for take, view in zip(takes, views_with_scores(takes)):
        view.update(work_card_title=titles.get(take.work_card_id), can_edit=can_annotate_take(user, take),
                    can_process=take.status in PROCESSED_STATUSES
                    and reprocess_refusal(user, take, published.get(take.id)) is None,
                    can_promote=author and take.kind == "free" and take.processing == "done",
                    can_delete=deletion_refusal(user, take, published.get(take.id), card_of.get(take.id)) is None)
        views.append(view)
    return views


def library_filters(user: User) -> dict:
    """What the filters offer ``user``: the owners and the work cards of the takes they see."""
    seen = visible_takes(user)
    owners = db.session.scalars(sa.select(User.username).join(Take, Take.user_id == User.id).where(seen)
                                .distinct().order_by(User.username))
    cards = db.session.execute(sa.select(WorkCard.id, WorkCard.title).where(
        WorkCard.id.in_(sa.select(Take.work_card_id).where(seen, Take.work_card_id.is_not(None))),
        visible_cards(user)).order_by(WorkCard.title, WorkCard.id))
    return {"owners": list(owners), "work_cards": [{"id": card_id, "title": title} for card_id, title in cards]}


def library_page(user: User, query: TakeQuery) -> dict:
    """One page of the takes ``user`` may see, filtered and sorted by ``query``:
    ``{"takes": [...], "total", "page", "per_page", "pages", "filters": {"owners", "work_cards"}}``."""
    stmt = _ordered(_filtered(user, query), query).options(selectinload(Take.user))
    takes, page = page_of(stmt, query.page, query.per_page)
    return {"takes": library_views(user, takes), **page, "filters": library_filters(user)}


# --------------------------------------------------------------------------- label and notes
def annotate_take(user: User, take: Take, changes: TakeChanges) -> Take:
    """Set the label (empty: none) and/or notes of ``take`` (one ``user`` sees), as ``changes``
    gives them; its owner, an expert or an admin."""
    if not can_annotate_take(user, take):
        raise TakeRefused("only the take's owner, an expert or an admin changes its label and notes")
    if "label" in changes.model_fields_set:
        take.label = changes.label or None
    if "notes" in changes.model_fields_set:
        take.notes = changes.notes or ""
    db.session.commit()
    return take


# --------------------------------------------------------------------------- processing again
def _published_reference(take: Take) -> WorkCardVersion | None:
    return db.session.scalars(sa.select(WorkCardVersion).where(WorkCardVersion.reference_take_id == take.id)
                              .order_by(WorkCardVersion.work_card_id, WorkCardVersion.version)).first()


def reprocess_check(user: User, take: Take) -> None:
    """Raise :class:`TakeRefused` when ``user`` may not process ``take`` again
    (:func:`accounts.policy.reprocess_refusal`)."""
    refusal = reprocess_refusal(user, take, _published_reference(take))
    if refusal is not None:
        raise TakeRefused(refusal)


def may_reprocess(user: User, take: Take) -> bool:
    """May ``user`` process ``take`` again (and so choose its worker)? See :func:`reprocess_check`."""
    return reprocess_refusal(user, take, _published_reference(take)) is None


def _calibrate(take: Take, folder: Path, calibration_path: Path) -> None:
    """A take recorded without a calibration is processed with the one in force now: copied into
    its folder, as the recorder would have (the process job reads it there)."""
    target = folder / CALIBRATION_FILE
    if target.is_file() or not calibration_path.is_file():
        return
    write_bytes(target, calibration_path.read_bytes())
    active = active_calibration_set()
    take.calibration_set_id = active.id if active is not None else None
    db.session.commit()
    logger.info("take %s: recorded without a calibration; processed with the one in force now (%s)", take.id,
                take.calibration_set_id or calibration_path.name)


def reprocess_params(user: User, take_id: str, takes_dir: Path | str, calibration_path: Path | str) -> dict:
    """The parameters of a new ``process`` job for take ``take_id`` asked by ``user``.

    Raises ServiceError ("take not found") for a take ``user`` does not see, :class:`TakeRefused`
    when they may not process it, :class:`TakeBusy` while it is recorded or processed. A take
    without a calibration gets the one in force (``calibration_path``), copied into its folder.
    """
    take = get_take(user, take_id)
    reprocess_check(user, take)
    if take.status not in PROCESSED_STATUSES or take.processing in BUSY_PROCESSING:
        raise TakeBusy("this take is being recorded or processed: wait until it is finished, then process it again")
    try:
        folder = takefiles.take_folder(takes_dir, take.id)
    except takefiles.TakeFileMissing:
        raise ServiceError("this take's folder is gone: it cannot be processed again") from None
    _calibrate(take, folder, Path(calibration_path))
    return {"take_dir": str(folder), **job_params(take, takes_dir), "queued_by": user.id}


# --------------------------------------------------------------------------- promotion
def _retag(takes_dir: Path | str, take: Take) -> None:
    """Say in ``take.json`` what the take is for now (it is read again if the take is registered
    again, e.g. after a crash)."""
    try:
        folder = takefiles.take_folder(takes_dir, take.id)
    except takefiles.TakeFileMissing:
        return
    data = takefiles.read_take_json(folder)
    if data:
        try:
            write_json(folder / TAKE_JSON, {**data, "kind": take.kind, "work_card": take.work_card_id})
        except OSError:
            logger.exception("take %s: take.json could not say it is now a reference", take.id)


def promote_take(user: User, take: Take, work_card_id: int, takes_dir: Path | str, busy: bool = False) -> WorkCard:
    """Make the free, processed ``take`` a reference take of the draft card ``work_card_id``, which
    ``user`` authors (or an admin); the card's author then chooses it as the card's reference.
    Returns the card. ``busy``: the caller knows the take is recorded or processed now."""
    card = get_work_card(user, work_card_id)
    refusal = promotion_refusal(user, take, card)
    if refusal is not None:
        raise TakeRefused(refusal)
    if take.kind != "free":
        raise ServiceError(f"only a free take can become a work card's reference: this one is an {take.kind}"
                           if take.kind == "attempt" else "this take is already a work card's reference take")
    if card.status != "draft":
        raise ServiceError("the card is published: revise it before giving it a new reference take")
    if busy or take.status == "recording" or take.processing in BUSY_PROCESSING:
        raise TakeBusy("this take is being recorded or processed: wait until it is finished")
    if take.processing != "done":
        raise ServiceError("this take is not processed: process it first, then make it a reference")
    take.kind, take.work_card_id, take.work_card_version = "reference", card.id, None
    db.session.commit()
    _retag(takes_dir, take)
    logger.info("take %s: now a reference take of work card %d (by %s)", take.id, card.id, user.username)
    return card


# --------------------------------------------------------------------------- calibration from a take
def calibration_take(user: User, take_id: str, takes_dir: Path | str) -> tuple[Take, Path]:
    """Take ``take_id`` to calibrate from, asked by ``user``, and its folder: one they may see
    (else "take not found"), recorded to the end (complete, incomplete or interrupted), whose
    folder is still there. Raises ServiceError."""
    take = get_take(user, take_id)
    if take.status not in PROCESSED_STATUSES:
        raise ServiceError("this take is still being recorded: stop it first, then calibrate from it")
    try:
        return take, takefiles.take_folder(takes_dir, take.id)
    except takefiles.TakeFileMissing:
        raise ServiceError("this take's folder is gone: record the board again") from None
