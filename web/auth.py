"""Login and logout. Every other page, feed and event needs a logged-in user."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from training.users import authenticate, get_user, user_exists
from web.extensions import login_manager
from web.i18n import translate

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])


@login_manager.user_loader
def load_user(user_id: str):
    user = get_user(int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None  # a disabled account loses its sessions


def _safe_next(target: str | None) -> str:
    """Only a path of this site may be a redirect target after login (no scheme, host or control character)."""
    if target and target.startswith("/") and not any(ord(ch) <= 0x20 or ch == "\\" for ch in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return url_for("pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            logger.info("user %s logged in", user.username)
            return redirect(_safe_next(request.args.get("next")))
        # Users sometimes type their password in the name field: only a known name is logged.
        known = user_exists(form.username.data)
        logger.warning("failed login for %s from %s", form.username.data if known else "an unknown user",
                       request.remote_addr)
        error = translate("bad_login")
    elif request.method == "POST":
        error = translate("bad_login")
    status = 401 if request.method == "POST" else 200
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        logger.info("user %s logged out", current_user.username)
    logout_user()
    return redirect(url_for("auth.login"))
