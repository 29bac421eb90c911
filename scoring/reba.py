"""REBA, the Rapid Entire Body Assessment (Hignett and McAtamney, Applied Ergonomics 31(2), 2000),
per frame, with every sub-score.

Group A: neck 1-3, trunk 1-5, legs 1-4 -> Table A; + load/force (0-3) = score A. Group B (each
arm): upper arm 1-6, lower arm 1-2, wrist 1-3 -> Table B; + coupling (0-3) = score B. Table C
(A and B capped at 12) + activity (0-3) = the REBA score 1-15 and its risk level: 0 negligible
(1), 1 low (2-3), 2 medium (4-7), 3 high (8-10), 4 very high (11-15). Both arms are scored; the
final score is the worse arm's (the one seen, when the other is hidden). Pure numpy; thread-safe.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .angles import SIDES, Angles
from .inputs import InputArrays, StepInputs, coerce_inputs
from .worksheet import (
    DEFAULT_THRESHOLDS,
    ScoreTable,
    Thresholds,
    beyond,
    lookup,
    lower_arm_base,
    masked,
    upper_arm_score,
)

logger = logging.getLogger(__name__)

# Table A [trunk 1-5][neck 1-3][legs 1-4], as published (rows trunk, column groups neck).
TABLE_A = np.array([
    [[1, 2, 3, 4], [1, 2, 3, 4], [3, 3, 5, 6]],
    [[2, 3, 4, 5], [3, 4, 5, 6], [4, 5, 6, 7]],
    [[2, 4, 5, 6], [4, 5, 6, 7], [5, 6, 7, 8]],
    [[3, 5, 6, 7], [5, 6, 7, 8], [6, 7, 8, 9]],
    [[4, 6, 7, 8], [6, 7, 8, 9], [7, 8, 9, 9]],
])

# Table B [upper arm 1-6][lower arm 1-2][wrist 1-3], as published.
TABLE_B = np.array([
    [[1, 2, 2], [1, 2, 3]],
    [[1, 2, 3], [2, 3, 4]],
    [[3, 4, 5], [4, 5, 5]],
    [[4, 5, 5], [5, 6, 7]],
    [[6, 7, 8], [7, 8, 8]],
    [[7, 8, 8], [8, 9, 9]],
])

# Table C [score A 1-12][score B 1-12], as published.
TABLE_C = np.array([
    [1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7],
    [1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8],
    [2, 3, 3, 3, 4, 5, 6, 7, 7, 8, 8, 8],
    [3, 4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9],
    [4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9],
    [6, 6, 6, 7, 8, 8, 9, 9, 10, 10, 10, 10],
    [7, 7, 7, 8, 9, 9, 9, 10, 10, 11, 11, 11],
    [8, 8, 8, 9, 10, 10, 10, 10, 10, 11, 11, 11],
    [9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12],
    [10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12],
    [11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12],
    [12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12],
])

COUPLING_SCORE = {"good": 0, "fair": 1, "poor": 2, "unacceptable": 3}
ARM_PARTS = ("upper_arm", "lower_arm", "wrist", "table_b", "score_b", "table_c")
COLUMNS: tuple[str, ...] = (
    "reba_neck", "reba_trunk", "reba_legs", "reba_table_a", "reba_load", "reba_score_a",
    *(f"reba_{side}_{part}" for side in SIDES for part in ARM_PARTS),
    "reba_coupling", "reba_table_c", "reba_activity", "reba_score", "reba_risk_level",
)
RISK_LEVELS = {0: "negligible", 1: "low", 2: "medium", 3: "high", 4: "very high"}


def risk_level(score: np.ndarray) -> np.ndarray:
    """REBA risk level 0-4 from the REBA score 1-15 (NaN stays NaN)."""
    with np.errstate(invalid="ignore"):
        return masked(np.select([score <= 1, score <= 3, score <= 7, score <= 10], [0, 1, 2, 3], 4), score)


def neck_score(angles: Angles, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 for 0-20 deg of flexion, 2 beyond 20 deg or in extension (beyond ``neutral_deg``);
    +1 twisted or side bending (once)."""
    flexion = angles["neck_flexion"]
    with np.errstate(invalid="ignore"):
        base = np.where((flexion < -th.neutral_deg) | (flexion > 20), 2, 1)
    bent = np.maximum(beyond(angles["neck_twist"], th.twist_deg), beyond(angles["neck_side_bend"], th.side_bend_deg))
    return masked(base + bent, flexion)


