"""The calibration wizard page, its Socket.IO events, and the calibration sets API (technicians).

One technician drives the wizard at a time (:mod:`live.driver`): every event that acts on it
asks the policy (:func:`accounts.policy.wizard_drive_refusal`) with the driver of the moment,
and the first allowed user to act takes it when it is free. Everyone on the page hears the
wizard's live events, its state after each change (``calibration state``) and who drives it
(``calibration driver``). The board, the calibration from a take and the health check are
in :mod:`web.calibration_tools`.
"""
from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from flask_socketio import join_room

from accounts.policy import Action, wizard_drive_refusal
from calibration import store
from calibration.intrinsics import COVERAGE_GRID, MIN_VIEWS, CalibrationError
from calibration.io import CalibrationFileError
from common.errors import ServiceError
from live.driver import DriverRefused, Person
from live.schemas import (
    AdoptIntrinsics,
    Auto,
    CameraRef,
    DriverChange,
    Empty,
    Focus,
    Save,
    SessionStart,
    Solve,
    WorkAreaBody,
)
from live.wizard import WizardError, rig_summary
from system import calibration as use
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
REFUSED = (WizardError, CalibrationError, CalibrationFileError, DriverRefused, ServiceError)


def _wizard():
    return system().wizard


def me() -> Person:
    return Person(current_user.id, current_user.username)


def announce_driver() -> None:
    """Tell everyone on the calibration page who drives the wizard now."""
    system().notifier.calibration("calibration driver", _wizard().driver.state())


def share_state() -> None:
    """Tell everyone on the calibration page the wizard's state after a change (they follow the driver)."""
    system().notifier.calibration("calibration state", {"state": _wizard().state(), "by": current_user.username})


def drive() -> None:
    """Let the signed-in user act on the wizard: the policy decides with the driver of the moment
    (:class:`~live.driver.DriverRefused` when someone else drives); a free wizard is taken."""
    wizard = _wizard()

    def refusal(holder):
        return wizard_drive_refusal(current_user, holder.id if holder else None, holder.name if holder else None)

    if wizard.driver.acquire(me(), refusal):
        announce_driver()


def calibration_event(name: str, model, drives: bool = True, shares: bool = False):
    """A wizard event (see :func:`web.events.socket_event`); ``drives``: it acts on the wizard, so
    only its driver may send it; ``shares``: the page's state changes, everyone hears it."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(data):
            if drives:
                drive()
            answer = fn(data)
            if shares:
                share_state()
            return answer

        return socket_event(name, model, Action.CALIBRATE, "calibration error", REFUSED)(run)

    return decorate


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
@calibration_event("calibration begin", Empty, drives=False)
def begin(data):
    join_room(CALIBRATION_ROOM)
    wizard = _wizard()
    wizard.driver.join(request.sid, me())
    announce_driver()  # one more on the page
    b = wizard.board
    return {"cameras": system().processor.health(),
            "board": {"cols": b.cols, "rows": b.rows, "square_mm": b.square_mm},
            "coverage_grid": list(COVERAGE_GRID), "min_views": MIN_VIEWS, "state": wizard.begin(),
            "driver": wizard.driver.state(), "me": current_user.username}


@calibration_event("calibration driver", DriverChange, drives=False)
def driver(data):
    wizard = _wizard()
    if data.action == "take":
        drive()
    elif data.action == "release":
        wizard.driver.release(me())
    else:
        drive()  # only the driver hands over
        wizard.driver.hand_over(me(), data.to)
    announce_driver()
    audit("calibration.driver", "calibration", None, change=data.action, to=data.to)
    return {"driver": wizard.driver.state()}


@calibration_event("calibration session", SessionStart, shares=True)
def session(data):
    wizard = _wizard()
    state = wizard.new_session() if data.mode == "new" else wizard.redo_positions()
    audit("calibration.session", "calibration", state["session"], mode=data.mode)
    return {"state": state}


@calibration_event("calibration focus", Focus, shares=True)
def focus(data):
    return {"state": _wizard().focus(data.step, data.camera)}


@calibration_event("calibration check", CameraRef)
def check(data):
    return _wizard().check(data.camera)


@calibration_event("calibration capture", CameraRef)
def capture(data):
    return _wizard().capture(data.camera)


@calibration_event("calibration auto", Auto, shares=True)
def auto(data):
    _wizard().set_auto(data.enabled)
    return {}


@calibration_event("calibration reset", CameraRef, shares=True)
def reset(data):
    return {"state": _wizard().reset_camera(data.camera)}


@calibration_event("calibration intrinsics", CameraRef, shares=True)
def intrinsics(data):
    return {"result": _wizard().run_intrinsics(data.camera)}


@calibration_event("calibration adopt", AdoptIntrinsics, shares=True)
def adopt(data):
    return {"result": use.adopt_intrinsics(system(), data.job_id)}


@calibration_event("calibration floor", Empty)
def floor(data):
    return _wizard().capture_floor()


@calibration_event("calibration solve", Solve, shares=True)
def solve(data):
    return {"result": _wizard().solve(data.refine_intrinsics)}


@calibration_event("calibration save", Save, shares=True)
def save(data):
    saved = _wizard().save(data.note)
    system().sync_calibrations()  # takes name the set in force
    audit("calibration.save", "calibration", saved["id"], note=data.note)
    return {"set": saved}
