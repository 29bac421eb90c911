"""Takes: the take page and the JSON API of the contract (``/takes/<id>``, ``/api/takes/<id>/...``).

Files are found from the take id the database knows and the camera names of its
``take.json`` (``training.takefiles``), never from a path the client sends. A take the user
may not see answers 404 ``{"error": "not found"}``, as one that does not exist.

Every download (and every view of a camera's video) is written to the audit log as
``take.export``, every deletion as ``take.delete``.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for
from flask_login import current_user

from reconstruction.exports import ExportError
from training import takefiles, takes
from training.comparisons import comparison_view
from training.workcards import TrainingError
from web.audit import audit

bp = Blueprint("takes", __name__)
DOWNLOADS = ("csv", "trc", "c3d", "videos")


def take_or_404(take_id: str):
    """The take if the current user may see it; 404 (same answer whether it exists or not)."""
    try:
        return takes.get_take(current_user, take_id)
    except TrainingError:
        abort(404, "not found")


def _takes_dir():
    return current_app.extensions["vsion.processor"].takes_dir


def folder_or_404(take):
    try:
        return takefiles.take_folder(_takes_dir(), take.id)
    except takefiles.TakeFileMissing:
        abort(404, "not found")


# --------------------------------------------------------------------------- page
@bp.route("/takes/<take_id>")
def page(take_id: str):
    take = take_or_404(take_id)
    return render_template("take.html", take_id=take.id,
                           role=current_user.role)


# --------------------------------------------------------------------------- JSON
@bp.route("/api/takes/<take_id>")
def detail(take_id: str):
    take = take_or_404(take_id)
    data = takes.take_detail(current_user, take, _takes_dir())
    for cam in data["cameras"]:
        cam["video_url"] = url_for("takes.video", take_id=take.id, camera=cam["name"])
    data["downloads"] = {what: url_for("takes.download", take_id=take.id, what=what) for what in DOWNLOADS}
    data["can_delete"] = takes.can_delete(current_user, take)
    return jsonify(data)


def _busy(take_id: str) -> bool:
    """Is the take recording now, or has it a processing job queued or running in this server?"""
    runtime = current_app.extensions["vsion.runtime"]
    recording = runtime.processor.take
    if recording is not None and recording.id == take_id:
        return True
    return any(job.take_id == take_id and job.status in ("queued", "running") for job in runtime.jobs.jobs())


@bp.route("/api/takes/<take_id>", methods=["DELETE"])
def delete(take_id: str):
    take = take_or_404(take_id)
    try:
        gone = takes.delete_take(current_user, take, _takes_dir(), busy=_busy(take.id))
    except takes.TakeBusy as exc:
        return jsonify(error=str(exc)), 409
    except takes.DeleteRefused as exc:
        return jsonify(error=str(exc)), 403
    audit("take.delete", "take", gone["id"], kind=gone["kind"], owner=gone["user"], work_card_id=gone["work_card_id"])
    return jsonify(deleted=gone["id"])


@bp.route("/api/takes/<take_id>/pose3d")
def pose3d(take_id: str):
    folder = folder_or_404(take_or_404(take_id))
    try:
        return jsonify(takefiles.pose3d(folder))
    except (takefiles.TakeFileMissing, ExportError):
        return jsonify(error="this take is not processed yet: its 3D skeleton is not available"), 409


@bp.route("/api/takes/<take_id>/video/<camera>")
def video(take_id: str, camera: str):
    folder = folder_or_404(take_or_404(take_id))
    try:
        path = takefiles.video_path(folder, camera)
    except takefiles.TakeFileMissing:
        abort(404, "not found")
    if _first_range(request.headers.get("Range")):  # a player asks for many ranges: one row per view
        audit("take.export", "take", take_id, what="video", camera=camera)
    return send_file(path, mimetype="video/mp4", conditional=True, max_age=0)


def _first_range(header: str | None) -> bool:
    """A whole-file request, or the first range of one (``bytes=0-...``)."""
    return header is None or header.replace(" ", "").lower().startswith("bytes=0-")


@bp.route("/api/takes/<take_id>/download/<what>")
def download(take_id: str, what: str):
    take = take_or_404(take_id)
    folder = folder_or_404(take)
    try:
        if what == "videos":
            members = takefiles.videos_zip_members(folder)
            audit("take.export", "take", take.id, what=what)
            return Response(takefiles.iter_zip(members), mimetype="application/zip", headers={
                "Content-Disposition": f'attachment; filename="{take.id}-videos.zip"'})
        path = takefiles.output_path(folder, what)
    except takefiles.TakeFileMissing:
        abort(404, "not found")
    audit("take.export", "take", take.id, what=what)
    return send_file(path, as_attachment=True, download_name=f"{take.id}-{path.name}", max_age=0)


@bp.route("/api/takes/<take_id>/comparison")
def comparison(take_id: str):
    take = take_or_404(take_id)
    found = takes.latest_comparison(take.id)
    if found is None:
        abort(404, "not found")
    try:
        details = takefiles.read_comparison(takefiles.take_folder(_takes_dir(), take.id))
    except takefiles.TakeFileMissing:
        details = {}
    return jsonify(comparison_view(found, details))
