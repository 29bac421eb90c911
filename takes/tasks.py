"""The background work done on takes: the ``process`` job (2D pose, sync, triangulation,
filtering, exports; the ergonomics of the person of interest; then, for an attempt, its
comparison with the reference, in motion and in safety), and the ``calibrate`` job (a take in
which the board was shown, calibrated: one camera's intrinsics, or every camera's positions
kept as a new calibration set).

These are the tasks VSION gives its job runner (:mod:`jobs`); a Celery worker of a processing
cluster runs the same :data:`TASKS`. Each takes JSON parameters and reports progress through
``progress(done, total, stage)``.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from calibration.boards import make_board
from calibration.camera import Camera, CameraGroup
from calibration.intrinsics import intrinsics_to_json
from calibration.io import CalibrationFileError, load_calibration
from calibration.recording import extrinsics_from_take, intrinsics_from_take
from calibration.store import save_set
from capture.takefile import TakeMeta
from common.takefolder import (
    CALIBRATE_JOB,
    CALIBRATION_FILE,
    COMPARISON_FILE,
    ERGONOMICS_FILE,
    PROCESS_JOB,
    PROCESSED_DIR,
)
from reconstruction.exports import ExportError, read_motion, write_json
from reconstruction.pipeline import Options, ProcessError, choose_again, process_take
from scoring.ergonomics import coach, ergonomics_report, steps_on_attempt
from scoring.exports import analyse_folder
from scoring.inputs import ErgonomicsError
from scoring.motion import Step, compare_folders
from takes.files import read_take_json

logger = logging.getLogger(__name__)


def process_take_task(params: dict, progress) -> dict:
    """The ``process`` job: a take folder, its calibration, outputs in ``<take>/processed``.

    The worker is the person chosen for the take (``params["person"]``: an id of its people
    outputs, when chosen in its replay; else the places in its ``take.json`` ``person_hint``),
    else the one in the calibration's work area. With ``params["choose_again"]``, only the
    person of interest changes: the earlier 2D pose and synchronization are kept
    (:func:`reconstruction.pipeline.choose_again`)."""
    take_dir = Path(params["take_dir"])
    calibration = take_dir / CALIBRATION_FILE
    if not calibration.is_file():
        raise ProcessError("no calibration was in force when this take was recorded: calibrate the cameras "
                           "(Calibration page), then process the take again")
    try:
        group = load_calibration(calibration)
    except CalibrationFileError as exc:
        raise ProcessError(str(exc)) from None
    options = Options(nice=int(params.get("nice", 10)), workers=params.get("workers"),
                      person_hint=TakeMeta.from_json(read_take_json(take_dir)).person_hint)
    if params.get("choose_again") and (take_dir / PROCESSED_DIR / "keypoints2d.npz").is_file():
        # The same keypoints give the same people: the id chosen in the replay is exact.
        report = choose_again(take_dir / PROCESSED_DIR, group, replace(options, person=params.get("person")), progress)
    else:
        report = process_take(take_dir, group, take_dir / PROCESSED_DIR, options, progress)
    if params.get("compare"):
        return {**report, **compare_take_task(params, progress)}
    return {**report, **ergonomics_task(take_dir / PROCESSED_DIR, params.get("ergonomics_steps"))}


def ergonomic_steps(steps) -> list[dict]:
    """Steps with their ergonomic inputs as :func:`scoring.inputs.parse_steps` reads them."""
    return [{"name": s["name"], "start_s": s["start_s"], "end_s": s["end_s"], **(s.get("ergonomics") or {})}
            for s in steps or []]


def ergonomics_task(processed: Path, steps=None) -> dict:
    """Ergonomics of a processed take: ``angles.mot``, ``ergonomics.csv``, ``pose3d.bvh`` (and
    ``ergonomics_steps.csv`` with steps) beside its ``pose3d.csv``, and the report in
    ``ergonomics.json``. Returns the summary for the job's report (``safety_score``,
    ``high_risk_s``, worst RULA and REBA); a take whose ergonomics cannot be made keeps its other
    outputs (``ergonomics_error`` says why)."""
    try:
        report = analyse_folder(processed, ergonomic_steps(steps))
        write_json(processed / ERGONOMICS_FILE, report)
    except (ErgonomicsError, ExportError) as exc:
        logger.warning("%s: no ergonomics: %s", processed.parent.name, exc)
        return {"ergonomics_error": str(exc)}
    whole = report["whole"]
    return {"safety_score": whole["safety_score"], "high_risk_s": whole["high_risk_s"],
            "rula_max": whole["rula"]["max"], "reba_max": whole["reba"]["max"], "ergonomics_error": None}


def folder_report(processed: Path, steps: list[dict]) -> dict:
    """The ergonomic report (:func:`scoring.ergonomics.ergonomics_report`) of a processed folder's
    ``pose3d.csv`` with ``steps`` (as :func:`ergonomic_steps` gives them), nothing written.
    Raises :class:`ExportError` or :class:`ErgonomicsError`."""
    return ergonomics_report(*read_motion(processed), steps)


def safety_part(processed: Path, reference_dir: Path, steps: list[dict], alignment: list) -> dict:
    """The safety part of an attempt's comparison: its ergonomics with the reference's steps moved
    onto its own timeline (``alignment`` from the motion comparison), its exports written, and
    coaching messages against the reference's postures. ``{"safety_score", "feedback",
    "high_risk_s", "reference_high_risk_s"}``."""
    steps = ergonomic_steps(steps)
    attempt = analyse_folder(processed, steps_on_attempt(steps, alignment) if steps else [])
    write_json(processed / ERGONOMICS_FILE, attempt)
    reference = folder_report(reference_dir, steps)
    return {"safety_score": attempt["whole"]["safety_score"], "feedback": coach(attempt, reference),
            "high_risk_s": attempt["whole"]["high_risk_s"], "reference_high_risk_s": reference["whole"]["high_risk_s"]}


def compare_take_task(params: dict, progress) -> dict:
    """The last step of the ``process`` job for an attempt: score the processed
    take ``<take_dir>/processed`` against ``params["compare"]``:
    ``{"reference_dir", "reference_take_id", "work_card_version", "steps": [{"name", "start_s", "end_s"}]}``.

    Returns ``{"score": float | None, "comparison": {...} | None, "comparison_error": str | None}``;
    the full result (``scoring.motion.compare`` plus ``reference_take_id`` and
    ``work_card_version``) is also written to ``<take>/processed/comparison.json``. A comparison
    that cannot be made (e.g. no joint seen in both takes) is reported, not raised: the take's
    processing itself succeeded.
    """
    spec = params.get("compare")
    if not isinstance(spec, dict) or not spec.get("reference_dir"):
        raise ValueError("nothing to compare this take with: it is not an attempt at a published work card")
    processed = Path(params["take_dir"]) / PROCESSED_DIR
    progress(0, 1, "comparison")
    try:
        steps = [Step(str(s["name"]), float(s["start_s"]), float(s["end_s"])) for s in spec.get("steps") or []]
        result = compare_folders(processed, Path(spec["reference_dir"]), steps)
    except Exception as exc:  # noqa: BLE001 - the take's own outputs stand even if its comparison fails
        message = f"the comparison with the reference failed: {exc}"
        logger.warning("take %s: %s", Path(params["take_dir"]).name, message)
        progress(1, 1, "comparison")
        return {"score": None, "comparison": None, "comparison_error": message}
    result.pop("attempt", None)
    result.pop("reference", None)  # server paths: not for the pages
    result["reference_take_id"] = spec.get("reference_take_id")
    result["work_card_version"] = spec.get("work_card_version")
    try:
        result["safety"] = safety_part(processed, Path(spec["reference_dir"]), spec.get("steps") or [],
                                       result["alignment"])
    except (ErgonomicsError, ExportError) as exc:  # the motion part stands without the safety part
        logger.warning("take %s: no safety part: %s", Path(params["take_dir"]).name, exc)
        result["safety"] = None
    try:
        write_json(processed / COMPARISON_FILE, result)
    except ExportError as exc:
        logger.warning("take %s: %s", Path(params["take_dir"]).name, exc)
    progress(1, 1, "comparison")
    safety = result["safety"] or {}
    return {"score": result["score"], "safety_score": safety.get("safety_score"), "comparison": result,
            "comparison_error": None}


def _camera(data: dict) -> Camera:
    return Camera(str(data["name"]), tuple(data["size"]), data["matrix"], data["dist"])


def calibrate_take_task(params: dict, progress) -> dict:
    """The ``calibrate`` job: a take in which the board was shown, calibrated with the same rules
    and solves as the live wizard (:mod:`calibration.recording`).

    ``params``: ``take_dir``, ``take_id``, ``board`` (``make_board``'s arguments: cols, rows,
    square_mm, kind, marker_mm), ``mode``; for ``intrinsics`` the ``camera`` shown the board
    alone; for ``positions`` the ``intrinsics`` of every camera of the take (``[{"name", "size",
    "matrix", "dist"}]``), ``floor_s`` (start, end) s or None, and ``sets_root`` where the new
    calibration set is saved (not made the one in force: the technician decides), with ``note``
    and ``created_by``. Returns the report: ``intrinsics`` (:func:`calibration.intrinsics.
    intrinsics_to_json`) and ``rms_px``, or ``calibration_set`` and ``errors_px``. A take without
    the board raises :class:`~calibration.intrinsics.CalibrationError` (the job fails with its
    message)."""
    take_dir, board = Path(params["take_dir"]), make_board(**params["board"])
    if params["mode"] == "intrinsics":
        name = params["camera"]
        result = intrinsics_from_take(take_dir, board, [name], progress=progress)[name]
        return {"mode": "intrinsics", "camera": name, "rms_px": round(result.rms_px, 4), "used": result.used,
                "intrinsics": intrinsics_to_json(result)}
    group = CameraGroup([_camera(c) for c in params["intrinsics"]])
    floor = tuple(params["floor_s"]) if params.get("floor_s") else None
    result = extrinsics_from_take(take_dir, group, board, floor_window_s=floor, progress=progress)
    metadata = {**result.group.metadata, "source_take": str(params["take_id"])}
    saved = save_set(Path(params["sets_root"]), CameraGroup(result.group.cameras, metadata), params.get("note", ""),
                     {"created_by": params.get("created_by")} if params.get("created_by") else None)
    logger.info("take %s: positions calibrated from the recording, set %s", params["take_id"], saved["id"])
    return {"mode": "positions", "calibration_set": saved["id"], "seconds": round(result.seconds, 2),
            "errors_px": {n: round(v, 4) for n, v in result.errors_px.items() if v is not None},
            "moments": int(metadata.get("moments") or 0)}


TASKS = {PROCESS_JOB: process_take_task, CALIBRATE_JOB: calibrate_take_task}
