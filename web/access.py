"""The web side of the one policy (:mod:`accounts.policy`): the login gate every request passes,
and the role check every route declares.

Every endpoint is either public (:data:`PUBLIC_ENDPOINTS`) or needs a signed-in user; a route
that needs more says which action with :func:`requires`. A refusal answers 401 or 403 (JSON
under ``/api/``), never the content.
"""
from __future__ import annotations

import functools

from flask import jsonify, redirect, request, url_for
from flask_login import current_user

from accounts.policy import Action, allows

PUBLIC_ENDPOINTS = frozenset({"auth.login", "api.healthz", "static"})


def wants_json() -> bool:
    """Does this request expect a JSON answer (the API, video feeds, scripts)?"""
    return request.path.startswith(("/api/", "/video_feed/")) or request.accept_mimetypes.best == "application/json"


def login_gate():
    """``before_request``: anything but a public endpoint needs a signed-in user."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if request.endpoint is None:  # unknown URL: let Flask answer 404
        return None
    if wants_json():
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def requires(action: Action):
    """Allow the view only to users whose role :func:`accounts.policy.allows` ``action``;
    others get 403 (JSON under /api/)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not allows(current_user, action):
                if request.path.startswith("/api/"):
                    return jsonify(error=f"the role {getattr(current_user, 'role', 'anonymous')} may not do this"), 403
                return "Forbidden: your role may not open this page.", 403
            return view(*args, **kwargs)

        return wrapper

    return decorate
