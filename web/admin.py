"""User administration (administrators only): the users page and its JSON API."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.db import db
from training.models import ROLES, User
from training.users import UserError, create_user
from web.i18n import current_language, labels_for
from web.roles import roles_required

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=2, max_length=64)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    password: str = Field(min_length=8, max_length=200)


def _user(user: User) -> dict:
    return {"id": user.id, "username": user.username, "role": user.role, "active": bool(user.active),
            "created_at": user.created_at.isoformat() if user.created_at else None}


@bp.route("/admin/users")
@roles_required("admin")
def users_page():
    return render_template("users.html", labels=labels_for(current_language()), roles=ROLES)


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
        field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "payload"
        return jsonify(error=f"{field}: {exc.errors()[0]['msg']}"), 400
    except UserError as exc:
        return jsonify(error=str(exc)), 400
    logger.info("admin %s created user %s (%s)", current_user.username, user.username, user.role)
    return jsonify(_user(user)), 201
