"""Work cards: the pages and the JSON API of the contract (``/workcards``, ``/api/workcards``).

Thin adapters: each route validates its payload (pydantic), calls one service of
``training`` and answers. Anything the user may not see answers 404 ``{"error": "not found"}``;
a role that may not act, 403; a request the services refuse, 400 with their message.
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from training import comparisons, takes, workcards
from training.workcards import TrainingError
from web.audit import audit
from web.events import explain
from web.roles import roles_required

bp = Blueprint("workcards", __name__)
AUTHOR_ROLES = ("expert", "admin")


# --------------------------------------------------------------------------- payloads
class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Text without control characters (NUL and the like), which PostgreSQL refuses and pages cannot show.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=PRINTABLE)]
Description = Annotated[str, StringConstraints(max_length=4000, pattern=PRINTABLE)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=PRINTABLE)]
Tags = Annotated[list[Tag], Field(max_length=20)]


class NewCard(_Payload):
    title: Title
    description: Description = ""
    tags: Tags = []


class CardChanges(_Payload):
    title: Title | None = None
    description: Description | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.title is None and self.description is None and self.tags is None:
            raise ValueError("nothing to change: give title, description or tags")
        return self


class StepIn(_Payload):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=PRINTABLE)]
    instructions: Annotated[str, StringConstraints(max_length=2000, pattern=PRINTABLE)] = ""
    start_s: Annotated[float, Field(allow_inf_nan=False, strict=True, ge=0, le=86400)]
    end_s: Annotated[float, Field(allow_inf_nan=False, strict=True, ge=0, le=86400)]


class Steps(_Payload):
    steps: Annotated[list[StepIn], Field(max_length=50)]


class ReferenceChoice(_Payload):
    take_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class Empty(_Payload):
    pass


def payload(model: type[BaseModel]):
    """The request's JSON body validated into ``model`` (no body counts as ``{}``), or 400."""
    data = request.get_json(silent=True) if request.content_length else {}
    if data is None:
        abort(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        abort(400, explain(exc))


# --------------------------------------------------------------------------- helpers
def card_or_404(card_id: int):
    """The card if the current user may see it; 404 (same answer whether it exists or not)."""
    try:
        return workcards.get_work_card(current_user, card_id)
    except TrainingError:
        abort(404, "not found")


def editable_card(card_id: int):
    card = card_or_404(card_id)
    if not workcards.can_edit(current_user, card):
        abort(403, "only the card's author or an admin may change it")
    return card


def card_json(card, status: int = 200):
    return jsonify(workcards.card_view(current_user, card)), status


@bp.errorhandler(TrainingError)
def refused(error: TrainingError):
    """A request the services refuse: 400 with their message (safe to show)."""
    return jsonify(error=str(error)), 400


# --------------------------------------------------------------------------- pages
@bp.route("/workcards")
def list_page():
    return render_template("workcards.html", can_create=current_user.role in AUTHOR_ROLES)


@bp.route("/workcards/<int:card_id>")
def card_page(card_id: int):
    card = card_or_404(card_id)
    runtime = current_app.extensions["vsion.runtime"]
    can_edit = workcards.can_edit(current_user, card)
    return render_template("workcard.html", card_id=card.id,
                           role=current_user.role, cameras=runtime.processor.health(), can_edit=can_edit,
                           can_record_reference=can_edit and card.status == "draft",
                           can_record_attempt=card.version >= 1, recording=runtime.recording_state())


@bp.route("/workcards/<int:card_id>/summary")
def summary_page(card_id: int):
    card = card_or_404(card_id)
    try:
        context = comparisons.summary(current_user, card, request.args.get("user"), _comparison_details)
    except TrainingError:
        abort(404)
    return render_template("summary.html", **context)


def _comparison_details(take) -> dict:
    from training import takefiles

    try:
        return takefiles.read_comparison(takefiles.take_folder(_takes_dir(), take.id))
    except takefiles.TakeFileMissing:
        return {}


def _takes_dir():
    return current_app.extensions["vsion.processor"].takes_dir


# --------------------------------------------------------------------------- JSON
@bp.route("/api/workcards")
def list_cards():
    return jsonify(cards=workcards.list_card_views(current_user))


@bp.route("/api/workcards", methods=["POST"])
@roles_required(*AUTHOR_ROLES)
def create_card():
    data = payload(NewCard)
    card = workcards.create_work_card(current_user, data.title, data.description, data.tags)
    audit("workcard.create", "work_card", card.id, title=card.title)
    return card_json(card, 201)


@bp.route("/api/workcards/<int:card_id>")
def get_card(card_id: int):
    return card_json(card_or_404(card_id))


@bp.route("/api/workcards/<int:card_id>", methods=["PATCH"])
def update_card(card_id: int):
    card = editable_card(card_id)
    data = payload(CardChanges)
    workcards.update_work_card(current_user, card, title=data.title, description=data.description, tags=data.tags)
    audit("workcard.update", "work_card", card.id, fields=sorted(data.model_dump(exclude_none=True)))
    return card_json(card)


@bp.route("/api/workcards/<int:card_id>/steps", methods=["PUT"])
def put_steps(card_id: int):
    card = editable_card(card_id)
    data = payload(Steps)
    workcards.set_steps(current_user, card, [step.model_dump() for step in data.steps])
    audit("workcard.steps", "work_card", card.id, steps=len(data.steps))
    return card_json(card)


@bp.route("/api/workcards/<int:card_id>/reference", methods=["POST"])
def choose_reference(card_id: int):
    card = editable_card(card_id)
    data = payload(ReferenceChoice)
    workcards.choose_reference(current_user, card, takes.get_take(current_user, data.take_id))
    audit("workcard.reference", "work_card", card.id, take_id=data.take_id)
    return card_json(card)


@bp.route("/api/workcards/<int:card_id>/publish", methods=["POST"])
def publish(card_id: int):
    card = editable_card(card_id)
    payload(Empty)
    version = workcards.publish(current_user, card)
    audit("workcard.publish", "work_card", card.id, version=version.version)
    return card_json(card)


@bp.route("/api/workcards/<int:card_id>/revise", methods=["POST"])
def revise(card_id: int):
    card = editable_card(card_id)
    payload(Empty)
    workcards.revise(current_user, card)
    audit("workcard.revise", "work_card", card.id, version=card.version)
    return card_json(card)


@bp.route("/api/workcards/<int:card_id>/takes")
def card_takes(card_id: int):
    card = card_or_404(card_id)
    return jsonify(takes=comparisons.takes_with_scores(takes.card_takes(current_user, card)))


@bp.route("/api/workcards/<int:card_id>/progress")
def progress(card_id: int):
    card = card_or_404(card_id)
    try:
        return jsonify(comparisons.progress(current_user, card, request.args.get("user")))
    except TrainingError:
        abort(404, "not found")
