"""Ergonomics outputs of a processed take: ``angles.mot``, ``ergonomics.csv``,
``ergonomics_steps.csv``, and the command line's entry :func:`analyse_folder`.

- ``angles.mot``: OpenSim storage format. Header lines ``angles``, ``version=1``,
  ``nRows=<F>``, ``nColumns=<1 + angles>``, ``inDegrees=yes``, ``endheader``; then a
  tab-separated row of labels (``time`` and :data:`scoring.angles.ANGLE_NAMES`) and one row per
  frame: time in s (6 decimals), angles in degrees (4 decimals), ``NaN`` where unknown. OpenSim's
  storage reader and ``pandas.read_csv(path, sep="\\t", skiprows=6)`` read it.
- ``ergonomics.csv``: one row per frame: ``frame,time,`` every RULA sub-score
  (:data:`scoring.rula.COLUMNS`), every REBA sub-score (:data:`scoring.reba.COLUMNS`), then
  ``step`` (the name of the step the frame is in, empty outside the steps). Scores are integers;
  an empty cell where unknown.
- ``ergonomics_steps.csv``: one row per step (the per-step summary of the report): number, name,
  start_s, end_s, worst RULA and REBA, levels, time at high risk and in each risky posture (s),
  safety score, NIOSH RWL (kg) and lifting index.

Writers prepare every text first and write atomically (:func:`common.files.atomic_write`), so
bad input writes nothing. Thread-safe for distinct folders.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import os
from pathlib import Path

import numpy as np

from common.files import write_text
from reconstruction.bvh import bvh_text
from reconstruction.exports import ExportError, read_motion

from .angles import ANGLE_NAMES, Angles
from .ergonomics import EXPOSURES, build_report, score_frames
from .inputs import ErgonomicsError, ErgoStep, StepInputs, parse_inputs, parse_steps
from .reba import COLUMNS as REBA_COLUMNS
from .rula import COLUMNS as RULA_COLUMNS
from .worksheet import ScoreTable

logger = logging.getLogger(__name__)

MOT_HEADER_LINES = 6
OUTPUT_MODE = 0o644  # readable like the other processing outputs
FRAME_COLUMNS: tuple[str, ...] = ("frame", "time", *RULA_COLUMNS, *REBA_COLUMNS, "step")
STEP_COLUMNS: tuple[str, ...] = (
    "number", "name", "start_s", "end_s", "rula_max", "rula_action_level", "reba_max", "reba_risk_level",
    "high_risk_s", *(f"{key}_s" for key in EXPOSURES if key != "high_risk"), "safety_score",
    "niosh_rwl_kg", "niosh_lifting_index",
)


def mot_text(angles: Angles, times: np.ndarray) -> str:
    """``angles.mot`` content for ``angles`` at ``times`` (F,) s (see the module docstring)."""
    values = np.stack([angles[name] for name in ANGLE_NAMES], axis=1)
    lines = ["angles", "version=1", f"nRows={len(times)}", f"nColumns={1 + len(ANGLE_NAMES)}", "inDegrees=yes",
             "endheader", "\t".join(("time", *ANGLE_NAMES))]
    for t, row in zip(times.tolist(), values.tolist()):
        lines.append("\t".join([f"{t:.6f}", *("NaN" if v != v else f"{round(v, 4) + 0.0:.4f}" for v in row)]))
    return "\n".join(lines) + "\n"


def _int_cell(value: float) -> str:
    return "" if not math.isfinite(value) else str(int(value))


def _step_names(times: np.ndarray, steps: list[ErgoStep]) -> list[str]:
    names = [""] * len(times)
    for step in steps:
        for f in np.flatnonzero((times >= step.start_s) & (times <= step.end_s)):
            names[f] = step.name
    return names


def ergonomics_csv_text(times: np.ndarray, rula: ScoreTable, reba: ScoreTable, steps: list[ErgoStep]) -> str:
    """``ergonomics.csv`` content (see the module docstring)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FRAME_COLUMNS)
    scores = np.concatenate([rula.values, reba.values], axis=1)
    for f, (t, row, step) in enumerate(zip(times.tolist(), scores.tolist(), _step_names(times, steps))):
        writer.writerow([f, f"{t:.6f}", *(_int_cell(v) for v in row), step])
    return buf.getvalue()


def steps_csv_text(report: dict) -> str:
    """``ergonomics_steps.csv`` content from :func:`scoring.ergonomics.ergonomics_report`'s steps."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(STEP_COLUMNS)
    for s in report["steps"]:
        niosh = s["niosh"] or {}
        row = [s["number"], s["name"], s["start_s"], s["end_s"], s["rula"]["max"], s["rula"]["action_level"],
               s["reba"]["max"], s["reba"]["risk_level"], s["high_risk_s"],
               *(s["exposures_s"][key] for key in EXPOSURES if key != "high_risk"), s["safety_score"],
               niosh.get("rwl_kg"), niosh.get("lifting_index")]
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def analyse_folder(out_dir: str | os.PathLike, steps: list[ErgoStep | dict] | None = None,
                   inputs: StepInputs | dict | None = None) -> dict:
    """The ergonomic report of a processed take folder, and its exports written beside it.

    Reads ``out_dir/pose3d.csv`` (the frame rate from its times), computes
    :func:`scoring.ergonomics.ergonomics_report`, and writes ``angles.mot``, ``ergonomics.csv``,
    ``pose3d.bvh`` and, when there are steps, ``ergonomics_steps.csv`` into ``out_dir``. Every
    content is computed before the first file is written. Returns the report, with ``outputs``
    (the files written). Raises :class:`ErgonomicsError` (one line) on bad input.
    """
    folder = Path(out_dir)
    try:
        points, fps = read_motion(folder)
    except ExportError as exc:
        raise ErgonomicsError(str(exc)) from None
    steps, default = parse_steps(list(steps)) if steps else [], parse_inputs(inputs)
    scored = score_frames(points, fps, steps, default)
    report = build_report(*scored, fps, steps, default)
    _, frame_times, angles, rula, reba = scored
    texts = {"angles.mot": mot_text(angles, frame_times),
             "ergonomics.csv": ergonomics_csv_text(frame_times, rula, reba, steps)}
    if steps:
        texts["ergonomics_steps.csv"] = steps_csv_text(report)
    try:
        texts["pose3d.bvh"] = bvh_text(points, fps)
        for name, text in texts.items():
            write_text(folder / name, text, mode=OUTPUT_MODE)
    except ExportError as exc:
        raise ErgonomicsError(str(exc)) from None
    except OSError as exc:
        raise ErgonomicsError(f"{folder}: cannot write the ergonomics outputs ({exc.strerror or exc})") from None
    report["outputs"] = sorted(texts)
    return report
