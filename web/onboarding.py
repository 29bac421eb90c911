"""The onboarding checklist of a new site (administrators and technicians): its state
(``GET /api/onboarding``), dismissed or reopened per user, and the board step marked done when the
board's print file is downloaded (``POST /api/onboarding/board``; server code calls
:func:`system.onboarding.mark_onboarding_step` directly). ``base.html`` draws the panel and its
menu entry for the roles the policy allows (``onboarding_allowed`` in every template)."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from accounts.policy import Action, allows
from system import onboarding
from web.access import requires
from web.auditing import audit
from web.bodies import Empty, payload
from web.state import system

bp = Blueprint("onboarding", __name__)

# Where each step is done: the first endpoint this VSION has (the cameras page may not exist yet).
LINKS = {"cameras": ("cameras.page", "pages.index"), "board": ("calibration.page",),
         "calibration": ("calibration.page",), "workcard": ("workcards.list_page",), "users": ("admin.users_page",)}
LINK_ACTIONS = {"users": Action.MANAGE_USERS, "workcard": Action.AUTHOR}


@bp.app_context_processor
def _allowed() -> dict:
    return {"onboarding_allowed": current_user.is_authenticated and allows(current_user, Action.SET_UP_SITE)}


def _link(step: str) -> str | None:
    """The page where ``step`` is done, if this user may open it and this VSION has it."""
    action = LINK_ACTIONS.get(step)
    if action is not None and not allows(current_user, action):
        return None
    for endpoint in LINKS[step]:
        try:
            return url_for(endpoint)
        except BuildError:
            continue
    return None


def _state():
    state = onboarding.onboarding_state(current_user, system().processor.health())
    for step in state["steps"]:
        step["url"] = _link(step["key"])
    return jsonify(state)


@bp.route("/api/onboarding")
@requires(Action.SET_UP_SITE)
def state():
    return _state()


@bp.route("/api/onboarding/dismiss", methods=["POST"])
@requires(Action.SET_UP_SITE)
def dismiss():
    payload(Empty)
    onboarding.set_onboarding_choice(current_user, shown=False)
    return _state()


@bp.route("/api/onboarding/reopen", methods=["POST"])
@requires(Action.SET_UP_SITE)
def reopen():
    payload(Empty)
    onboarding.set_onboarding_choice(current_user, shown=True)
    return _state()


@bp.route("/api/onboarding/board", methods=["POST"])
@requires(Action.SET_UP_SITE)
def board_printed():
    """The board was printed (its print file downloaded): the site's board step is done."""
    payload(Empty)
    onboarding.mark_onboarding_step(current_user, "board")
    audit("onboarding.board", "site", "board")
    return _state()
