"""Login and logout, the login rate limit, account lockout answers and session lifetime.

Every other page, feed and event needs a logged-in user (``web.register``). A session ends
after ``security.session_idle_minutes`` without a request (the signed cookie's age, checked
by Flask) and in any case ``security.session_max_hours`` after the login (:func:`session_expired`).
"""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from accounts.throttle import login_attempt
from accounts.users import close_sessions, get_user, open_session, session_open
from web.access import PUBLIC_ENDPOINTS, wants_json
from web.auditing import audit
from web.extensions import limiter, login_manager, socketio
from web.sockets import disconnect_session
from web.state import EXTENSION, links, system

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

LOGIN_AT = "vsion_login_at"  # session key: when the user logged in (s since the epoch)
SESSION_ID = "vsion_sid"  # session key: the id of this login's row (database.models.LoginSession)
EXPIRED = "vsion_session_expired"  # session key: tell the login page why the user is back there
KEPT_ACROSS_LOGIN = ("lang",)  # everything else in the session is dropped at login and logout


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, marked Secure according to ``security.secure_cookies``:
    ``always``, ``never``, or ``auto``: Secure when the request reached VSION over HTTPS, so the
    desktop on http://127.0.0.1 keeps working. VSION trusts no ``X-Forwarded-Proto``: behind a
    proxy that terminates HTTPS, ``auto`` sees plain HTTP and ``always`` is the setting to use."""

    def get_cookie_secure(self, app) -> bool:
        mode = app.extensions[EXTENSION].settings.security.secure_cookies
        if mode == "auto":
            return request.is_secure
        return mode == "always"


def session_config() -> dict:
    """The Flask settings of the session cookie (its lifetime is set from the VSION settings)."""
    return {"SESSION_COOKIE_NAME": "vsion_session", "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_REFRESH_EACH_REQUEST": True}


def _security():
    return system().settings.security


@login_manager.user_loader
def load_user(user_id: str):
    user = get_user(int(user_id)) if user_id.isdigit() and len(user_id) < 12 else None
    if user is None or not user.is_active:  # a disabled account loses its sessions
        return None
    # A logout, password reset or disabled account since this session's login ended it.
    return user if session_open(user, session.get(SESSION_ID)) else None


def session_expired(now: float | None = None) -> bool:
    """Whether this request's session belongs to a login older than ``security.session_max_hours``
    (or to one without a login time). False without a logged-in user. For requests and
    Socket.IO handlers alike (both see the session)."""
    if "_user_id" not in session:
        return False
    started = session.get(LOGIN_AT)
    if not isinstance(started, (int, float)):
        return True
    return (now if now is not None else time.time()) - started > _security().session_max_hours * 3600


def _fresh_session() -> None:
    """Drop everything in the session but the language: nothing set before a login survives it."""
    kept = {key: session[key] for key in KEPT_ACROSS_LOGIN if key in session}
    session.clear()
    session.update(kept)


@bp.before_app_request
def end_expired_session():
    """Log out a session past its maximum age; pages go back to the login page, feeds and the
    JSON API answer 401."""
    if request.endpoint == "static" or not session_expired():
        return None
    if current_user.is_authenticated:
        logger.info("session of user %s reached its maximum age", current_user.username)
        audit("logout", "user", current_user.id, reason="session_max_age")
        disconnect_session(socketio, links(), session.get(SESSION_ID))
    logout_user()
    _fresh_session()
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if wants_json():
        return jsonify(error="session expired: log in again"), 401
    session[EXPIRED] = True
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _safe_next(target: str | None) -> str:
    """Only a path of this site may be a redirect target after login (no scheme, host or control character)."""
    if target and target.startswith("/") and not any(ord(ch) <= 0x20 or ch == "\\" for ch in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return url_for("pages.index")


def _login_rate() -> str:
    return _security().login_rate_limit


def _too_many_logins(limit):
    """The login page again, with 429 and ``Retry-After``, when one address posts too many logins."""
    retry_s = max(1, int(limit.reset_at - time.time()))
    logger.warning("too many login attempts from %s (limit %s): refused for %d s", request.remote_addr,
                   limit.limit, retry_s)
    error = gettext("Too many sign-in attempts from this computer: try again in {seconds} s.").format(seconds=retry_s)
    response = make_response(render_template("login.html", form=LoginForm(), error=error), 429)
    response.headers["Retry-After"] = str(retry_s)
    return response


def _refusal(result) -> tuple[str, int]:
    """The login page's message and status for a refused attempt."""
    if result.reason == "throttled":
        return gettext("Too many wrong passwords for this account from this computer: try again in {seconds} s. "
                       "An administrator can lift this wait.").format(seconds=max(1, round(result.retry_after_s))), 429
    return gettext("Wrong user name or password."), 401


def _audit_failure(result) -> None:
    """``login.failed`` names the account only when it exists (an unknown name may be a password)."""
    if result.account is None:
        logger.warning("failed login for an unknown user from %s", request.remote_addr)
        audit("login.failed", reason=result.reason)
        return
    account = result.account
    logger.warning("failed login for %s from %s (%s)", account.username, request.remote_addr, result.reason)
    if result.throttle_started:
        audit("login.throttled", "user", account.id, user=account, failures=result.failures,
              wait_s=result.retry_after_s)
    audit("login.failed", "user", account.id, user=account, reason=result.reason, failures=result.failures)


@bp.errorhandler(CSRFError)
def stale_form(error):
    """A login page left open past its session's lifetime: show the form again, with a fresh
    token and a readable message, rather than a bare 400 (the login is still refused)."""
    if request.endpoint != "auth.login":
        return error
    logger.info("login form with a missing or stale CSRF token from %s", request.remote_addr)
    return render_template("login.html", form=LoginForm(), error=gettext("This sign-in page was too old: try again.")), 400


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"], on_breach=_too_many_logins)
def login():
    form = LoginForm()
    error, status = None, 200
    if request.method == "GET" and session.pop(EXPIRED, False):
        error = gettext("Session expired: please sign in again.")
    if form.validate_on_submit():
        security = _security()
        result = login_attempt(form.username.data, form.password.data, request.remote_addr,
                               security.lockout_failures, security.lockout_minutes * 60)
        if result.user is not None:
            _fresh_session()
            login_user(result.user)
            session.permanent = True  # idle expiry: PERMANENT_SESSION_LIFETIME, renewed by each request
            session[LOGIN_AT] = time.time()
            session[SESSION_ID] = open_session(result.user, security.session_max_hours)
            logger.info("user %s logged in from %s", result.user.username, request.remote_addr)
            audit("login.success", "user", result.user.id, user=result.user)
            return redirect(_safe_next(request.args.get("next")))
        _audit_failure(result)
        error, status = _refusal(result)
        if status == 429:
            response = make_response(render_template("login.html", form=form, error=error), 429)
            response.headers["Retry-After"] = str(max(1, round(result.retry_after_s)))
            return response
    elif request.method == "POST":
        error, status = gettext("Wrong user name or password."), 401
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        logger.info("user %s logged out", current_user.username)
        audit("logout", "user", current_user.id)
        close_sessions(session_id=session.get(SESSION_ID))  # a copied cookie dies too
        disconnect_session(socketio, links(), session.get(SESSION_ID))  # and this session's open links, now
    logout_user()
    _fresh_session()
    return redirect(url_for("auth.login"))
