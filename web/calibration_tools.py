"""The calibration page's tools besides the wizard (technicians): the board's settings and its
print, the picture of what "9 x 6" counts, a calibration from a recorded take, and the health
check of the calibration in force.

Refusals answer JSON ``{"error", "code", "params"}`` (``code`` and ``params`` let the page say it
in the user's language): 400 for a board or a paper that cannot be used, 404 for a take the user
does not see, 409 when the wizard is driven by someone else, holds work made with the board in
use, or the check cannot be made now.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from flask_babel import pgettext
from flask_login import current_user

from accounts.policy import Action
from calibration.boards import BoardError, CharucoBoard
from calibration.intrinsics import CalibrationError
from calibration.printing import BoardPrintError, inner_corners_svg
from common.errors import ServiceError
from config.schema import ConfigError
from live.driver import DriverRefused
from live.health import HealthUnavailable
from live.schemas import BoardForm, BoardPrint, CornersPicture, FromTake, HealthCheck
from live.wizard import WizardError
from system import calibration as use
from system.build import CamerasUnavailable
from system.onboarding import mark_onboarding_step
from takes.library import calibration_take
from takes.service import TakeBusy
from web.access import requires
from web.auditing import audit
from web.bodies import payload, query
from web.calibration import drive, share_state
from web.state import system

logger = logging.getLogger(__name__)
bp = Blueprint("calibration_tools", __name__)


def _refused(exc: Exception, status: int):
    return jsonify(error=str(exc), code=getattr(exc, "code", "refused"), params=getattr(exc, "params", {})), status


# --------------------------------------------------------------------------- the board
@bp.route("/api/calibration/board")
@requires(Action.CALIBRATE)
def board():
    return jsonify(use.board_view(system()))


@bp.route("/api/calibration/board", methods=["PUT"])
@requires(Action.CALIBRATE)
def set_board():
    """A new board, written to config.yaml and used by the wizard at once (its driver only)."""
    form = payload(BoardForm)
    try:
        drive()
        answer = use.set_board(system(), form)
    except BoardError as exc:
        return _refused(exc, 400)
    except (WizardError, DriverRefused, CamerasUnavailable, ConfigError) as exc:
        return _refused(exc, 409)
    audit("calibration.board", "calibration", None, cols=form.cols, rows=form.rows, square_mm=form.square_mm,
          type=form.type, marker_mm=form.marker_mm)
    share_state()
    return jsonify(answer)


def _caption(board) -> str:
    text = pgettext("board_caption", "{cols} x {rows} inner corners, squares {square} mm").format(
        cols=board.cols, rows=board.rows, square=f"{board.square_mm:g}")
    if isinstance(board, CharucoBoard):
        marker = board.marker_mm or 0.75 * board.square_mm
        text += "\n" + pgettext("board_caption_charuco", "ChArUco markers {marker} mm (dictionary 5x5, 100 markers)"
                                ).format(marker=f"{marker:g}")
    return text


@bp.route("/api/calibration/board/print")
@requires(Action.CALIBRATE)
def print_board():
    """The board in force as a PDF or SVG at true scale; downloading it marks the onboarding's
    board step done."""
    asked = query(BoardPrint)
    try:
        content, mimetype, name = use.print_board(system(), asked, _caption(system().wizard.board))
    except BoardPrintError as exc:
        return _refused(exc, 400)
    mark_onboarding_step(current_user, "board")
    audit("calibration.board_print", "calibration", None, format=asked.format, paper=asked.paper)
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "Cache-Control": "no-store"})


@bp.route("/api/calibration/board/corners.svg")
@requires(Action.CALIBRATE)
def corners_picture():
    """What "cols x rows" counts (inner corners), drawn for the page beside the board's fields."""
    asked = query(CornersPicture)
    picture = inner_corners_svg(asked.cols, asked.rows,
                                across=pgettext("board_across", "{cols} inner corners across"),
                                down=pgettext("board_down", "{rows} down"),
                                squares=pgettext("board_squares", "({sq_cols} x {sq_rows} squares)"))
    return Response(picture, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


# --------------------------------------------------------------------------- from a recorded take
@bp.route("/api/calibration/from-take", methods=["POST"])
@requires(Action.CALIBRATE)
def from_take():
    """Calibrate from a recorded take in the background: 202 and the job (its progress comes as
    ``job status`` events)."""
    form = payload(FromTake)
    try:
        take, folder = calibration_take(current_user, form.take_id, system().processor.takes_dir)
    except ServiceError as exc:
        return _refused(exc, 404 if str(exc) == "take not found" else 409)
    try:
        job = use.calibrate_from_take(system(), current_user, form, take, folder)
    except TakeBusy as exc:
        return _refused(exc, 409)
    except ServiceError as exc:
        return _refused(exc, 400)
    audit("calibration.from_take", "take", form.take_id, mode=form.mode, camera=form.camera, job=job.id)
    return jsonify(job.to_dict()), 202


# --------------------------------------------------------------------------- health
@bp.route("/api/calibration/health")
@requires(Action.CALIBRATE)
def health():
    """The latest health report (null before the first check)."""
    return jsonify(system().calibration_health())


@bp.route("/api/calibration/health", methods=["POST"])
@requires(Action.CALIBRATE)
def check_health():
    """Measure the calibration in force now (a board shown to the cameras, or the live skeleton)."""
    form = payload(HealthCheck)
    try:
        report = use.check_health(system(), form)
    except (HealthUnavailable, CalibrationError) as exc:
        return _refused(exc, 409)
    audit("calibration.health", "calibration", report.get("calibration"), source=form.source, moved=report["moved"])
    return jsonify(report)
