"""Work cards: authoring (title, description, tags, steps, reference take), publishing and visibility.

Who may do what is :mod:`accounts.policy`'s: experts and admins author cards; only the author or
an admin changes a card, and only while it is a draft (``revise`` reopens a published card as a
draft); a card is visible to everyone once it has a published version, a draft that was never
published only to its author and admins. Those who may not edit a card get the published version
in force (:func:`card_content`), never the draft being revised. Fields are checked with the
schemas of :mod:`workcards.schemas` (one limit per field, the same as the API's).

Services run inside an app context, commit their own changes and raise
:class:`ServiceError` with a message for the user.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from accounts.policy import Action, allows, can_edit_card, visible_cards
from common.errors import ServiceError
from common.payloads import problem, validate
from database.base import db
from database.models import Take, User, WorkCard, WorkCardStep, WorkCardVersion
from workcards.schemas import MAX_STEPS, CardChanges, NewCard, StepIn

logger = logging.getLogger(__name__)


def list_work_cards(user: User) -> list[WorkCard]:
    """The cards ``user`` may see, most recently changed first."""
    query = sa.select(WorkCard).where(visible_cards(user)).order_by(WorkCard.updated_at.desc(), WorkCard.id.desc())
    return list(db.session.scalars(query))


def get_work_card(user: User, card_id: int) -> WorkCard:
    """Card ``card_id`` if ``user`` may see it; otherwise "not found" (whether it exists or not)."""
    try:
        card_id = int(card_id)
    except (TypeError, ValueError):
        raise ServiceError("work card not found") from None
    if not 1 <= card_id < 2**31:  # beyond any id (and beyond what the databases' integers hold)
        raise ServiceError("work card not found")
    card = db.session.scalars(sa.select(WorkCard).where(WorkCard.id == card_id, visible_cards(user))).first()
    if card is None:
        raise ServiceError("work card not found")
    return card


def published_version(card: WorkCard, version: int | None = None) -> WorkCardVersion | None:
    """Published version ``version`` of ``card`` (default: the one in force), or None."""
    number = card.version if version is None else version
    return db.session.scalars(sa.select(WorkCardVersion).filter_by(work_card_id=card.id, version=number)).first()


def card_content(user: User, card: WorkCard) -> dict:
    """What ``user`` should be shown of ``card``: title, description, tags, steps, reference take, version.

    Its author and admins see the working copy (``status`` draft or published); everyone
    else the published version in force, even while a revision is being drafted.
    """
    if not can_edit_card(user, card):
        published = published_version(card)
        if published is None:
            raise ServiceError("work card not found")
        return {**published.snapshot, "id": card.id, "status": "published"}
    return {"id": card.id, "version": card.version, "status": card.status, **_content(card),
            "published_at": card.published_at.isoformat() if card.published_at else None}


def list_card_contents(user: User) -> list[dict]:
    """:func:`card_content` of every card ``user`` may see (what a list page shows), newest change first."""
    return [card_content(user, card) for card in list_work_cards(user)]


def _content(card: WorkCard) -> dict:
    return {"title": card.title, "description": card.description, "tags": list(card.tags),
            "steps": [step.to_dict() for step in card.steps], "reference_take": card.reference_take_id}


# --------------------------------------------------------------------------- validation
def _step(position: int, step: object) -> StepIn:
    if not isinstance(step, dict):
        raise ServiceError(f"step {position}: expected name, start and end")
    try:  # a stored step also knows its position: it is given by the order here
        return StepIn.model_validate({key: value for key, value in step.items() if key != "position"})
    except ValidationError as exc:
        raise ServiceError(f"step {position}: {problem(exc.errors()[0])}") from None


def validate_steps(steps, duration_s: float | None) -> list[dict]:
    """Steps as stored: named, in order, not overlapping, within ``0..duration_s`` (s).

    ``steps`` is a list of mappings with ``name``, ``start_s``, ``end_s`` and optional
    ``instructions`` (fields checked by :class:`~workcards.schemas.StepIn`). Raises
    :class:`ServiceError` naming the first bad step.
    """
    if not isinstance(steps, list | tuple):
        raise ServiceError("steps must be a list")
    if len(steps) > MAX_STEPS:
        raise ServiceError(f"at most {MAX_STEPS} steps")
    if steps and duration_s is None:
        raise ServiceError("choose the reference take before setting steps: step times are on its timeline")
    clean, previous_end = [], 0.0
    for position, raw in enumerate(steps, start=1):
        step = _step(position, raw)
        label, start, end = f"step {position} ({step.name})", step.start_s, step.end_s
        if start < 0:
            raise ServiceError(f"{label}: starts before the reference take ({start:g} s)")
        if end <= start:
            raise ServiceError(f"{label}: must end after it starts ({start:g} s to {end:g} s)")
        if end > duration_s + 1e-6:
            raise ServiceError(f"{label}: ends at {end:g} s, after the reference take ({duration_s:g} s)")
        if start < previous_end - 1e-9:
            raise ServiceError(f"{label}: starts at {start:g} s, before the previous step ends "
                               f"({previous_end:g} s): steps are in order and do not overlap")
        previous_end = end
        clean.append({"position": position, **step.model_dump()})
    return clean


# --------------------------------------------------------------------------- authoring
def _editable(user: User, card: WorkCard) -> None:
    if not can_edit_card(user, card):
        raise ServiceError("only the card's author or an admin may change it")
    if card.status != "draft":
        raise ServiceError(f"version {card.version} is published: revise the card to change it")


def create_work_card(author: User, title: str, description: str = "", tags: Iterable[str] | None = None) -> WorkCard:
    """A new draft card by ``author`` (an expert or admin)."""
    if not allows(author, Action.AUTHOR):
        raise ServiceError("only experts and admins write work cards")
    data = validate(NewCard, {"title": title, "description": description, "tags": tags})
    card = WorkCard(title=data.title, description=data.description, tags=data.tags,
                    author_id=author.id, status="draft", version=0)
    db.session.add(card)
    db.session.commit()
    logger.info("work card %d created by %s", card.id, author.username)
    return card


def update_work_card(user: User, card: WorkCard, *, title: str | None = None, description: str | None = None,
                     tags: Iterable[str] | None = None) -> WorkCard:
    """Change a draft's title, description or tags (the arguments given)."""
    _editable(user, card)
    given = {"title": title, "description": description, "tags": tags}
    data = validate(CardChanges, {key: value for key, value in given.items() if value is not None})
    for name in data.model_fields_set:
        setattr(card, name, getattr(data, name))
    db.session.commit()
    return card


