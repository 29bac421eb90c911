"""The calibration wizard page, its Socket.IO events, and the calibration sets API (technicians)."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from flask import Blueprint, abort, jsonify, render_template, request
from flask_socketio import join_room

from accounts.policy import Action
from calibration import store
from calibration.intrinsics import COVERAGE_GRID, MIN_VIEWS, CalibrationError
from calibration.io import CalibrationFileError
from live.schemas import Auto, CameraRef, Empty, Focus, Save, Solve, WorkAreaBody
from live.wizard import WizardError, rig_summary
from takes import workarea
from web.access import requires
from web.auditing import audit
from web.bodies import Empty as EmptyBody
from web.bodies import payload
from web.events import socket_event
from web.notify import CALIBRATION_ROOM
from web.state import system

logger = logging.getLogger(__name__)
bp = Blueprint("calibration", __name__)
REFUSED = (WizardError, CalibrationError, CalibrationFileError)


def _wizard():
    return system().wizard


def calibration_event(name: str, model):
    return socket_event(name, model, Action.CALIBRATE, "calibration error", REFUSED)


# --------------------------------------------------------------------------- page
@bp.route("/calibration")
@requires(Action.CALIBRATE)
def page():
    processor = system().processor
    board = system().settings.board
    sets = store.list_sets(_wizard().sets_root)
    active = next((s for s in sets if s.get("active")), None)
    return render_template("calibration.html", cameras=processor.health(), board=board.model_dump(),
                           active=active)


# --------------------------------------------------------------------------- sets API
@bp.route("/api/calibrations")
@requires(Action.CALIBRATE)
def list_sets():
    return jsonify(store.list_sets(_wizard().sets_root))


def _load(set_id: str):
    try:
        return store.load_set(_wizard().sets_root, set_id)
    except store.UnknownSet:
        abort(404)
    except CalibrationFileError as exc:
        abort(409, str(exc))


@bp.route("/api/calibrations/<set_id>")
@requires(Action.CALIBRATE)
def get_set(set_id: str):
    group, meta = _load(set_id)
    return jsonify({**meta, "rig": rig_summary(group, None, _wizard().board)})


@bp.route("/api/calibrations/<set_id>/activate", methods=["POST"])
@requires(Action.CALIBRATE)
def activate_set(set_id: str):
    _load(set_id)
    try:
        store.activate(_wizard().sets_root, set_id, _wizard().active_path)
    except OSError as exc:
        abort(409, f"cannot write the calibration in force: {exc.strerror}")
    logger.info("calibration set %s activated", set_id)
    system().sync_calibrations()
    audit("calibration.activate", "calibration", set_id)
    return jsonify(ok=True, active=set_id)


IMPORT_MAX_BYTES = 1024 * 1024
IMPORT_SUFFIXES = (".toml", ".txt")


@bp.route("/api/calibrations/import", methods=["POST"])
@requires(Action.CALIBRATE)
def import_set():
    """A calibration file (TOML, or a Qualisys .qca.txt) uploaded, stored as a set and activated."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, "choose a calibration file (.toml or .qca.txt)")
    if not upload.filename.lower().endswith(IMPORT_SUFFIXES):
        abort(400, "a calibration file is a .toml or a Qualisys .qca.txt")
    data = upload.stream.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        abort(413, "a calibration file is at most 1 MB")
    suffix = ".qca.txt" if upload.filename.lower().endswith(".txt") else ".toml"
    name = Path(upload.filename).name  # the name the store checks (the raw one may hold a newline)
    rig = [c.name for c in system().settings.cameras]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"upload{suffix}"
        source.write_bytes(data)
        try:
            meta = store.import_set(_wizard().sets_root, source, rig, note=request.form.get("note", ""), name=name)
        except CalibrationFileError as exc:
            abort(400, str(exc).replace(str(source), name))
    store.activate(_wizard().sets_root, meta["id"], _wizard().active_path)
    logger.info("calibration set %s imported from %s and activated", meta["id"], name)
    system().sync_calibrations()
    audit("calibration.import", "calibration", meta["id"], file=name, cameras=meta.get("cameras"))
    return jsonify({**meta, "active": True}), 201


@bp.route("/api/calibrations/compare")
@requires(Action.CALIBRATE)
def compare_sets():
    a, b = request.args.get("a", ""), request.args.get("b", "")
    (group_a, _), (group_b, _) = _load(a), _load(b)
    return jsonify({"a": a, "b": b, **store.compare(group_a, group_b)})


# --------------------------------------------------------------------------- the work area
def _work_area_answer(corners: list[float] | None):
    wizard = _wizard()
    try:
        state = workarea.set_work_area(wizard.sets_root, wizard.active_path, wizard.board, corners)
    except workarea.WorkAreaError as exc:
        abort(400, str(exc))
    audit("calibration.work_area", "calibration", state["set_id"], work_area=state["work_area"], source=state["source"])
    return jsonify(state)


@bp.route("/api/calibration/work-area")
@requires(Action.CALIBRATE)
def work_area():
    """The work area of the calibration in force, its default and the rig to draw it on."""
    wizard = _wizard()
    return jsonify(workarea.work_area_state(wizard.sets_root, wizard.active_path, wizard.board))


@bp.route("/api/calibration/work-area", methods=["PUT"])
@requires(Action.CALIBRATE)
def set_work_area():
    """Keep a new work area with the calibration in force (400 for a bad rectangle)."""
    data = payload(WorkAreaBody)
    return _work_area_answer([data.x0, data.y0, data.x1, data.y1])


@bp.route("/api/calibration/work-area", methods=["DELETE"])
@requires(Action.CALIBRATE)
def reset_work_area():
    """Back to the default work area (the middle of the calibrated volume)."""
    payload(EmptyBody)
    return _work_area_answer(None)


# --------------------------------------------------------------------------- wizard events
@calibration_event("calibration begin", Empty)
def begin(data):
    join_room(CALIBRATION_ROOM)
    wizard = _wizard()
    b = wizard.board
    return {"cameras": system().processor.health(),
            "board": {"cols": b.cols, "rows": b.rows, "square_mm": b.square_mm},
            "coverage_grid": list(COVERAGE_GRID), "min_views": MIN_VIEWS, "state": wizard.begin()}


@calibration_event("calibration focus", Focus)
def focus(data):
    return {"state": _wizard().focus(data.step, data.camera)}


@calibration_event("calibration check", CameraRef)
def check(data):
    return _wizard().check(data.camera)


@calibration_event("calibration capture", CameraRef)
def capture(data):
    return _wizard().capture(data.camera)


@calibration_event("calibration auto", Auto)
def auto(data):
    _wizard().set_auto(data.enabled)
    return {}


@calibration_event("calibration reset", CameraRef)
def reset(data):
    return {"state": _wizard().reset_camera(data.camera)}


@calibration_event("calibration intrinsics", CameraRef)
def intrinsics(data):
    return {"result": _wizard().run_intrinsics(data.camera)}


@calibration_event("calibration floor", Empty)
def floor(data):
    return _wizard().capture_floor()


@calibration_event("calibration solve", Solve)
def solve(data):
    return {"result": _wizard().solve(data.refine_intrinsics)}


@calibration_event("calibration save", Save)
def save(data):
    saved = _wizard().save(data.note)
    system().sync_calibrations()  # takes name the set in force
    audit("calibration.save", "calibration", saved["id"], note=data.note)
    return {"set": saved}
