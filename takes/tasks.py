"""The background work done on takes: the ``process`` job (2D pose, sync, triangulation,
filtering, exports; then, for an attempt, its comparison with the reference).

These are the tasks VSION gives its job runner (:mod:`jobs`); a Celery worker of a processing
cluster runs the same :data:`TASKS`. Each takes JSON parameters and reports progress through
``progress(done, total, stage)``.
"""
from __future__ import annotations

import logging
from pathlib import Path

from calibration.io import CalibrationFileError, load_calibration
from common.takefolder import CALIBRATION_FILE, COMPARISON_FILE, PROCESSED_DIR
from reconstruction.exports import ExportError, write_json
from reconstruction.pipeline import Options, ProcessError, process_take
from scoring.motion import Step, compare_folders

logger = logging.getLogger(__name__)


def process_take_task(params: dict, progress) -> dict:
    """The ``process`` job: a take folder, its calibration, outputs in ``<take>/processed``."""
    take_dir = Path(params["take_dir"])
    calibration = take_dir / CALIBRATION_FILE
    if not calibration.is_file():
        raise ProcessError("no calibration was in force when this take was recorded: calibrate the cameras "
                           "(Calibration page), then process the take again")
    try:
        group = load_calibration(calibration)
    except CalibrationFileError as exc:
        raise ProcessError(str(exc)) from None
    options = Options(nice=int(params.get("nice", 10)), workers=params.get("workers"))
    report = process_take(take_dir, group, take_dir / PROCESSED_DIR, options, progress)
    if params.get("compare"):
        report = {**report, **compare_take_task(params, progress)}
    return report


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
        write_json(processed / COMPARISON_FILE, result)
    except ExportError as exc:
        logger.warning("take %s: %s", Path(params["take_dir"]).name, exc)
    progress(1, 1, "comparison")
    return {"score": result["score"], "comparison": result, "comparison_error": None}


TASKS = {"process": process_take_task}