def set_steps(user: User, card: WorkCard, steps: list[dict]) -> list[WorkCardStep]:
    """Replace a draft's steps (see :func:`validate_steps`); times are on the reference take (s)."""
    _editable(user, card)
    duration = card.reference_take.duration_s if card.reference_take is not None else None
    clean = validate_steps(steps, duration)
    # Delete first: the unit of work would insert the new rows before deleting the old ones,
    # and (card, position) is unique.
    card.steps.clear()
    db.session.flush()
    card.steps.extend(WorkCardStep(**step) for step in clean)
    card.updated_at = datetime.now(UTC)
    db.session.commit()
    return list(card.steps)


def choose_reference(user: User, card: WorkCard, take: Take) -> WorkCard:
    """Make ``take`` (a processed reference take recorded for ``card``) the draft's reference."""
    _editable(user, card)
    if take.work_card_id != card.id or take.kind != "reference":
        raise ServiceError(f"take {take.id} was not recorded as a reference for this card")
    if take.status == "recording":
        raise ServiceError(f"take {take.id} is still recording")
    if take.processing != "done" or not take.duration_s:
        raise ServiceError(f"take {take.id} is not processed yet: process it, then choose it")
    for step in card.steps:
        if step.end_s > take.duration_s + 1e-6:
            raise ServiceError(f"step {step.position} ({step.name}) ends at {step.end_s:g} s, after take {take.id} "
                                f"({take.duration_s:g} s): shorten or remove the steps first")
    card.reference_take = take
    card.updated_at = datetime.now(UTC)
    db.session.commit()
    return card


def publish(user: User, card: WorkCard) -> WorkCardVersion:
    """Publish the draft as the next version (kept as a snapshot); trainees see it from now on."""
    _editable(user, card)
    take = card.reference_take
    if take is None:
        raise ServiceError("choose a reference take before publishing")
    if take.processing != "done":
        raise ServiceError(f"the reference take {take.id} is not processed")
    if not card.steps:
        raise ServiceError("add at least one step before publishing")
    validate_steps([step.to_dict() for step in card.steps], take.duration_s)
    now = datetime.now(UTC)
    number = card.version + 1
    snapshot = {"version": number, **_content(card), "published_at": now.isoformat()}
    published = WorkCardVersion(work_card_id=card.id, version=number, snapshot=snapshot, reference_take_id=take.id,
                                published_at=now, published_by_id=user.id)
    card.version, card.status, card.published_at, card.updated_at = number, "published", now, now
    db.session.add(published)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError("someone published this card meanwhile: reload it and try again") from None
    logger.info("work card %d: version %d published by %s", card.id, number, user.username)
    return published


def revise(user: User, card: WorkCard) -> WorkCard:
    """Reopen a published card as a draft; its published versions stay, the last one in force."""
    if not can_edit_card(user, card):
        raise ServiceError("only the card's author or an admin may change it")
    if card.status != "published":
        raise ServiceError("the card is already a draft")
    card.status = "draft"
    card.updated_at = datetime.now(UTC)
    db.session.commit()
    return card


# --------------------------------------------------------------------------- what the pages show
def step_view(step: dict) -> dict:
    """A step as the pages show it; ``ergonomics`` (the expert's inputs) only when set."""
    view = {"name": step["name"], "instructions": step.get("instructions", ""), "start_s": step["start_s"],
            "end_s": step["end_s"]}
    if step.get("ergonomics"):
        view["ergonomics"] = step["ergonomics"]
    return view


def card_view(user: User, card: WorkCard) -> dict:
    """The contract's ``card`` object (JSON-ready) as ``user`` sees it (:func:`card_content`).

    ``can_edit`` says whether ``user`` is its author or an admin: they change a draft
    directly, and a published card after :func:`revise`.
    """
    content = card_content(user, card)
    editor = can_edit_card(user, card)
    published_at = content.get("published_at")
    if editor:
        updated_at = card.updated_at.isoformat()
    else:  # the version in force: the draft being revised stays private
        updated_at = published_at
    return {"id": card.id, "title": content["title"], "description": content["description"],
            "tags": list(content["tags"]), "status": content["status"], "version": content["version"],
            "author": card.author.username, "reference_take_id": content.get("reference_take"),
            "steps": [step_view(s) for s in content["steps"]],
            "updated_at": updated_at, "published_at": published_at, "can_edit": editor}


def list_card_views(user: User) -> list[dict]:
    """:func:`card_view` of every card ``user`` may see, most recently changed first."""
    return [card_view(user, card) for card in list_work_cards(user)]
