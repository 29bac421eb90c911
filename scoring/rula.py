"""RULA, the Rapid Upper Limb Assessment (McAtamney and Corlett, Applied Ergonomics 24(2), 1993),
per frame, with every sub-score.

Group A (each arm): upper arm 1-6, lower arm 1-3, wrist 1-4, wrist twist 1-2 -> Table A;
+ muscle use (0-1) + force/load (0-3) = the wrist and arm score (score C). Group B: neck 1-6,
trunk 1-6, legs 1-2 -> Table B; + muscle use + force/load = the neck, trunk and leg score
(score D). Table C (C capped at 8, D at 7) gives the grand score 1-7 and the action level:
1 (1-2, acceptable), 2 (3-4, investigate further), 3 (5-6, investigate and change soon),
4 (7, investigate and change immediately). Both arms are scored; the grand score is the worse
arm's (the one seen, when the other is hidden). Angles come from :mod:`scoring.angles`, the rest from :class:`scoring.inputs.StepInputs`,
the words the worksheet leaves to the eye from :class:`scoring.worksheet.Thresholds`.
Pure numpy; thread-safe.
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
    flag,
    lookup,
    lower_arm_base,
    masked,
    upper_arm_score,
)

logger = logging.getLogger(__name__)

# Table A [upper arm 1-6][lower arm 1-3][wrist 1-4][wrist twist 1-2], as published.
TABLE_A = np.array([
    [[1, 2, 2, 2, 2, 3, 3, 3], [2, 2, 2, 2, 3, 3, 3, 3], [2, 3, 3, 3, 3, 3, 4, 4]],
    [[2, 3, 3, 3, 3, 4, 4, 4], [3, 3, 3, 3, 3, 4, 4, 4], [3, 4, 4, 4, 4, 4, 5, 5]],
    [[3, 3, 4, 4, 4, 4, 5, 5], [3, 4, 4, 4, 4, 4, 5, 5], [4, 4, 4, 4, 4, 5, 5, 5]],
    [[4, 4, 4, 4, 4, 5, 5, 5], [4, 4, 4, 4, 4, 5, 5, 5], [4, 4, 4, 5, 5, 5, 6, 6]],
    [[5, 5, 5, 5, 5, 6, 6, 7], [5, 6, 6, 6, 6, 7, 7, 7], [6, 6, 6, 7, 7, 7, 7, 8]],
    [[7, 7, 7, 7, 7, 8, 8, 9], [8, 8, 8, 8, 8, 9, 9, 9], [9, 9, 9, 9, 9, 9, 9, 9]],
]).reshape(6, 3, 4, 2)

# Table B [neck 1-6][trunk 1-6][legs 1-2], as published.
TABLE_B = np.array([
    [1, 3, 2, 3, 3, 4, 5, 5, 6, 6, 7, 7],
    [2, 3, 2, 3, 4, 5, 5, 5, 6, 7, 7, 7],
    [3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7],
    [5, 5, 5, 6, 6, 7, 7, 7, 7, 7, 8, 8],
    [7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8],
    [8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9],
]).reshape(6, 6, 2)

# Table C [score C 1-8+][score D 1-7+], as published.
TABLE_C = np.array([
    [1, 2, 3, 3, 4, 5, 5],
    [2, 2, 3, 4, 4, 5, 5],
    [3, 3, 3, 4, 4, 5, 6],
    [3, 3, 3, 4, 5, 6, 6],
    [4, 4, 4, 5, 6, 7, 7],
    [4, 4, 5, 6, 6, 7, 7],
    [5, 5, 6, 6, 7, 7, 7],
    [5, 5, 6, 7, 7, 7, 7],
])

ARM_PARTS = ("upper_arm", "lower_arm", "wrist", "wrist_twist", "table_a", "wrist_arm", "table_c")
COLUMNS: tuple[str, ...] = (
    *(f"rula_{side}_{part}" for side in SIDES for part in ARM_PARTS),
    "rula_muscle_use", "rula_force_load", "rula_neck", "rula_trunk", "rula_legs", "rula_table_b",
    "rula_neck_trunk_leg", "rula_score", "rula_action_level",
)
ACTION_LEVELS = {1: "acceptable", 2: "investigate further", 3: "investigate and change soon",
                 4: "investigate and change immediately"}


def action_level(score: np.ndarray) -> np.ndarray:
    """RULA action level 1-4 from the grand score 1-7 (NaN stays NaN)."""
    with np.errstate(invalid="ignore"):
        return masked(np.select([score <= 2, score <= 4, score <= 6], [1, 2, 3], 4), score)


def force_load_score(inputs: InputArrays) -> np.ndarray:
    """0: below 2 kg; 1: 2-10 kg intermittent; 2: 2-10 kg static or repeated, or 10 kg or more
    intermittent; 3: 10 kg or more static or repeated, or shock / rapid build-up."""
    held = inputs.static_posture | inputs.repeated
    load = inputs.load_kg
    score = np.select([load < 2, load < 10], [0, np.where(held, 2, 1)], np.where(held, 3, 2))
    return np.where(inputs.shock, 3, score).astype(float)


def muscle_use_score(inputs: InputArrays) -> np.ndarray:
    """+1 if the posture is mainly static (held > 1 min) or repeated 4 times a minute or more."""
    return (inputs.static_posture | inputs.repeated).astype(float)


def neck_score(angles: Angles, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 for 0-10 deg of flexion, 2 for 10-20, 3 beyond 20, 4 in extension (beyond
    ``neutral_deg``); +1 twisted, +1 side bending."""
    flexion = angles["neck_flexion"]
    with np.errstate(invalid="ignore"):
        base = np.select([flexion < -th.neutral_deg, flexion <= 10, flexion <= 20], [4, 1, 2], 3)
    score = base + beyond(angles["neck_twist"], th.twist_deg) + beyond(angles["neck_side_bend"], th.side_bend_deg)
    return masked(score, flexion)


