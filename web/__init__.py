"""The web layer: Flask blueprints and Socket.IO handlers. Thin adapters: each validates its
input with its schema, asks the policy, calls one service, and answers. No math, no threads."""
from __future__ import annotations

from flask import jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from accounts.policy import Action, allows
from web import (  # noqa: F401 - events: Socket.IO handlers
    admin,
    api,
    audit,
    auth,
    calibration,
    calibration_tools,
    cameras,
    events,
    i18n,
    onboarding,
    pages,
    takes,
    video,
    workcards,
)
from web.access import PUBLIC_ENDPOINTS, login_gate  # noqa: F401 - PUBLIC_ENDPOINTS: the open routes

BLUEPRINTS = (auth, pages, api, video, cameras, calibration, workcards, takes, admin, audit, onboarding,
              calibration_tools)
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


class SafeJSONProvider(DefaultJSONProvider):
    """JSON too deeply nested for the parser is a bad request body like any other (a ValueError,
    which ``get_json(silent=True)`` answers with 400), not a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _api_errors_as_json(error):
    """Under /api/, errors answer JSON ``{"error": ...}`` so scripts and pages can show the reason."""
    if request.path.startswith("/api/"):
        return jsonify(error=error.description or error.name), error.code
    return error


def _policy_helpers():
    """``may("action")`` in templates: what the signed-in user's role may do (accounts.policy)."""
    return {"may": lambda action: current_user.is_authenticated and allows(current_user, Action(action))}


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def register(app) -> None:
    """Attach blueprints, the deny-by-default login gate and template helpers to ``app``."""
    app.json = SafeJSONProvider(app)
    i18n.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    app.before_request(login_gate)
    app.register_error_handler(HTTPException, _api_errors_as_json)
    app.context_processor(_policy_helpers)
    app.after_request(_security_headers)
