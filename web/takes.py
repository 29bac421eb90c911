"""Takes: the takes library (``/takes``, ``GET /api/takes``), the take page and the JSON API of the
contract (``/takes/<id>``, ``/api/takes/<id>/...``): label and notes, processing again, promotion
to a work card's reference, deletion.

Files are found from the take id the database knows and the camera names of its
``take.json`` (``takes.files``), never from a path the client sends. A take the user
may not see answers 404 ``{"error": "not found"}``, as one that does not exist.

Every download (and every view of a camera's video) is written to the audit log as
``take.export``, every deletion as ``take.delete``, a new label or notes as ``take.update``, a
processing asked again as ``take.process``, a promotion as ``take.promote``. Refusals: a take the
user does not see 404, an action the policy refuses them 403, a bad body 400, a take recorded or
processed now 409.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_file, url_for
from flask_login import current_user

from accounts.policy import Action, allows, can_annotate_take
from common.errors import ServiceError
from reconstruction.exports import ExportError
from takes import ergonomics, library, views
from takes import files as takefiles
from takes import people as takepeople
from takes import service as takes
from takes.lifecycle import LimitReached
from takes.results import comparison_view
from takes.schemas import ChoosePerson, ProcessTake, PromoteTake, TakeChanges, TakeQuery
from web.access import requires
from web.auditing import audit
from web.bodies import payload, query
from web.state import system

bp = Blueprint("takes", __name__)
DOWNLOADS = (*takefiles.DOWNLOADS, "videos")


def take_or_404(take_id: str):
    """The take if the current user may see it; 404 (same answer whether it exists or not)."""
    try:
        return takes.get_take(current_user, take_id)
    except ServiceError:
        abort(404, "not found")


def _takes_dir():
    return system().takes.takes_dir


def folder_or_404(take):
    try:
        return takefiles.take_folder(_takes_dir(), take.id)
    except takefiles.TakeFileMissing:
        abort(404, "not found")


@bp.errorhandler(ServiceError)
def refused(error: ServiceError):
    """A request the services refuse, with their message: 409 while the take is busy, 403 for
    what the policy refuses this user, 429 past a user's limit (``limits``), else 400."""
    status = 409 if isinstance(error, takes.TakeBusy) else \
        403 if isinstance(error, library.TakeRefused | takes.DeleteRefused) else \
        429 if isinstance(error, LimitReached) else 400
    return jsonify(error=str(error)), status


def _library_view(take) -> dict:
    return library.library_views(current_user, [take])[0]


# --------------------------------------------------------------------------- pages
@bp.route("/takes")
def library_page():
    return render_template("takes.html", can_author=allows(current_user, Action.AUTHOR))


@bp.route("/takes/<take_id>")
def page(take_id: str):
    take = take_or_404(take_id)
    return render_template("take.html", take_id=take.id,
                           role=current_user.role)


# --------------------------------------------------------------------------- the library
@bp.route("/api/takes")
def list_takes():
    """The takes the user may see, filtered, sorted, one page (:class:`takes.schemas.TakeQuery`)."""
    return jsonify(library.library_page(current_user, query(TakeQuery)))


@bp.route("/api/takes/<take_id>", methods=["PATCH"])
def update(take_id: str):
    take = take_or_404(take_id)
    if not can_annotate_take(current_user, take):
        abort(403, "only the take's owner, an expert or an admin changes its label and notes")
    data = payload(TakeChanges)
    library.annotate_take(current_user, take, data)
    audit("take.update", "take", take.id, fields=sorted(data.model_fields_set))
    return jsonify(_library_view(take))


@bp.route("/api/takes/<take_id>/process", methods=["POST"])
def process(take_id: str):
    """Process the take again (202 and the queued job, whose progress follows as ``job status``)."""
    take = take_or_404(take_id)
    library.reprocess_check(current_user, take)
    payload(ProcessTake)
    job = system().takes.reprocess(current_user, take.id)
    audit("take.process", "take", take.id, job=job.id, kind=take.kind)
    return jsonify(job.to_dict()), 202


@bp.route("/api/takes/<take_id>/person", methods=["POST"])
def choose_person(take_id: str):
    """Choose the take's worker among its people (202 and the queued job that re-exports and scores
    the take for them); who may: as for processing it again."""
    take = take_or_404(take_id)
    library.reprocess_check(current_user, take)
    data = payload(ChoosePerson)
    job = system().takes.choose_person(current_user, take.id, data.person_id)
    audit("take.person", "take", take.id, job=job.id, person=data.person_id)
    return jsonify(job.to_dict()), 202


@bp.route("/api/takes/<take_id>/promote", methods=["POST"])
@requires(Action.AUTHOR)
def promote(take_id: str):
    """Make a free, processed take a reference take of a draft work card its author (or an admin) writes."""
    take = take_or_404(take_id)
    data = payload(PromoteTake)
    card = library.promote_take(current_user, take, data.work_card_id, _takes_dir(), busy=system().takes.busy(take.id))
    audit("take.promote", "take", take.id, work_card_id=card.id)
    return jsonify(_library_view(take))


# --------------------------------------------------------------------------- JSON
@bp.route("/api/takes/<take_id>")
def detail(take_id: str):
    take = take_or_404(take_id)
    data = views.take_detail(current_user, take, _takes_dir())
    for cam in data["cameras"]:
        cam["video_url"] = url_for("takes.video", take_id=take.id, camera=cam["name"])
    data["downloads"] = {what: url_for("takes.download", take_id=take.id, what=what) for what in DOWNLOADS}
    data["can_delete"] = takes.can_delete(current_user, take)
    data["can_process"] = library.may_reprocess(current_user, take)
    return jsonify(data)


@bp.route("/api/takes/<take_id>", methods=["DELETE"])
def delete(take_id: str):
    take = take_or_404(take_id)
    gone = takes.delete_take(current_user, take, _takes_dir(), busy=system().takes.busy(take.id))
    audit("take.delete", "take", gone["id"], kind=gone["kind"], owner=gone["user"], work_card_id=gone["work_card_id"])
    return jsonify(deleted=gone["id"])


@bp.route("/api/takes/<take_id>/pose3d")
def pose3d(take_id: str):
    folder = folder_or_404(take_or_404(take_id))
    try:
        return jsonify(takefiles.pose3d(folder))
    except (takefiles.TakeFileMissing, ExportError):
        return jsonify(error="this take is not processed yet: its 3D skeleton is not available"), 409


@bp.route("/api/takes/<take_id>/ergonomics")
def ergonomics_report(take_id: str):
    """The take's ergonomic report with the steps that apply now (409 before it is processed)."""
    take = take_or_404(take_id)
    try:
        return jsonify(ergonomics.take_report(current_user, take, _takes_dir()))
    except ergonomics.NotProcessed as exc:
        return jsonify(error=str(exc)), 409
@bp.route("/api/takes/<take_id>/people")
def people(take_id: str):
    """Everybody the take's processing found (:func:`takes.people.people_view`); a take with one
    person in view has an empty list."""
    folder = folder_or_404(take_or_404(take_id))
    return jsonify(takepeople.people_view(folder))


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
    found = views.latest_comparison(take.id)
    if found is None:
        abort(404, "not found")
    try:
        details = takefiles.read_comparison(takefiles.take_folder(_takes_dir(), take.id))
    except takefiles.TakeFileMissing:
        details = {}
    return jsonify(comparison_view(found, details))
