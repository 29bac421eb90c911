"""Takes: the take page and the JSON API of the contract (``/takes/<id>``, ``/api/takes/<id>/...``).

Files are found from the take id the database knows and the camera names of its
``take.json`` (``training.takefiles``), never from a path the client sends. A take the user
may not see answers 404 ``{"error": "not found"}``, as one that does not exist.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, send_file, url_for
from flask_login import current_user

from reconstruction.exports import ExportError
from training import takefiles, takes
from training.comparisons import comparison_view
from training.workcards import TrainingError
from web.i18n import current_language, labels_for

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
    return render_template("take.html", labels=labels_for(current_language()), take_id=take.id,
                           role=current_user.role)


# --------------------------------------------------------------------------- JSON
@bp.route("/api/takes/<take_id>")
def detail(take_id: str):
    take = take_or_404(take_id)
    data = takes.take_detail(current_user, take, _takes_dir())
    for cam in data["cameras"]:
        cam["video_url"] = url_for("takes.video", take_id=take.id, camera=cam["name"])
    data["downloads"] = {what: url_for("takes.download", take_id=take.id, what=what) for what in DOWNLOADS}
    return jsonify(data)


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
    return send_file(path, mimetype="video/mp4", conditional=True, max_age=0)


@bp.route("/api/takes/<take_id>/download/<what>")
def download(take_id: str, what: str):
    take = take_or_404(take_id)
    folder = folder_or_404(take)
    try:
        if what == "videos":
            members = takefiles.videos_zip_members(folder)
            return Response(takefiles.iter_zip(members), mimetype="application/zip", headers={
                "Content-Disposition": f'attachment; filename="{take.id}-videos.zip"'})
        path = takefiles.output_path(folder, what)
    except takefiles.TakeFileMissing:
        abort(404, "not found")
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
