"""The administrators' audit page (``/admin/audit``) and its JSON and CSV API (``/api/audit``,
``/api/audit.csv``)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from accounts import audit as service
from accounts.policy import Action
from accounts.schemas import AuditQuery
from common.payloads import PayloadError, validate
from web.access import requires
from web.auditing import audit

bp = Blueprint("audit", __name__)


def _query() -> AuditQuery:
    """The request's query string validated, or 400 with the reason."""
    try:
        return validate(AuditQuery, {key: value for key, value in request.args.items() if value != ""})
    except PayloadError as exc:
        abort(400, str(exc))


@bp.route("/admin/audit")
@requires(Action.READ_AUDIT)
def page():
    return render_template("audit.html")


@bp.route("/api/audit")
@requires(Action.READ_AUDIT)
def list_events():
    query = _query()
    rows, older = service.page(query.limit, query.before, query.action, query.user)
    return jsonify(events=[service.event_view(row) for row in rows], next_before=older)


@bp.route("/api/audit.csv")
@requires(Action.READ_AUDIT)
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
