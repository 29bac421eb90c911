"""The audit log: who started, stopped, deleted or exported what, and who changed accounts and settings.

Rows are only ever added (:func:`record`); administrators read them (:func:`events`).
Details must never hold a password or a camera URL: callers pass names and ids only.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

import sqlalchemy as sa

from database.base import db
from database.models import AuditEvent, User

logger = logging.getLogger(__name__)

MAX_PAGE = 500
# Detail keys never kept, whatever a caller passes: the log must not become a place to find secrets.
SECRET_KEYS = ("password", "secret", "token", "url")
MAX_DETAIL_TEXT = 200


def _clean(value, depth: int = 0):
    """``value`` as a detail may hold it: secret-looking keys dropped, long text cut, nesting bounded."""
    if isinstance(value, dict) and depth < 3:
        return {str(k)[:40]: _clean(v, depth + 1) for k, v in value.items()
                if not any(word in str(k).lower() for word in SECRET_KEYS)}
    if isinstance(value, list | tuple) and depth < 3:
        return [_clean(v, depth + 1) for v in list(value)[:50]]
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if "://" in text:  # a URL may carry credentials (rtsp://user:password@camera)
        return "(address hidden)"
    return text[:MAX_DETAIL_TEXT]


def record(action: str, target_type: str | None = None, target_id=None, detail: dict | None = None,
           user: User | None = None, ip: str | None = None, username: str | None = None) -> AuditEvent:
    """Add and commit one audit row. ``user`` is who acted (None: the system, or ``username`` for a
    name that matches no account, e.g. a failed login). Thread-safe within an app context."""
    event = AuditEvent(action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id)[:64],
                       detail=_clean(dict(detail or {})), ip=ip,
                       user_id=getattr(user, "id", None),
                       username=getattr(user, "username", None) or username,
                       role=getattr(user, "role", None))
    db.session.add(event)
    db.session.commit()
    logger.info("audit: %s %s %s:%s", event.username or "system", action, target_type or "-", event.target_id or "-")
    return event


def _select(before_id: int | None, action: str | None, username: str | None, since: datetime | None):
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if username:
        query = query.where(AuditEvent.username == username)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return query


def events(limit: int = 100, before_id: int | None = None, action: str | None = None,
           username: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
    """The newest events first (at most ``limit``, capped at :data:`MAX_PAGE`), older than
    ``before_id`` when paging, optionally for one action prefix (``take.``) or one user."""
    query = _select(before_id, action, username, since).limit(max(1, min(limit, MAX_PAGE)))
    return list(db.session.scalars(query))


def page(limit: int = 100, before_id: int | None = None, action: str | None = None,
         username: str | None = None) -> tuple[list[AuditEvent], int | None]:
    """One page of :func:`events` and the ``before_id`` of the next (older) page, None at the end."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(db.session.scalars(_select(before_id, action, username, None).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def iter_events(action: str | None = None, username: str | None = None, max_rows: int = 100_000):
    """Every matching event, newest first, read :data:`MAX_PAGE` rows at a time (for an export);
    at most ``max_rows``."""
    before, sent = None, 0
    while sent < max_rows:
        rows = events(min(MAX_PAGE, max_rows - sent), before, action, username)
        yield from rows
        sent += len(rows)
        if len(rows) < MAX_PAGE:
            return
        before = rows[-1].id


CSV_COLUMNS = ("id", "at", "user", "role", "action", "target_type", "target_id", "detail", "ip")


def csv_row(event: AuditEvent) -> list[str]:
    """The event as CSV cells (:data:`CSV_COLUMNS`); a cell a spreadsheet would read as a formula
    (``=``, ``+``, ``-``, ``@``) is prefixed with ``'``."""
    view = event_view(event)
    view["detail"] = json.dumps(view["detail"], ensure_ascii=False, sort_keys=True)
    cells = ["" if view[key] is None else str(view[key]) for key in CSV_COLUMNS]
    return ["'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell for cell in cells]


def event_view(event: AuditEvent) -> dict:
    return {"id": event.id, "at": event.at.isoformat(), "user": event.username, "role": event.role,
            "action": event.action, "target_type": event.target_type, "target_id": event.target_id,
            "detail": event.detail, "ip": event.ip}
