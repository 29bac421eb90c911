"""User administration (administrators only): the users page and its JSON API."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user

from accounts.policy import ROLES, Action
from accounts.schemas import NewUser, UserChange
from accounts.throttle import throttles
from accounts.users import UserError, create_user, get_user, update_user
from accounts.users import list_users as all_users
from common.errors import ServiceError
from common.payloads import PayloadError, validate
from database.models import User
from web.access import requires
from web.auditing import audit
from web.extensions import socketio
from web.notify import ROOM_ACTIONS
from web.sockets import disconnect_user, regroup_user
from web.state import links

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _user(user: User) -> dict:
    """A user as the API shows it: never the password hash. ``throttled``: the client addresses
    counting wrong passwords for this account (``waits_until``: until when one must wait);
    ``locked`` / ``locked_until`` / ``failed_logins`` sum them up (some address waits, the
    latest end of a wait, their wrong passwords)."""
    rows = throttles(user)
    waits = [row["waits_until"] for row in rows if row["waits_until"] is not None]
    return {"id": user.id, "username": user.username, "role": user.role, "active": bool(user.active),
            "created_at": _iso(user.created_at), "locked": bool(waits), "locked_until": _iso(max(waits, default=None)),
            "failed_logins": sum(row["failures"] for row in rows), "last_login_at": _iso(user.last_login_at),
            "throttled": [{"address": row["address"], "failures": row["failures"],
                           "last_failure_at": _iso(row["last_failure_at"]), "waits_until": _iso(row["waits_until"])}
                          for row in rows]}


@bp.route("/admin/users")
@requires(Action.MANAGE_USERS)
def users_page():
    return render_template("users.html", roles=ROLES,
                           me=current_user.id)


@bp.route("/api/users")
@requires(Action.MANAGE_USERS)
def list_users():
    return jsonify(users=[_user(u) for u in all_users()])


@bp.route("/api/users", methods=["POST"])
@requires(Action.MANAGE_USERS)
def add_user():
    try:
        data = validate(NewUser, request.get_json(silent=True) or {})
        user = create_user(data.username, data.password, data.role)
    except ServiceError as exc:  # a bad payload, or a user the service refuses
        return jsonify(error=str(exc)), 400
    logger.info("admin %s created user %s (%s)", current_user.username, user.username, user.role)
    audit("user.create", "user", user.id, username=user.username, role=user.role)
    return jsonify(_user(user)), 201


@bp.route("/api/users/<int:user_id>", methods=["PATCH"])
@requires(Action.MANAGE_USERS)
def change_user(user_id: int):
    """Change a user's role, enable or disable them, reset their password or unlock them."""
    try:
        data = validate(UserChange, request.get_json(silent=True) or {})
    except PayloadError as exc:
        return jsonify(error=str(exc)), 400
    user = get_user(user_id)
    if user is None:
        return jsonify(error=f"no user {user_id}"), 404
    try:
        changes = update_user(user, current_user, data.role, data.active, data.password, bool(data.unlock))
    except UserError as exc:
        return jsonify(error=str(exc)), 400
    for change in changes:
        audit(change.action, "user", user.id, **change.detail)
    _apply_to_links(user, {change.action for change in changes})
    return jsonify(_user(user))


def _apply_to_links(user: User, actions: set[str]) -> None:
    """A disabled account or a reset password ends the user's open Socket.IO links now; a role
    change takes them out of the rooms the new role may not hear."""
    if actions & {"user.disable", "user.password_reset"}:
        disconnect_user(socketio, links(), user.id)
    elif "user.role" in actions:
        regroup_user(socketio, links(), user.id, user.role, ROOM_ACTIONS)
