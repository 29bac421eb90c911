"""The web layer's door to the audit log: who acts is the logged-in user, from the request's address."""
from __future__ import annotations

import logging

from flask import request
from flask_login import current_user

from training import audit as service

logger = logging.getLogger(__name__)


def audit(action: str, target_type: str | None = None, target_id=None, user=None, **detail) -> None:
    """Record ``action`` on ``target_type:target_id`` by ``user`` (default: the logged-in user).
    Never raises: a failed audit write is logged, the action it describes has already happened."""
    who = user if user is not None else (current_user if current_user.is_authenticated else None)
    try:
        service.record(action, target_type, target_id, detail, user=who, ip=request.remote_addr)
    except Exception:  # noqa: BLE001
        from training.db import db

        db.session.rollback()
        logger.exception("audit: %s on %s:%s not recorded", action, target_type, target_id)
