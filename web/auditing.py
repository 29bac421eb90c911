"""The web layer's door to the audit log: who acts is the signed-in user, from the request's address."""
from __future__ import annotations

import logging

from flask import request
from flask_login import current_user

from accounts import audit as service
from database.base import db

logger = logging.getLogger(__name__)


def audit(action: str, target_type: str | None = None, target_id=None, user=None, **detail) -> None:
    """Record ``action`` on ``target_type:target_id`` by ``user`` (default: the signed-in user).
    Never raises: a failed audit write is logged, the action it describes has already happened."""
    who = user if user is not None else (current_user if current_user.is_authenticated else None)
    try:
        service.record(action, target_type, target_id, detail, user=who, ip=request.remote_addr)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        logger.exception("audit: %s on %s:%s not recorded", action, target_type, target_id)