def trunk_score(angles: Angles, inputs: InputArrays, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 upright (within ``neutral_deg``, or seated), 2 for up to 20 deg, 3 for 20-60 deg, 4 beyond
    60 deg of flexion; extension counts like flexion of the same size up to 3 (RULA gives no
    separate band: REBA's is used); +1 twisted, +1 side bending."""
    flexion = angles["trunk_flexion"]
    size = np.abs(flexion)
    with np.errstate(invalid="ignore"):
        base = np.select([size <= th.neutral_deg, size <= 20, (size <= 60) | (flexion < 0)], [1, 2, 3], 4)
    base = np.where(inputs.sitting & (size <= 20), 1, base)
    score = base + beyond(angles["trunk_twist"], th.twist_deg) + beyond(angles["trunk_side_bend"], th.side_bend_deg)
    return masked(score, flexion)


def legs_score(angles: Angles, inputs: InputArrays) -> np.ndarray:
    """1 if the legs and feet are supported and balanced (or seated), 2 if not."""
    supported = angles["legs_supported"]
    score = np.where(inputs.sitting | (supported == 1), 1, 2)
    return np.where(inputs.sitting | np.isfinite(supported), score, np.nan).astype(float)


def wrist_score(angles: Angles, side: str, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """1 neutral (within ``neutral_deg``), 2 for up to 15 deg of flexion or extension, 3 beyond;
    +1 deviated (beyond ``deviated_deg``)."""
    flexion = np.abs(angles[f"{side}_wrist_flexion"])
    with np.errstate(invalid="ignore"):
        base = np.select([flexion <= th.neutral_deg, flexion <= 15], [1, 2], 3)
    return masked(base + beyond(angles[f"{side}_wrist_deviation"], th.deviated_deg), flexion)


def _arm(angles: Angles, inputs: InputArrays, side: str, extra: np.ndarray, th: Thresholds) -> dict[str, np.ndarray]:
    """Group A of one arm: upper arm, lower arm, wrist, wrist twist, Table A, score C."""
    upper = upper_arm_score(angles[f"{side}_upper_arm_flexion"], angles[f"{side}_upper_arm_abduction"],
                            angles[f"{side}_upper_arm_elevation"], angles[f"{side}_shoulder_raised"],
                            inputs.arm_supported, th)
    lower = lower_arm_base(angles[f"{side}_elbow_flexion"]) + flag(angles[f"{side}_arm_across_or_out"])
    wrist = wrist_score(angles, side, th)
    twist = np.where(inputs.wrist_twist == "end", 2.0, 1.0)
    table_a = lookup(TABLE_A, upper, lower, wrist, twist)
    return {"upper_arm": upper, "lower_arm": lower, "wrist": wrist, "wrist_twist": twist,
            "table_a": table_a, "wrist_arm": table_a + extra}


def rula_scores(angles: Angles, inputs: StepInputs | Sequence[StepInputs] | InputArrays | None = None,
                thresholds: Thresholds = DEFAULT_THRESHOLDS) -> ScoreTable:
    """RULA per frame with every sub-score (:data:`COLUMNS`), from joint angles and step inputs.

    ``inputs``: one :class:`StepInputs` for every frame, one per frame, or :class:`InputArrays`.
    A sub-score is NaN where the angle it rests on is unknown, and so is everything built on it;
    an unknown adjustment (twist, side bend, flags) is not added.
    """
    inputs = coerce_inputs(inputs, angles.n_frames)
    muscle, force = muscle_use_score(inputs), force_load_score(inputs)
    extra = muscle + force
    cols: dict[str, np.ndarray] = {}
    for side in SIDES:
        arm = _arm(angles, inputs, side, extra, thresholds)
        arm["table_c"] = np.full(angles.n_frames, np.nan)
        cols.update({f"rula_{side}_{k}": v for k, v in arm.items()})
    neck, trunk, legs = neck_score(angles, thresholds), trunk_score(angles, inputs, thresholds), legs_score(angles, inputs)
    table_b = lookup(TABLE_B, neck, trunk, legs)
    score_d = table_b + extra
    for side in SIDES:
        cols[f"rula_{side}_table_c"] = lookup(TABLE_C, cols[f"rula_{side}_wrist_arm"], score_d)
    grand = np.fmax(cols["rula_left_table_c"], cols["rula_right_table_c"])
    cols.update({"rula_muscle_use": muscle, "rula_force_load": force, "rula_neck": neck, "rula_trunk": trunk,
                 "rula_legs": legs, "rula_table_b": table_b, "rula_neck_trunk_leg": score_d, "rula_score": grand,
                 "rula_action_level": action_level(grand)})
    return ScoreTable.from_columns({name: cols[name] for name in COLUMNS})
