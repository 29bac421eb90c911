"""JSON endpoints: ``/healthz`` and ``/api/cameras`` (contract), ``/api/jobs`` (the job history)."""
from flask import Blueprint, jsonify
from flask_login import current_user

from takes import history
from takes.schemas import JobQuery
from web.bodies import query
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
    """The job history, newest first, one page (:class:`takes.schemas.JobQuery` filters); those
    who do not see every result see the jobs of their own takes (and those they queued)."""
    return jsonify(history.list_jobs(current_user, query(JobQuery)))
