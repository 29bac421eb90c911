"""Login and logout. Every other page, feed and event needs a logged-in user."""
from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from training.users import authenticate, get_user
from web.extensions import login_manager
from web.i18n import translate

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])


@login_manager.user_loader
def load_user(user_id: str):
    return get_user(int(user_id)) if user_id.isdigit() else None


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be a redirect target after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
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
        logger.warning("failed login for %r from %s", form.username.data[:64], request.remote_addr)
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
