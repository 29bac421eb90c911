"""JSON endpoints: ``/healthz`` and ``/api/cameras`` (contract), ``/api/jobs``."""
from flask import Blueprint, current_app, jsonify
from flask_login import current_user

from web.events import STAFF_ROLES

bp = Blueprint("api", __name__)


@bp.route("/healthz")
def healthz():
    """Open without login: liveness plus a one-line camera summary (no names, no URLs)."""
    processor = current_app.extensions["vsion.processor"]
    cameras = processor.health()
    connected = sum(1 for c in cameras if c["status"] == "connected")
    return jsonify(status="ok", cameras=len(cameras), connected=connected,
                   recording=processor.record_event.is_set())


@bp.route("/api/cameras")
def cameras():
    """Name, status, measured fps and dropped frames of every camera (URLs masked)."""
    return jsonify(current_app.extensions["vsion.processor"].health())


@bp.route("/api/jobs")
def jobs():
    """Background jobs (processing of takes), newest first; trainees see the jobs of their own takes only."""
    jobs = current_app.extensions["vsion.runtime"].jobs.jobs()
    staff = current_user.role in STAFF_ROLES
    return jsonify(jobs=[job.to_dict() for job in jobs if staff or job.params.get("user_id") == current_user.id])
