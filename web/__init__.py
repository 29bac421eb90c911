"""The web layer: Flask blueprints and Socket.IO handlers. Thin adapters: no math, no threads."""
from __future__ import annotations

from flask import jsonify, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from web import admin, api, audit, auth, calibration, events, i18n, pages, takes, video, workcards  # noqa: F401 - events: Socket.IO handlers

PUBLIC_ENDPOINTS = {"auth.login", "api.healthz", "static"}


class SafeJSONProvider(DefaultJSONProvider):
    """JSON too deeply nested for the parser is a bad request body like any other (a ValueError,
    which ``get_json(silent=True)`` answers with 400), not a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def register(app) -> None:
    """Attach blueprints, the deny-by-default login check and template helpers to ``app``."""
    app.json = SafeJSONProvider(app)
    i18n.init_app(app)
    for module in (auth, pages, api, video, calibration, workcards, takes, admin, audit):
        app.register_blueprint(module.bp)

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
            return None
        if request.endpoint is None:  # unknown URL: let Flask answer 404
            return None
        if request.path.startswith(("/api/", "/video_feed/")) or request.accept_mimetypes.best == "application/json":
            return jsonify(error="login required"), 401
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))

    @app.errorhandler(HTTPException)
    def api_errors_as_json(error):
        """Under /api/, errors answer JSON ``{"error": ...}`` so scripts and pages can show the reason."""
        if request.path.startswith("/api/"):
            return jsonify(error=error.description or error.name), error.code
        return error

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
        return response
