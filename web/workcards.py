"""Work cards: the pages and the JSON API of the contract (``/workcards``, ``/api/workcards``).

Thin adapters: each route validates its payload (the schemas of :mod:`workcards.schemas`), calls
one service and answers. Anything the user may not see answers 404 ``{"error": "not found"}``;
a role that may not act, 403; a request the services refuse, 400 with their message.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user

from accounts.policy import Action, allows, can_edit_card
from common.errors import ServiceError
from takes import files as takefiles
from takes import results, views
from takes import service as takes
from web.access import requires
from web.auditing import audit
from web.bodies import Empty, payload
from web.state import system
from workcards import service as workcards
from workcards.schemas import CardChanges, NewCard, ReferenceChoice, Steps

bp = Blueprint("workcards", __name__)


# --------------------------------------------------------------------------- helpers
def card_or_404(card_id: int):
    """The card if the current user may see it; 404 (same answer whether it exists or not)."""
    try:
        return workcards.get_work_card(current_user, card_id)
    except ServiceError:
        abort(404, "not found")


def editable_card(card_id: int):
    card = card_or_404(card_id)
    if not can_edit_card(current_user, card):
        abort(403, "only the card's author or an admin may change it")
    return card


def card_json(card, status: int = 200):
    return jsonify(workcards.card_view(current_user, card)), status


@bp.errorhandler(ServiceError)
def refused(error: ServiceError):
    """A request the services refuse: 400 with their message (safe to show)."""
    return jsonify(error=str(error)), 400


# --------------------------------------------------------------------------- pages
@bp.route("/workcards")
def list_page():
    return render_template("workcards.html", can_create=allows(current_user, Action.AUTHOR))


@bp.route("/workcards/<int:card_id>")
def card_page(card_id: int):
    card = card_or_404(card_id)
    running = system()
    can_edit = can_edit_card(current_user, card)
    return render_template("workcard.html", card_id=card.id,
                           role=current_user.role, cameras=running.processor.health(), can_edit=can_edit,
                           can_record_reference=can_edit and card.status == "draft",
                           can_record_attempt=card.version >= 1, recording=running.takes.recording_state())


@bp.route("/workcards/<int:card_id>/summary")
def summary_page(card_id: int):
    card = card_or_404(card_id)
    try:
        context = results.summary(current_user, card, request.args.get("user"), _comparison_details)
    except ServiceError:
        abort(404)
    return render_template("summary.html", **context)


def _comparison_details(take) -> dict:
    try:
        return takefiles.read_comparison(takefiles.take_folder(_takes_dir(), take.id))
    except takefiles.TakeFileMissing:
        return {}


def _takes_dir():
    return system().takes.takes_dir


# --------------------------------------------------------------------------- JSON
@bp.route("/api/workcards")
def list_cards():
    return jsonify(cards=workcards.list_card_views(current_user))


@bp.route("/api/workcards", methods=["POST"])
@requires(Action.AUTHOR)
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
    return jsonify(takes=results.takes_with_scores(views.card_takes(current_user, card)))


@bp.route("/api/workcards/<int:card_id>/progress")
def progress(card_id: int):
    card = card_or_404(card_id)
    try:
        return jsonify(results.progress(current_user, card, request.args.get("user")))
    except ServiceError:
        abort(404, "not found")
