"""User administration (administrators only): the users page and its JSON API."""
from __future__ import annotations

import logging
from typing import Literal

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from training.db import db
from training.models import ROLES, User
from training.users import UserError, create_user, get_user, is_locked, update_user
from web.audit import audit
from web.roles import roles_required

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=2, max_length=64)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    password: str = Field(min_length=8, max_length=200)


class UserChange(BaseModel):
    """``PATCH /api/users/<id>``: any of these, at least one."""

    model_config = ConfigDict(extra="forbid")
    role: Literal[ROLES] | None = None
    active: StrictBool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)  # a reset by an administrator
    unlock: Literal[True] | None = None  # clear the lock and the count of wrong passwords

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("give at least one of role, active, password, unlock")
        return self


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _user(user: User) -> dict:
    """A user as the API shows it: never the password hash."""
    return {"id": user.id, "username": user.username, "role": user.role, "active": bool(user.active),
            "created_at": _iso(user.created_at), "locked": is_locked(user), "locked_until": _iso(user.locked_until),
            "failed_logins": user.failed_logins or 0, "last_login_at": _iso(user.last_login_at)}


def _invalid(exc: ValidationError):
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "payload"
    return jsonify(error=f"{field}: {error['msg']}"), 400


@bp.route("/admin/users")
@roles_required("admin")
def users_page():
    return render_template("users.html", roles=ROLES,
                           me=current_user.id)


@bp.route("/api/users")
@roles_required("admin")
def list_users():
    users = db.session.execute(db.select(User).order_by(User.username)).scalars()
    return jsonify(users=[_user(u) for u in users])


@bp.route("/api/users", methods=["POST"])
@roles_required("admin")
def add_user():
    try:
        data = NewUser.model_validate(request.get_json(silent=True) or {})
        user = create_user(data.username, data.password, data.role)
    except ValidationError as exc:
        return _invalid(exc)
    except UserError as exc:
        return jsonify(error=str(exc)), 400
    logger.info("admin %s created user %s (%s)", current_user.username, user.username, user.role)
    audit("user.create", "user", user.id, username=user.username, role=user.role)
    return jsonify(_user(user)), 201


@bp.route("/api/users/<int:user_id>", methods=["PATCH"])
@roles_required("admin")
def change_user(user_id: int):
    """Change a user's role, enable or disable them, reset their password or unlock them."""
    try:
        data = UserChange.model_validate(request.get_json(silent=True) or {})
    except ValidationError as exc:
        return _invalid(exc)
    user = get_user(user_id)
    if user is None:
        return jsonify(error=f"no user {user_id}"), 404
    try:
        changes = update_user(user, current_user, data.role, data.active, data.password, bool(data.unlock))
    except UserError as exc:
        return jsonify(error=str(exc)), 400
    for change in changes:
        audit(change.action, "user", user.id, **change.detail)
    return jsonify(_user(user))
