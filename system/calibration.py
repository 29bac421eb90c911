"""The calibration page's use cases on the running system: the board (its settings and its print),
a calibration from a recorded take (a background job), adopting what it found, and the health
check of the calibration in force. The wizard's own requests (steps, captures, solves, sessions,
the driver) go to :class:`live.wizard.CalibrationWizard` directly.

Each takes the :class:`~system.build.System` and a validated payload (:mod:`live.schemas`).
Refusals: :class:`calibration.boards.BoardError`, :class:`calibration.printing.BoardPrintError`,
:class:`live.wizard.WizardError`, :class:`common.errors.ServiceError` (its subclasses
:class:`live.health.HealthUnavailable`, :class:`takes.service.TakeBusy`...), and those of
:meth:`System.set_board`. Database work runs in the caller's app context.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from calibration import store
from calibration.boards import check_board, make_board
from calibration.intrinsics import intrinsics_from_json
from calibration.printing import board_pdf, board_svg, describe
from calibration.recording import take_cameras
from common.errors import ServiceError
from common.takefolder import CALIBRATE_JOB
from config.schema import BoardConfig
from database.models import Take, User
from jobs.base import Job, JobStatus
from live.health import BOARD_GAP_S, PARTS, HealthUnavailable
from live.schemas import BoardForm, BoardPrint, FromTake, HealthCheck
from live.wizard import WizardError
from system.build import System
from takes.service import TakeBusy

logger = logging.getLogger(__name__)

HEALTH_CLIENT = "calibration-health"  # live pose's client while a skeleton check collects
POSE_START_S = 30.0  # live pose's workers may take this long to give their first skeleton


def board_view(system: System) -> dict:
    """The board in force as the page's form shows it, with what it is."""
    board = system.settings.board
    return {**board.model_dump(), "describe": describe(system.wizard.board)}


def set_board(system: System, form: BoardForm) -> dict:
    """Make the form's board the one in force (see :meth:`System.set_board`); a board the cameras
    could not use raises :class:`~calibration.boards.BoardError` first, and nothing changes."""
    made = make_board(form.cols, form.rows, form.square_mm, form.type,
                      form.marker_mm if form.type == "charuco" else None)
    check_board(made)
    config = BoardConfig(cols=form.cols, rows=form.rows, square_mm=form.square_mm, type=form.type,
                         marker_mm=form.marker_mm if form.type == "charuco" else None)
    system.set_board(config, made)
    logger.info("calibration board now %s", made.describe())
    return board_view(system)


def print_board(system: System, query: BoardPrint, caption: str | None = None,
                check_label: str = "{mm:g} mm") -> tuple[bytes, str, str]:
    """The board in force on paper at true scale: (file content, MIME type, file name).
    ``caption`` and ``check_label`` are the sheet's texts in the user's language."""
    board = system.wizard.board
    paper = (query.width_mm, query.height_mm) if query.paper == "custom" else query.paper
    paper_name = f"{query.width_mm:g}x{query.height_mm:g}mm" if query.paper == "custom" else query.paper
    name = f"vsion-board-{board.cols}x{board.rows}-{board.square_mm:g}mm-{paper_name}.{query.format}"
    if query.format == "svg":
        return board_svg(board, paper, caption=caption, check_label=check_label).encode(), "image/svg+xml", name
    return board_pdf(board, paper, caption=caption, check_label=check_label), "application/pdf", name


# --------------------------------------------------------------------------- from a recorded take
def _board_params(system: System) -> dict:
    b = system.settings.board
    return {"cols": b.cols, "rows": b.rows, "square_mm": b.square_mm, "kind": b.type,
            "marker_mm": b.marker_mm if b.type == "charuco" else None}


