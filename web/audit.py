"""The administrators' audit page (``/admin/audit``) and its JSON and CSV API (``/api/audit``,
``/api/audit.csv``)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, render_template

from accounts import audit as service
from accounts.policy import Action
from accounts.schemas import AuditQuery
from web.access import requires
from web.auditing import audit
from web.bodies import query

bp = Blueprint("audit", __name__)


@bp.route("/admin/audit")
@requires(Action.READ_AUDIT)
def page():
    return render_template("audit.html")


@bp.route("/api/audit")
@requires(Action.READ_AUDIT)
def list_events():
    wanted = query(AuditQuery)
    rows, older = service.page(wanted.limit, wanted.before, wanted.action, wanted.user)
    return jsonify(events=[service.event_view(row) for row in rows], next_before=older)


@bp.route("/api/audit.csv")
@requires(Action.READ_AUDIT)
def export_csv():
    wanted = query(AuditQuery)
    audit("audit.export", "audit", None, action_prefix=wanted.action, username=wanted.user)
    app = current_app._get_current_object()

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(service.CSV_COLUMNS)
        with app.app_context():  # its own session: the response is streamed after the view returns
            for row in service.iter_events(wanted.action, wanted.user):
                writer.writerow(service.csv_row(row))
                if out.tell() > 1 << 16:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    return Response(lines(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="vsion-audit-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"'})
