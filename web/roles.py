"""Role checks for routes (login itself is checked for every request in ``web.register``)."""
from __future__ import annotations

import functools

from flask import jsonify, request
from flask_login import current_user


def roles_required(*roles: str):
    """Allow the view only to users with one of ``roles``; others get 403 (JSON under /api/)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or current_user.role not in roles:
                if request.path.startswith("/api/"):
                    return jsonify(error=f"the role {getattr(current_user, 'role', 'anonymous')} may not do this"), 403
                return "Forbidden: your role may not open this page.", 403
            return view(*args, **kwargs)

        return wrapper

    return decorate
