"""Work cards: authoring (title, description, tags, steps, reference take), publishing and visibility.

Who may do what:

* experts and admins author cards; only the author or an admin changes a card, and only
  while it is a draft (``revise`` reopens a published card as a draft);
* a card is visible to everyone once it has a published version; a draft that was never
  published only to its author and admins. Trainees and technicians get the published
  version in force (:func:`card_content`), never the draft being revised.

Services run inside an app context, commit their own changes and raise
:class:`TrainingError` with a message for the user.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from training.db import db
from training.models import Take, User, WorkCard, WorkCardStep, WorkCardVersion

logger = logging.getLogger(__name__)

AUTHOR_ROLES = ("admin", "expert")
MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_TAGS, MAX_TAG = 20, 40
MAX_STEPS, MAX_STEP_NAME, MAX_INSTRUCTIONS = 100, 120, 5_000


class TrainingError(ValueError):
    """A training request that cannot be honoured; the message says why (safe to show the user)."""


# --------------------------------------------------------------------------- visibility
def can_author(user: User) -> bool:
    return user.role in AUTHOR_ROLES


def can_edit(user: User, card: WorkCard) -> bool:
    """May ``user`` change ``card`` (its author or an admin)?"""
    return user.role == "admin" or (user.role in AUTHOR_ROLES and card.author_id == user.id)


def sees_drafts(user: User, card: WorkCard) -> bool:
    """Does ``user`` see ``card``'s working copy rather than its published version?"""
    return can_edit(user, card)


def visible_cards(user: User):
    """A SQL condition on :class:`WorkCard`: the cards ``user`` may see."""
    if user.role == "admin":
        return sa.true()
    if user.role in AUTHOR_ROLES:
        return sa.or_(WorkCard.version > 0, WorkCard.author_id == user.id)
    return WorkCard.version > 0


def list_work_cards(user: User) -> list[WorkCard]:
    """The cards ``user`` may see, most recently changed first."""
    query = sa.select(WorkCard).where(visible_cards(user)).order_by(WorkCard.updated_at.desc(), WorkCard.id.desc())
    return list(db.session.scalars(query))


def get_work_card(user: User, card_id: int) -> WorkCard:
    """Card ``card_id`` if ``user`` may see it; otherwise "not found" (whether it exists or not)."""
    try:
        card_id = int(card_id)
    except (TypeError, ValueError):
        raise TrainingError("work card not found") from None
    if not 1 <= card_id < 2**31:  # beyond any id (and beyond what the databases' integers hold)
        raise TrainingError("work card not found")
    card = db.session.scalars(sa.select(WorkCard).where(WorkCard.id == card_id, visible_cards(user))).first()
    if card is None:
        raise TrainingError("work card not found")
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
    if not sees_drafts(user, card):
        published = published_version(card)
        if published is None:
            raise TrainingError("work card not found")
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
def _title(title) -> str:
    title = title.strip() if isinstance(title, str) else ""
    if not title:
        raise TrainingError("the title is empty")
    if len(title) > MAX_TITLE:
        raise TrainingError(f"the title is longer than {MAX_TITLE} characters")
    return title


def _description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise TrainingError("the description must be text")
    if len(description) > MAX_DESCRIPTION:
        raise TrainingError(f"the description is longer than {MAX_DESCRIPTION} characters")
    return description.strip()


def _tags(tags) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise TrainingError("tags must be a list of words")
    clean, seen = [], set()
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise TrainingError("a tag is empty")
        tag = " ".join(tag.split())
        if len(tag) > MAX_TAG:
            raise TrainingError(f"the tag {tag[:MAX_TAG]!r}... is longer than {MAX_TAG} characters")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise TrainingError(f"at most {MAX_TAGS} tags")
    return clean


