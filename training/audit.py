"""The audit log: who started, stopped, deleted or exported what, and who changed accounts and settings.

Rows are only ever added (:func:`record`); administrators read them (:func:`events`).
Details must never hold a password or a camera URL: callers pass names and ids only.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from training.db import db
from training.models import AuditEvent, User

logger = logging.getLogger(__name__)

MAX_PAGE = 500


def record(action: str, target_type: str | None = None, target_id=None, detail: dict | None = None,
           user: User | None = None, ip: str | None = None, username: str | None = None) -> AuditEvent:
    """Add and commit one audit row. ``user`` is who acted (None: the system, or ``username`` for a
    name that matches no account, e.g. a failed login). Thread-safe within an app context."""
    event = AuditEvent(action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id)[:64],
                       detail=dict(detail or {}), ip=ip,
                       user_id=getattr(user, "id", None),
                       username=getattr(user, "username", None) or username,
                       role=getattr(user, "role", None))
    db.session.add(event)
    db.session.commit()
    logger.info("audit: %s %s %s:%s", event.username or "system", action, target_type or "-", event.target_id or "-")
    return event


def events(limit: int = 100, before_id: int | None = None, action: str | None = None,
           username: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
    """The newest events first (at most ``limit``, capped at :data:`MAX_PAGE`), older than
    ``before_id`` when paging, optionally for one action prefix (``take.``) or one user."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if username:
        query = query.where(AuditEvent.username == username)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(db.session.scalars(query))


def event_view(event: AuditEvent) -> dict:
    return {"id": event.id, "at": event.at.isoformat(), "user": event.username, "role": event.role,
            "action": event.action, "target_type": event.target_type, "target_id": event.target_id,
            "detail": event.detail, "ip": event.ip}