def trunk_score(angles: Angles, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 upright (within ``neutral_deg``), 2 for up to 20 deg of flexion or extension, 3 for 20-60
    deg of flexion or more than 20 deg of extension, 4 beyond 60 deg of flexion; +1 twisted or
    side bending (once)."""
    flexion = angles["trunk_flexion"]
    size = np.abs(flexion)
    with np.errstate(invalid="ignore"):
        base = np.select([size <= th.neutral_deg, size <= 20, (size <= 60) | (flexion < 0)], [1, 2, 3], 4)
    bent = np.maximum(beyond(angles["trunk_twist"], th.twist_deg), beyond(angles["trunk_side_bend"], th.side_bend_deg))
    return masked(base + bent, flexion)


def legs_score(angles: Angles, inputs: InputArrays) -> np.ndarray:
    """1 bilateral weight bearing (or seated), 2 one leg; +1 for 30-60 deg of knee flexion, +2
    beyond 60 deg (the more bent knee; not when seated)."""
    supported = angles["legs_supported"]
    knee = np.fmax(angles["left_knee_flexion"], angles["right_knee_flexion"])
    with np.errstate(invalid="ignore"):
        extra = np.select([knee > 60, knee > 30], [2, 1], 0)
    extra = np.where(inputs.sitting | ~np.isfinite(knee), 0, extra)
    base = np.where(inputs.sitting | (supported == 1), 1, 2)
    return np.where(inputs.sitting | np.isfinite(supported), base + extra, np.nan).astype(float)


def load_score(inputs: InputArrays) -> np.ndarray:
    """0 below 5 kg, 1 for 5-10 kg, 2 above 10 kg; +1 shock or rapid build-up of force."""
    load = inputs.load_kg
    return (np.select([load < 5, load <= 10], [0, 1], 2) + inputs.shock).astype(float)


def activity_score(inputs: InputArrays) -> np.ndarray:
    """+1 static (held > 1 min), +1 repeated small-range actions (> 4 a minute), +1 rapid large
    changes in posture or an unstable base."""
    return (inputs.static_posture.astype(float) + inputs.repeated + inputs.rapid_changes).astype(float)


def wrist_score(angles: Angles, inputs: InputArrays, side: str, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 for 0-15 deg of flexion or extension, 2 beyond; +1 deviated (beyond ``deviated_deg``)
    or twisted (``wrist_twist`` = ``end``), once."""
    flexion = np.abs(angles[f"{side}_wrist_flexion"])
    with np.errstate(invalid="ignore"):
        base = np.where(flexion <= 15, 1, 2)
    bent = np.maximum(beyond(angles[f"{side}_wrist_deviation"], th.deviated_deg), inputs.wrist_twist == "end")
    return masked(base + bent, flexion)


def _arm(angles: Angles, inputs: InputArrays, side: str, coupling: np.ndarray, th: Thresholds) -> dict:
    upper = upper_arm_score(angles[f"{side}_upper_arm_flexion"], angles[f"{side}_upper_arm_abduction"],
                            angles[f"{side}_upper_arm_elevation"], angles[f"{side}_shoulder_raised"],
                            inputs.arm_supported, th)
    lower = lower_arm_base(angles[f"{side}_elbow_flexion"])
    wrist = wrist_score(angles, inputs, side, th)
    table_b = lookup(TABLE_B, upper, lower, wrist)
    return {"upper_arm": upper, "lower_arm": lower, "wrist": wrist, "table_b": table_b, "score_b": table_b + coupling}


def reba_scores(angles: Angles, inputs: StepInputs | Sequence[StepInputs] | InputArrays | None = None,
                thresholds: Thresholds = DEFAULT_THRESHOLDS) -> ScoreTable:
    """REBA per frame with every sub-score (:data:`COLUMNS`), from joint angles and step inputs.

    Same conventions as :func:`scoring.rula.rula_scores`.
    """
    inputs = coerce_inputs(inputs, angles.n_frames)
    neck, trunk, legs = neck_score(angles, thresholds), trunk_score(angles, thresholds), legs_score(angles, inputs)
    table_a = lookup(TABLE_A, trunk, neck, legs)
    load = load_score(inputs)
    score_a = table_a + load
    coupling = np.array([COUPLING_SCORE[c] for c in inputs.coupling], dtype=float)
    cols: dict[str, np.ndarray] = {"reba_neck": neck, "reba_trunk": trunk, "reba_legs": legs, "reba_table_a": table_a,
                                   "reba_load": load, "reba_score_a": score_a}
    for side in SIDES:
        arm = _arm(angles, inputs, side, coupling, thresholds)
        arm["table_c"] = lookup(TABLE_C, score_a, arm["score_b"])
        cols.update({f"reba_{side}_{k}": v for k, v in arm.items()})
    table_c = np.fmax(cols["reba_left_table_c"], cols["reba_right_table_c"])
    activity = activity_score(inputs)
    final = table_c + activity
    cols.update({"reba_coupling": coupling, "reba_table_c": table_c, "reba_activity": activity, "reba_score": final,
                 "reba_risk_level": risk_level(final)})
    return ScoreTable.from_columns({name: cols[name] for name in COLUMNS})