def _seconds(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TrainingError(f"{what} must be a number of seconds")
    return float(value)


def validate_steps(steps, duration_s: float | None) -> list[dict]:
    """Steps as stored: named, in order, not overlapping, within ``0..duration_s`` (s).

    ``steps`` is a list of mappings with ``name``, ``start_s``, ``end_s`` and optional
    ``instructions``. Raises :class:`TrainingError` naming the first bad step.
    """
    if not isinstance(steps, list | tuple):
        raise TrainingError("steps must be a list")
    if len(steps) > MAX_STEPS:
        raise TrainingError(f"at most {MAX_STEPS} steps")
    if steps and duration_s is None:
        raise TrainingError("choose the reference take before setting steps: step times are on its timeline")
    clean, previous_end = [], 0.0
    for position, step in enumerate(steps, start=1):
        label = f"step {position}"
        if not isinstance(step, dict):
            raise TrainingError(f"{label}: expected name, start and end")
        name = step.get("name")
        name = " ".join(name.split()) if isinstance(name, str) else ""
        if not name:
            raise TrainingError(f"{label}: the name is empty")
        if len(name) > MAX_STEP_NAME:
            raise TrainingError(f"{label}: the name is longer than {MAX_STEP_NAME} characters")
        label = f"step {position} ({name})"
        instructions = step.get("instructions") or ""
        if not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS:
            raise TrainingError(f"{label}: instructions must be text of at most {MAX_INSTRUCTIONS} characters")
        start, end = _seconds(step.get("start_s"), f"{label}: the start"), _seconds(step.get("end_s"), f"{label}: the end")
        if start < 0:
            raise TrainingError(f"{label}: starts before the reference take ({start:g} s)")
        if end <= start:
            raise TrainingError(f"{label}: must end after it starts ({start:g} s to {end:g} s)")
        if end > duration_s + 1e-6:
            raise TrainingError(f"{label}: ends at {end:g} s, after the reference take ({duration_s:g} s)")
        if start < previous_end - 1e-9:
            raise TrainingError(f"{label}: starts at {start:g} s, before the previous step ends "
                                f"({previous_end:g} s): steps are in order and do not overlap")
        previous_end = end
        clean.append({"position": position, "name": name, "instructions": instructions.strip(),
                      "start_s": start, "end_s": end})
    return clean


# --------------------------------------------------------------------------- authoring
def _editable(user: User, card: WorkCard) -> None:
    if not can_edit(user, card):
        raise TrainingError("only the card's author or an admin may change it")
    if card.status != "draft":
        raise TrainingError(f"version {card.version} is published: revise the card to change it")


def create_work_card(author: User, title: str, description: str = "", tags: Iterable[str] | None = None) -> WorkCard:
    """A new draft card by ``author`` (an expert or admin)."""
    if not can_author(author):
        raise TrainingError("only experts and admins write work cards")
    card = WorkCard(title=_title(title), description=_description(description), tags=_tags(tags),
                    author_id=author.id, status="draft", version=0)
    db.session.add(card)
    db.session.commit()
    logger.info("work card %d created by %s", card.id, author.username)
    return card


def update_work_card(user: User, card: WorkCard, *, title: str | None = None, description: str | None = None,
                     tags: Iterable[str] | None = None) -> WorkCard:
    """Change a draft's title, description or tags (the arguments given)."""
    _editable(user, card)
    if title is not None:
        card.title = _title(title)
    if description is not None:
        card.description = _description(description)
    if tags is not None:
        card.tags = _tags(tags)
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
        raise TrainingError(f"take {take.id} was not recorded as a reference for this card")
    if take.status == "recording":
        raise TrainingError(f"take {take.id} is still recording")
    if take.processing != "done" or not take.duration_s:
        raise TrainingError(f"take {take.id} is not processed yet: process it, then choose it")
    for step in card.steps:
        if step.end_s > take.duration_s + 1e-6:
            raise TrainingError(f"step {step.position} ({step.name}) ends at {step.end_s:g} s, after take {take.id} "
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
        raise TrainingError("choose a reference take before publishing")
    if take.processing != "done":
        raise TrainingError(f"the reference take {take.id} is not processed")
    if not card.steps:
        raise TrainingError("add at least one step before publishing")
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
        raise TrainingError("someone published this card meanwhile: reload it and try again") from None
    logger.info("work card %d: version %d published by %s", card.id, number, user.username)
    return published


def revise(user: User, card: WorkCard) -> WorkCard:
    """Reopen a published card as a draft; its published versions stay, the last one in force."""
    if not can_edit(user, card):
        raise TrainingError("only the card's author or an admin may change it")
    if card.status != "published":
        raise TrainingError("the card is already a draft")
    card.status = "draft"
    card.updated_at = datetime.now(UTC)
    db.session.commit()
    return card


# --------------------------------------------------------------------------- what the pages show
def card_view(user: User, card: WorkCard) -> dict:
    """The contract's ``card`` object (JSON-ready) as ``user`` sees it (:func:`card_content`).

    ``can_edit`` says whether ``user`` is its author or an admin: they change a draft
    directly, and a published card after :func:`revise`.
    """
    content = card_content(user, card)
    editor = sees_drafts(user, card)
    published_at = content.get("published_at")
    if editor:
        updated_at = card.updated_at.isoformat()
    else:  # the version in force: the draft being revised stays private
        updated_at = published_at
    return {"id": card.id, "title": content["title"], "description": content["description"],
            "tags": list(content["tags"]), "status": content["status"], "version": content["version"],
            "author": card.author.username, "reference_take_id": content.get("reference_take"),
            "steps": [{"name": s["name"], "instructions": s.get("instructions", ""), "start_s": s["start_s"],
                       "end_s": s["end_s"]} for s in content["steps"]],
            "updated_at": updated_at, "published_at": published_at, "can_edit": can_edit(user, card)}


def list_card_views(user: User) -> list[dict]:
    """:func:`card_view` of every card ``user`` may see, most recently changed first."""
    return [card_view(user, card) for card in list_work_cards(user)]
