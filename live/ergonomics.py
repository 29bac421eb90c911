"""The posture scores of the live skeleton: RULA and REBA of the newest 3D frame, for the live page.

Called by the live pose thread for every ``pose3d`` payload; about 3 ms on one free core.
Thread-safe (no shared state).
"""
from __future__ import annotations

import logging

import numpy as np

from scoring.ergonomics import live_scores
from scoring.inputs import ErgonomicsError

logger = logging.getLogger(__name__)

SCORE_KEYS = ("rula_score", "rula_action_level", "reba_score", "reba_risk_level")


def pose_ergonomics(points3d: list | None) -> dict | None:
    """``{"rula_score", "rula_action_level", "reba_score", "reba_risk_level"}`` (int or None where
    unknown) of the live skeleton ``points3d`` (33 ``[x, y, z]`` m or None, as in the ``pose3d``
    payload), with the default inputs (no load, good coupling); None without a skeleton. Never
    raises on odd points (live pose keeps running)."""
    if not points3d:
        return None
    try:
        frame = np.array([p if p is not None else (np.nan, np.nan, np.nan) for p in points3d], dtype=float)
        scores = live_scores(frame)
    except (ErgonomicsError, ValueError, TypeError) as exc:
        logger.debug("live ergonomics skipped: %s", exc)
        return None
    return {key: scores[key] for key in SCORE_KEYS}
