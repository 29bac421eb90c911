"""JSON endpoints: ``/healthz`` and ``/api/cameras`` (contract), ``/api/jobs``."""
from flask import Blueprint, jsonify
from flask_login import current_user

from accounts.policy import Action, allows
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
    """Background jobs (processing of takes), newest first; those who do not see every result see
    the jobs of their own takes only."""
    everything = allows(current_user, Action.SEE_ALL_RESULTS)
    return jsonify(jobs=[job.to_dict() for job in system().jobs.jobs()
                         if everything or job.params.get("user_id") == current_user.id])
