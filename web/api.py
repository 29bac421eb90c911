"""JSON endpoints: ``/healthz`` and ``/api/cameras`` (contract), ``/api/jobs``."""
from flask import Blueprint, jsonify
from flask_login import current_user

from accounts.policy import sees_take_of
from web.notify import redact_paths
from web.state import system

bp = Blueprint("api", __name__)


@bp.route("/healthz")
def healthz():
    """Open without login: liveness plus a one-line camera summary (no names, no URLs)."""
    processor = system().processor
    cameras = processor.health()
    connected = sum(1 for c in cameras if c["status"] == "connected")
    return jsonify(status="ok", cameras=len(cameras), connected=connected, recording=processor.recording)


@bp.route("/api/cameras")
def cameras():
    """Name, status, measured fps and dropped frames of every camera (URLs masked)."""
    return jsonify(system().processor.health())


@bp.route("/api/jobs")
def jobs():
    """Background jobs (processing of takes), newest first: those of the takes the user may see
    (the rule of the ``job status`` events)."""
    jobs = [job for job in system().jobs.jobs()
            if sees_take_of(current_user, job.params.get("user_id"), job.params.get("take_kind", "free"))]
    return jsonify(jobs=[{**job.to_dict(), "message": redact_paths(job.message)} for job in jobs])