def _mode_params(system: System, form: FromTake, cameras: list[str]) -> dict:
    if form.mode == "intrinsics":
        if form.camera not in cameras:
            raise ServiceError(f"camera {form.camera} is not in this take (its cameras: {', '.join(cameras)})")
        return {"camera": form.camera}
    try:
        group = system.wizard.intrinsics_for(cameras)
    except WizardError as exc:
        raise ServiceError(str(exc)) from None
    intrinsics = [{"name": c.name, "size": list(c.size), "matrix": c.matrix.tolist(), "dist": c.dist.tolist()}
                  for c in group.cameras]
    floor = [form.floor_start_s, form.floor_end_s] if form.floor_start_s is not None else None
    return {"intrinsics": intrinsics, "floor_s": floor, "sets_root": str(system.wizard.sets_root)}


def calibrate_from_take(system: System, user: User, form: FromTake, take: Take, folder: Path) -> Job:
    """Queue a ``calibrate`` job (:func:`takes.tasks.calibrate_take_task`) on ``take`` (in
    ``folder``; :func:`takes.library.calibration_take` found it for ``user``); its progress comes
    as ``job status`` events. Positions use this session's intrinsics, else those in force.
    Raises :class:`TakeBusy`, or ServiceError (a camera not in the take, no intrinsics)."""
    if system.takes.busy(take.id):
        raise TakeBusy("this take is being recorded or processed: wait until it is finished")
    try:
        cameras = take_cameras(folder)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    params = {"take_dir": str(folder), "take_id": take.id, "mode": form.mode, "board": _board_params(system),
              "queued_by": user.id, "created_by": user.username, "user_id": None, "take_kind": take.kind,
              "note": f"from take {take.id}", **_mode_params(system, form, cameras)}
    job = system.jobs.submit(CALIBRATE_JOB, take.id, params)
    logger.info("user %s: %s of take %s queued (job %s)", user.username, form.mode, take.id, job.id)
    return job


def adopt_intrinsics(system: System, job_id: str) -> dict:
    """Use in the wizard's session the intrinsics a finished ``calibrate`` job found; returns the
    intrinsics summary. Raises :class:`WizardError` for an unknown, unfinished or other job."""
    job = next((j for j in system.jobs.jobs() if j.id == job_id and j.kind == CALIBRATE_JOB), None)
    if job is None:
        raise WizardError("no such calibration from a take here (the list is lost when VSION restarts): run it again")
    report = job.report or {}
    if job.status != JobStatus.DONE or report.get("mode") != "intrinsics":
        raise WizardError("this calibration from a take has not given intrinsics: wait for it to finish")
    return system.wizard.adopt_intrinsics(report["camera"], intrinsics_from_json(report["intrinsics"]))


# --------------------------------------------------------------------------- health
def _calibration_in_force(system: System):
    """(the calibration in force for the rig's cameras it has, its set id); HealthUnavailable without two."""
    active = store.read_active(system.settings.calibration_path)
    names = [n for n in system.processor.names if active is not None and n in active.names]
    if len(names) < 2:
        raise HealthUnavailable("no calibration in force for two or more of these cameras: calibrate them first",
                                "no_calibration")
    return active.subset(names), store.active_id(system.wizard.sets_root)


def check_health(system: System, form: HealthCheck) -> dict:
    """Measure the calibration in force now, from a board shown to the cameras or from the live
    skeleton (see :mod:`live.health`); the report becomes ``System.calibration_health()``."""
    group, set_id = _calibration_in_force(system)
    if form.source == "board":
        shows = system.wizard.board_shows(PARTS, BOARD_GAP_S)
        return system.health.from_board(group, shows, system.wizard.board, set_id)
    return system.health.from_skeleton(group, _skeleton(system, form.seconds), set_id)


def _skeleton(system: System, seconds: float) -> list:
    """Live pose frame sets over ``seconds`` s from the first one (live pose asked for meanwhile)."""
    health, pose = system.health, system.live_pose
    if not system.started:  # no live pose on a server whose cameras are not running
        raise HealthUnavailable("the live skeleton is not running on this server", "no_skeleton")
    health.names = list(system.processor.names)
    health.collecting(True)
    pose.enable(HEALTH_CLIENT, True)
    try:
        deadline = time.monotonic() + POSE_START_S
        while not health.collecting_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(seconds if health.collecting_count() else 0)
    finally:
        pose.enable(HEALTH_CLIENT, False)
        samples = health.collecting(False)
    return samples

