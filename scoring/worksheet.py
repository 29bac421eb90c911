"""What RULA and REBA share: the table of per-frame scores, the thresholds that turn measured
angles into the worksheets' words ("upright", "twisted", "abducted"), and the upper- and
lower-arm bands, which both worksheets use.

Bands: a value on a boundary belongs to the lower band (e.g. an upper arm at exactly 20 deg of
flexion is in the "-20 to 20 deg" band). Scores are float arrays with integer values and NaN
where an angle they need is unknown. Pure numpy; thread-safe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scoring.table import Table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """Angles (deg) that the worksheets leave to the rater's eye, made explicit.

    - ``neutral_deg``: within +/- this, a trunk is "upright" and a wrist "neutral" (the
      worksheets' 0 deg), and a neck is not "in extension".
    - ``twist_deg``, ``side_bend_deg``: beyond these (absolute), trunk and neck are "twisted" or
      "side bending".
    - ``abducted_deg``: upper arm abduction (out of the sagittal plane) beyond this is "abducted".
    - ``deviated_deg``: wrist radial or ulnar deviation beyond this is "deviated".
    """

    neutral_deg: float = 5.0
    twist_deg: float = 10.0
    side_bend_deg: float = 10.0
    abducted_deg: float = 45.0
    deviated_deg: float = 10.0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, eq=False)
class ScoreTable(Table):
    """Per-frame scores: ``values`` (F, len(names)) float64, integer values, NaN unknown.

    ``table["rula_score"]`` gives a column (F,). Read-only; safe to share between threads.
    """

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray]) -> ScoreTable:
        return cls(values=np.stack([np.asarray(v, dtype=np.float64) for v in columns.values()], axis=1),
                   names=tuple(columns))

    def _cell(self, value: float) -> int:
        return int(value)


def known(*arrays: np.ndarray) -> np.ndarray:
    """True where every array is finite."""
    out = np.ones(np.shape(arrays[0]), dtype=bool)
    for a in arrays:
        out &= np.isfinite(a)
    return out


def masked(score: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """``score`` as float with NaN wherever one of ``inputs`` is NaN."""
    return np.where(known(*inputs), score, np.nan).astype(np.float64)


def lookup(table: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """``table[s1 - 1, s2 - 1, ...]`` per frame for 1-based scores, each clipped to the table's
    size (the worksheets' "8+" rows); NaN where a score is NaN."""
    ok = known(*scores)
    idx = tuple(np.clip(np.where(ok, s, 1).astype(int), 1, n) - 1 for s, n in zip(scores, table.shape))
    return np.where(ok, table[idx], np.nan)


def flag(values: np.ndarray) -> np.ndarray:
    """A 0/1/NaN flag column as 0/1 with NaN counted as 0 (an unknown adjustment is not added)."""
    return np.where(np.isfinite(values), values, 0.0)


def arm_extended(flexion: np.ndarray, abduction: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """True where the upper arm is in extension: behind the trunk (negative flexion) and pointing
    more backwards than sideways. With unit arm components (forward f, out o, down d):
    |o| = |sin(abduction)|, d = cos(elevation), so f^2 = 1 - o^2 - d^2."""
    o = np.abs(np.sin(np.radians(abduction)))
    f2 = np.maximum(0.0, 1.0 - o**2 - np.cos(np.radians(elevation)) ** 2)
    with np.errstate(invalid="ignore"):
        return (flexion < 0) & (f2 > o**2)


def upper_arm_score(flexion: np.ndarray, abduction: np.ndarray, elevation: np.ndarray, raised: np.ndarray,
                    supported: np.ndarray, th: Thresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Upper arm score (RULA and REBA): 1 for 20 deg of extension to 20 deg of flexion, 2 for more
    than 20 deg of extension or 20-45 deg of flexion, 3 for 45-90 deg, 4 beyond 90 deg; +1 if the
    shoulder is raised, +1 if the arm is abducted (abduction > ``abducted_deg``), -1 if the arm
    is supported; at least 1.

    ``flexion``, ``abduction``, ``elevation``: the upper arm angles of :mod:`scoring.angles`
    (deg); the size of the angle is the elevation, its direction (:func:`arm_extended`) comes
    from flexion and abduction. ``raised``: a 0/1/NaN flag; ``supported``: bool.
    """
    extended = arm_extended(flexion, abduction, elevation)
    with np.errstate(invalid="ignore"):
        raised_band = np.select([elevation <= 20, elevation <= 45, elevation <= 90], [1, 2, 3], 4)
        base = np.where(extended, np.where(elevation <= 20, 1, 2), raised_band)
        abducted = np.where(np.isfinite(abduction), abduction > th.abducted_deg, False)
    score = base + flag(raised) + abducted - supported.astype(float)
    return masked(np.maximum(score, 1), elevation)


def lower_arm_base(elbow_flexion: np.ndarray) -> np.ndarray:
    """Lower arm score before adjustments (RULA and REBA): 1 for 60..100 deg of elbow flexion, else 2."""
    with np.errstate(invalid="ignore"):
        return masked(np.where((elbow_flexion >= 60) & (elbow_flexion <= 100), 1, 2), elbow_flexion)


def beyond(values: np.ndarray, limit: float) -> np.ndarray:
    """1.0 where |values| > limit, 0.0 where not or unknown (an unknown adjustment is not added)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values), np.abs(values) > limit, False).astype(float)
