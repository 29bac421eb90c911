"""The web layer: Flask blueprints and Socket.IO handlers. Thin adapters: each validates its
input with its schema, asks the policy, calls one service, and answers. No math, no threads."""
from __future__ import annotations

from flask import abort, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from accounts.policy import Action, allows
from common import jsonsafe
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
from web.state import system

BLUEPRINTS = (auth, pages, api, video, cameras, calibration, workcards, takes, admin, audit, onboarding,
              calibration_tools)
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


# The largest body each route reads (bytes); every other route: JSON_BODY_BYTES. A larger body
# is refused with 413 before anything reads it (a 16 MB JSON body would cost ~375 MB to parse).
JSON_BODY_BYTES = 64 * 1024
IMPORT_BODY_BYTES = 1024 * 1024 + 64 * 1024  # a 1 MB calibration file and its form
BODY_LIMITS = {"calibration.import_set": IMPORT_BODY_BYTES}
MAX_BODY_BYTES = max(JSON_BODY_BYTES, *BODY_LIMITS.values())


class SafeJSONProvider(DefaultJSONProvider):
    """Request bodies are read by :func:`common.jsonsafe.loads`: too deep, NaN, infinite or huge
    numbers are a ValueError like broken JSON (``get_json(silent=True)`` answers 400), never a 500."""

    def loads(self, s, **kwargs):
        return jsonsafe.loads(s, **kwargs)


def _limit_body():
    """``before_request``, first of all: refuse a body larger than its route reads, unread."""
    limit = BODY_LIMITS.get(request.endpoint, JSON_BODY_BYTES)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413, f"the request body is too large (at most {limit // 1024} KB here)")


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
    if request.is_secure:  # over HTTPS, browsers keep to HTTPS for this site from now on
        max_age = system().settings.server.hsts_max_age_s
        if max_age:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response


def register(app) -> None:
    """Attach blueprints, the deny-by-default login gate and template helpers to ``app``."""
    app.json = SafeJSONProvider(app)
    i18n.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_body)  # before the CSRF check reads a form
    app.before_request(login_gate)
    app.register_error_handler(HTTPException, _api_errors_as_json)
    app.context_processor(_policy_helpers)
    app.after_request(_security_headers)
