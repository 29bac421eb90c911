"""The ergonomic report of a take: the numbers the command line and the pages show.

:func:`ergonomics_report` turns a 3D skeleton into joint angles, RULA and REBA per frame, a
summary per step (worst scores, time at high risk, time spent in risky postures), NIOSH results
for the steps marked as lifts, and warnings in plain words. :func:`coach` compares a trainee's
report with the reference's and says, per step, where the trainee spent longer in a risky
posture. Everything returned is JSON-ready (plain dicts, lists, str, int, float, None).

High risk: RULA action level 3 or 4 (score 5 or more) or REBA high or very high (8 or more).
Pure; thread-safe (no shared state).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from .angles import ANGLE_NAMES, FLAG_NAMES, Angles, check_points, compute_angles
from .feedback import message
from .inputs import ErgonomicsError, ErgoStep, InputArrays, StepInputs, parse_inputs, parse_steps
from .niosh import assess_lift
from .reba import reba_scores
from .rula import rula_scores
from .worksheet import DEFAULT_THRESHOLDS, ScoreTable

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
RULA_HIGH = 3  # action level from which a frame counts as high risk
REBA_HIGH = 8  # REBA score from which a frame counts as high risk


def _max_abs(*columns: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.fmax.reduce([np.abs(c) for c in columns]) if len(columns) > 1 else np.abs(columns[0])


# Risky postures whose duration is reported per step: key -> (angles, scores) -> bool (F,).
EXPOSURES: dict[str, Any] = {
    "back_bent_20": lambda a, r, b: a["trunk_flexion"] > 20,
    "back_bent_60": lambda a, r, b: a["trunk_flexion"] > 60,
    "back_twisted": lambda a, r, b: _max_abs(a["trunk_twist"], a["trunk_side_bend"]) > 20,
    "neck_bent_20": lambda a, r, b: a["neck_flexion"] > 20,
    "neck_extended": lambda a, r, b: a["neck_flexion"] < -10,
    "arm_raised_45": lambda a, r, b: np.fmax(a["left_upper_arm_elevation"], a["right_upper_arm_elevation"]) > 45,
    "arm_raised_90": lambda a, r, b: np.fmax(a["left_upper_arm_elevation"], a["right_upper_arm_elevation"]) > 90,
    "knees_bent_60": lambda a, r, b: np.fmax(a["left_knee_flexion"], a["right_knee_flexion"]) > 60,
    "high_risk": lambda a, r, b: high_risk(r, b),
}


def high_risk(rula: ScoreTable, reba: ScoreTable) -> np.ndarray:
    """(F,) bool: RULA action level >= 3 or REBA score >= 8."""
    with np.errstate(invalid="ignore"):
        return (rula["rula_action_level"] >= RULA_HIGH) | (reba["reba_score"] >= REBA_HIGH)


def _num(value: float, digits: int = 1) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits) if digits else int(round(value))


def _series(values: np.ndarray, digits: int) -> list:
    return [_num(v, digits) for v in values.tolist()]


def _worst(scores: np.ndarray, times: np.ndarray) -> dict:
    if not np.isfinite(scores).any():
        return {"max": None, "max_at_s": None, "mean": None}
    k = int(np.nanargmax(scores))
    return {"max": _num(scores[k], 0), "max_at_s": _num(times[k], 2), "mean": _num(np.nanmean(scores), 2)}


def summarize(mask: np.ndarray, times: np.ndarray, fps: float, angles: Angles, rula: ScoreTable,
              reba: ScoreTable) -> dict:
    """Worst scores, levels, time at each level and in each exposure, over the frames in ``mask``."""
    dt = 1.0 / fps
    t = times[mask]
    r, b = rula["rula_score"][mask], reba["reba_score"][mask]
    rula_level, reba_level = rula["rula_action_level"][mask], reba["reba_risk_level"][mask]
    out = {"frames": int(mask.sum()), "rula": _worst(r, t), "reba": _worst(b, t)}
    out["rula"]["action_level"] = _num(np.nanmax(rula_level), 0) if np.isfinite(rula_level).any() else None
    out["reba"]["risk_level"] = _num(np.nanmax(reba_level), 0) if np.isfinite(reba_level).any() else None
    out["rula"]["time_at_level_s"] = {str(k): round(float((rula_level == k).sum() * dt), 2) for k in (1, 2, 3, 4)}
    out["reba"]["time_at_level_s"] = {str(k): round(float((reba_level == k).sum() * dt), 2) for k in range(5)}
    with np.errstate(invalid="ignore"):
        out["exposures_s"] = {key: round(float(test(angles, rula, reba)[mask].sum() * dt), 2)
                              for key, test in EXPOSURES.items()}
    out["high_risk_s"] = out["exposures_s"]["high_risk"]
    duration = mask.sum() * dt
    out["safety_score"] = round(100.0 * (1.0 - out["high_risk_s"] / duration), 1) if duration > 0 else None
    return out


def _step_mask(times: np.ndarray, step: ErgoStep) -> np.ndarray:
    return (times >= step.start_s) & (times <= step.end_s)


def _niosh(points: np.ndarray, fps: float, step: ErgoStep) -> dict | None:
    if not step.lift:
        return None
    try:
        return assess_lift(points, fps, step.start_s, step.end_s, step.inputs).to_dict()
    except ErgonomicsError as exc:
        return {"error": str(exc)}


def _series_block(times: np.ndarray, angles: Angles, rula: ScoreTable, reba: ScoreTable) -> dict:
    return {
        "time": _series(times, 3),
        "rula_score": _series(rula["rula_score"], 0), "rula_action_level": _series(rula["rula_action_level"], 0),
        "reba_score": _series(reba["reba_score"], 0), "reba_risk_level": _series(reba["reba_risk_level"], 0),
        "angles": {name: _series(angles[name], 1) for name in ANGLE_NAMES},
        "flags": {name: _series(angles[name], 0) for name in FLAG_NAMES},
    }


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps) or fps <= 0:
        raise ErgonomicsError(f"fps must be a finite number > 0, got {fps!r}")
    return float(fps)


def score_frames(points: object, fps: float, steps: Sequence[ErgoStep] = (), inputs: StepInputs | None = None
                 ) -> tuple[np.ndarray, np.ndarray, Angles, ScoreTable, ScoreTable]:
    """(points, times, angles, RULA, REBA) of a take: every frame scored with its step's inputs
    (``inputs`` outside the steps). ``points`` (F, 33, 3) m; times (F,) s."""
    arr, fps = check_points(points), _check_fps(fps)
    times = np.arange(len(arr)) / fps
    angles = compute_angles(arr)
    per_frame = InputArrays.for_steps(times, list(steps), inputs)
    return arr, times, angles, rula_scores(angles, per_frame), reba_scores(angles, per_frame)


def live_scores(frame: object, inputs: StepInputs | dict | None = None) -> dict:
    """RULA and REBA of one skeleton (33, 3) m, for a live view: ``rula_score``,
    ``rula_action_level``, ``reba_score``, ``reba_risk_level`` (None where unknown) and
    ``angles`` {name: deg or None}. About 1 ms; thread-safe."""
    angles = compute_angles(np.asarray(frame, dtype=float)[None])
    inputs = parse_inputs(inputs)
    rula, reba = rula_scores(angles, inputs).frame(0), reba_scores(angles, inputs).frame(0)
    return {"rula_score": rula["rula_score"], "rula_action_level": rula["rula_action_level"],
            "reba_score": reba["reba_score"], "reba_risk_level": reba["reba_risk_level"],
            "angles": {name: value for name, value in angles.frame(0).items() if name in ANGLE_NAMES}}


def ergonomics_report(points: object, fps: float, steps: Sequence[ErgoStep | dict] | None = None,
                      inputs: StepInputs | dict | None = None) -> dict:
    """The ergonomic report of a take (JSON-ready dict).

    ``points`` (F, 33, 3) m, VSION world (Z up), NaN missing; ``fps`` frames per second; frame f
    is at f / fps s. ``steps``: :class:`ErgoStep` or their dicts (``name``, ``start_s``,
    ``end_s`` and optional inputs); ``inputs``: the inputs of frames outside every step.
    Keys: ``version``, ``fps``, ``frames``, ``duration_s``, ``thresholds``, ``inputs``,
    ``series`` (per frame: time, RULA and REBA scores and levels, angles in deg, flags),
    ``whole`` (the summary over the take), ``steps`` (one summary per step, with its inputs and
    ``niosh``), ``niosh`` (the lifts), ``warnings`` (messages on risky steps). Raises
    :class:`ErgonomicsError`.
    """
    steps = parse_steps(list(steps)) if steps else []
    default = parse_inputs(inputs)
    return build_report(*score_frames(points, fps, steps, default), fps, steps, default)


def build_report(points: np.ndarray, times: np.ndarray, angles: Angles, rula: ScoreTable, reba: ScoreTable,
                 fps: float, steps: Sequence[ErgoStep], default: StepInputs) -> dict:
    """:func:`ergonomics_report` from what :func:`score_frames` returned."""
    fps = _check_fps(fps)
    report = {"version": REPORT_VERSION, "fps": fps, "frames": len(times), "duration_s": round(len(times) / fps, 3),
              "thresholds": {**asdict(DEFAULT_THRESHOLDS), "rula_high_action_level": RULA_HIGH,
                             "reba_high_score": REBA_HIGH},
              "inputs": default.model_dump(), "series": _series_block(times, angles, rula, reba),
              "whole": summarize(np.ones(len(times), bool), times, fps, angles, rula, reba)}
    report["steps"] = []
    for number, step in enumerate(steps, start=1):
        summary = {"number": number, "name": step.name, "start_s": step.start_s, "end_s": step.end_s,
                   **summarize(_step_mask(times, step), times, fps, angles, rula, reba),
                   "inputs": step.inputs.model_dump(), "niosh": _niosh(points, fps, step)}
        report["steps"].append(summary)
    report["niosh"] = [{"step": s["number"], "name": s["name"], **s["niosh"]} for s in report["steps"] if s["niosh"]]
    report["warnings"] = risk_warnings(report)
    return report


def risk_warnings(report: dict) -> list[dict]:
    """Messages on the steps of ``report`` that show a high-risk posture, a back bent more than
    60 deg, or a lift over the recommended weight limit (for the expert editing a reference)."""
    out = []
    for step in report["steps"]:
        label = {"number": step["number"], "name": step["name"]}
        if step["high_risk_s"] > 0:
            out.append(message("risky_step", step=label, seconds=round(step["high_risk_s"], 1),
                               rula=step["rula"]["max"], reba=step["reba"]["max"], at_s=step["reba"]["max_at_s"]))
        if step["exposures_s"]["back_bent_60"] > 0:
            out.append(message("risky_exposure", step=label, what="back_bent_60",
                               seconds=round(step["exposures_s"]["back_bent_60"], 1)))
        lift = step["niosh"] or {}
        if (lift.get("lifting_index") or 0) > 1:
            out.append(message("lift_over_limit", step=label, li=lift["lifting_index"], load_kg=lift["load_kg"],
                               rwl_kg=lift["rwl_kg"]))
    return out


# --------------------------------------------------------------------------- coaching

MIN_EXPOSURE_S = 0.5     # shorter exposures are not worth a remark
EXTRA_RATIO = 0.5        # ... nor those within 50 % of the reference's


def _matching(steps: list[dict], other: list[dict]) -> list[tuple[dict, dict]]:
    """Steps paired by name where the names are unique in both, else by position."""
    names = [s["name"] for s in other]
    pairs = []
    for k, step in enumerate(steps):
        if names.count(step["name"]) == 1 and [s["name"] for s in steps].count(step["name"]) == 1:
            pairs.append((step, other[names.index(step["name"])]))
        elif k < len(other):
            pairs.append((step, other[k]))
    return pairs


def _lift_message(label: dict, attempt: dict | None, reference: dict | None) -> dict | None:
    if not attempt or not reference or attempt.get("lifting_index") is None or reference.get("lifting_index") is None:
        return None
    if attempt["lifting_index"] <= max(1.0, reference["lifting_index"] + 0.1):
        return None
    return message("lifting_index_higher", step=label, attempt_li=attempt["lifting_index"],
                   reference_li=reference["lifting_index"], attempt_h_cm=round(attempt["origin"]["h_cm"]),
                   reference_h_cm=round(reference["origin"]["h_cm"]))


def coach(attempt_report: dict, reference_report: dict) -> list[dict]:
    """Feedback per step on a trainee's attempt against the reference (both from
    :func:`ergonomics_report`; the attempt's steps on the attempt's own timeline, e.g. from
    :func:`steps_on_attempt`).

    A message for every exposure (:data:`EXPOSURES`) where the attempt spent at least
    :data:`MIN_EXPOSURE_S` s and more than the reference plus max(0.5 s, 50 %), and for a lift
    whose lifting index is above 1 and above the reference's by 0.1 or more. Each message has
    ``key``, ``params`` (step number and name, ``what``, seconds, ...), ``text`` in English and
    French, and ``excess_s`` (seconds over the reference) for sorting; the list is in step order.
    """
    out = []
    for attempt, reference in _matching(attempt_report["steps"], reference_report["steps"]):
        label = {"number": attempt["number"], "name": attempt["name"]}
        for key in EXPOSURES:
            a, r = attempt["exposures_s"][key], reference["exposures_s"][key]
            if a >= MIN_EXPOSURE_S and a > r + max(MIN_EXPOSURE_S, EXTRA_RATIO * r):
                msg = message("exposure_longer", step=label, what=key, attempt_s=round(a, 1), reference_s=round(r, 1))
                out.append({**msg, "excess_s": round(a - r, 2)})
        lift = _lift_message(label, attempt.get("niosh"), reference.get("niosh"))
        if lift:
            out.append({**lift, "excess_s": None})
    return out


def steps_on_attempt(steps: Sequence[ErgoStep | dict], alignment: Sequence[Sequence[float]]) -> list[ErgoStep]:
    """The reference's steps moved onto the attempt's timeline through ``alignment``, the
    ``[[attempt_s, reference_s], ...]`` pairs of :func:`training.comparison.compare`."""
    pairs = np.asarray(alignment, dtype=float)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) < 2:
        raise ErgonomicsError("alignment must be a list of at least two [attempt_s, reference_s] pairs")
    ref, idx = np.unique(pairs[:, 1], return_index=True)
    att = np.maximum.accumulate(pairs[idx, 0])
    moved = []
    for step in parse_steps(list(steps)):
        start, end = (float(np.interp(t, ref, att)) for t in (step.start_s, step.end_s))
        moved.append(step.model_copy(update={"start_s": start, "end_s": max(end, start + 1e-3)}))
    return moved
