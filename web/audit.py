"""The web layer's door to the audit log: who acts is the logged-in user, from the request's address.

Also the administrators' audit page (``/admin/audit``) and its JSON and CSV API (``/api/audit``,
``/api/audit.csv``).
"""
from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training import audit as service
from web.events import explain
from web.roles import roles_required

logger = logging.getLogger(__name__)

bp = Blueprint("audit", __name__)


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


# --------------------------------------------------------------------------- the audit page (administrators)
class AuditQuery(BaseModel):
    """``/api/audit`` query parameters. Others (``lang``, a cache buster) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    limit: int = Field(default=100, ge=1, le=service.MAX_PAGE)
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    action: str | None = Field(default=None, max_length=40, pattern=r"^[a-z_.]*$")
    user: str | None = Field(default=None, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")


def _query() -> AuditQuery:
    """The request's query string validated, or 400 with the reason."""
    try:
        return AuditQuery.model_validate({key: value for key, value in request.args.items() if value != ""})
    except ValidationError as exc:
        abort(400, explain(exc))


@bp.route("/admin/audit")
@roles_required("admin")
def page():
    return render_template("audit.html")


@bp.route("/api/audit")
@roles_required("admin")
def list_events():
    query = _query()
    rows, older = service.page(query.limit, query.before, query.action, query.user)
    return jsonify(events=[service.event_view(row) for row in rows], next_before=older)


@bp.route("/api/audit.csv")
@roles_required("admin")
def export_csv():
    query = _query()
    audit("audit.export", "audit", None, action_prefix=query.action, username=query.user)
    app = current_app._get_current_object()

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(service.CSV_COLUMNS)
        with app.app_context():  # its own session: the response is streamed after the view returns
            for row in service.iter_events(query.action, query.user):
                writer.writerow(service.csv_row(row))
                if out.tell() > 1 << 16:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    return Response(lines(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="vsion-audit-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"'})
