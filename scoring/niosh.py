"""The revised NIOSH lifting equation (Waters, Putz-Anderson, Garg and Fine, Ergonomics 36(7),
1993; Applications Manual, DHHS (NIOSH) Publication 94-110, 1994), metric form:

    RWL = LC x HM x VM x DM x AM x FM x CM      (kg)       LI = load / RWL

- LC = 23 kg.
- HM = 25 / H (H in cm; H < 25 counts as 25; H > 63 gives 0).
- VM = 1 - 0.003 |V - 75| (V in cm from the floor; V > 175 gives 0).
- DM = 0.82 + 4.5 / D (D = |V destination - V origin| in cm; D < 25 counts as 25; D > 175 gives 0).
- AM = 1 - 0.0032 A (A in degrees; A > 135 gives 0).
- FM from the manual's Table 5 (lifts/min, duration, V at the origin < or >= 75 cm), linear
  between its rows as the manual does; below 0.2 lifts/min counts as 0.2; beyond the last
  non-zero row of its column FM is 0.
- CM from Table 7 (coupling, V at the point assessed < or >= 75 cm).

The RWL is computed at the origin, and at the destination too when the load needs significant
control there; the lower one gives the LI. From the skeleton: H is the horizontal distance
between the hands' midpoint and the ankles' midpoint projected on the floor; V the hands'
height above the floor; A the angle between that horizontal line and the person's forward
direction (the mean heel-to-toe direction of both feet, else the pelvis). Pure numpy; thread-safe.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from reconstruction.landmarks import INDEX

from .angles import check_points, pelvis_frame
from .inputs import ErgonomicsError, StepInputs

logger = logging.getLogger(__name__)

LC_KG = 23.0

FM_FREQUENCIES = np.array([0.2, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
# Table 5: columns (<= 1 h, V < 75), (<= 1 h, V >= 75), (<= 2 h, V < 75), (<= 2 h, V >= 75),
# (<= 8 h, V < 75), (<= 8 h, V >= 75); rows FM_FREQUENCIES; above 15 lifts/min FM = 0.
FM_TABLE = np.array([
    [1.00, 1.00, 0.95, 0.95, 0.85, 0.85],
    [0.97, 0.97, 0.92, 0.92, 0.81, 0.81],
    [0.94, 0.94, 0.88, 0.88, 0.75, 0.75],
    [0.91, 0.91, 0.84, 0.84, 0.65, 0.65],
    [0.88, 0.88, 0.79, 0.79, 0.55, 0.55],
    [0.84, 0.84, 0.72, 0.72, 0.45, 0.45],
    [0.80, 0.80, 0.60, 0.60, 0.35, 0.35],
    [0.75, 0.75, 0.50, 0.50, 0.27, 0.27],
    [0.70, 0.70, 0.42, 0.42, 0.22, 0.22],
    [0.60, 0.60, 0.35, 0.35, 0.18, 0.18],
    [0.52, 0.52, 0.30, 0.30, 0.00, 0.15],
    [0.45, 0.45, 0.26, 0.26, 0.00, 0.13],
    [0.41, 0.41, 0.00, 0.23, 0.00, 0.00],
    [0.37, 0.37, 0.00, 0.21, 0.00, 0.00],
    [0.00, 0.34, 0.00, 0.00, 0.00, 0.00],
    [0.00, 0.31, 0.00, 0.00, 0.00, 0.00],
    [0.00, 0.28, 0.00, 0.00, 0.00, 0.00],
])
# Table 7: coupling -> (V < 75 cm, V >= 75 cm).
CM_TABLE = {"good": (1.00, 1.00), "fair": (0.95, 1.00), "poor": (0.90, 0.90)}


def horizontal_multiplier(h_cm: float) -> float:
    return 0.0 if h_cm > 63 else 25.0 / max(h_cm, 25.0)


def vertical_multiplier(v_cm: float) -> float:
    return 0.0 if v_cm > 175 else 1.0 - 0.003 * abs(max(v_cm, 0.0) - 75.0)


def distance_multiplier(d_cm: float) -> float:
    return 0.0 if d_cm > 175 else 0.82 + 4.5 / max(d_cm, 25.0)


def asymmetric_multiplier(a_deg: float) -> float:
    return 0.0 if a_deg > 135 else 1.0 - 0.0032 * a_deg


def duration_column(duration_h: float) -> int:
    """0 for <= 1 h, 1 for <= 2 h, 2 for <= 8 h; beyond 8 h the equation does not apply."""
    if not 0 < duration_h <= 8:
        raise ErgonomicsError(f"lifting duration must be more than 0 and at most 8 h, got {duration_h:g}")
    return 0 if duration_h <= 1 else 1 if duration_h <= 2 else 2


def frequency_multiplier(frequency_per_min: float, duration_h: float, v_origin_cm: float) -> float:
    """FM from Table 5 (see the module docstring)."""
    column = FM_TABLE[:, 2 * duration_column(duration_h) + (1 if v_origin_cm >= 75 else 0)]
    f = max(frequency_per_min, 0.2)
    last = FM_FREQUENCIES[np.flatnonzero(column > 0)[-1]]
    if f > last:
        return 0.0
    return float(np.interp(f, FM_FREQUENCIES, column))


def coupling_multiplier(coupling: str, v_cm: float) -> float:
    """CM from Table 7; "unacceptable" (a REBA word) counts as poor."""
    row = CM_TABLE.get("poor" if coupling == "unacceptable" else coupling)
    if row is None:
        raise ErgonomicsError(f"coupling must be good, fair or poor, got {coupling!r}")
    return row[1 if v_cm >= 75 else 0]


@dataclass(frozen=True)
class Multipliers:
    """The six multipliers and the RWL (kg) at one end of a lift."""

    hm: float
    vm: float
    dm: float
    am: float
    fm: float
    cm: float
    rwl_kg: float


def rwl(h_cm: float, v_cm: float, d_cm: float, a_deg: float, frequency_per_min: float, duration_h: float,
        coupling: str, v_origin_cm: float | None = None) -> Multipliers:
    """The recommended weight limit at a point with horizontal distance ``h_cm``, height ``v_cm``,
    travel ``d_cm``, asymmetry ``a_deg``; FM uses ``v_origin_cm`` (default ``v_cm``)."""
    for name, value in (("H", h_cm), ("V", v_cm), ("D", d_cm), ("A", a_deg), ("frequency", frequency_per_min)):
        if not np.isfinite(value) or value < 0:
            raise ErgonomicsError(f"NIOSH {name} must be a number >= 0, got {value}")
    m = {"hm": horizontal_multiplier(h_cm), "vm": vertical_multiplier(v_cm), "dm": distance_multiplier(d_cm),
         "am": asymmetric_multiplier(a_deg),
         "fm": frequency_multiplier(frequency_per_min, duration_h, v_cm if v_origin_cm is None else v_origin_cm),
         "cm": coupling_multiplier(coupling, v_cm)}
    return Multipliers(**m, rwl_kg=LC_KG * float(np.prod(list(m.values()))))


@dataclass(frozen=True)
class LiftPoint:
    """The lift geometry at one frame: H and V (cm), A (deg) and the frame's index."""

    frame: int
    h_cm: float
    v_cm: float
    a_deg: float


@dataclass(frozen=True)
class NioshResult:
    """A lift assessed: origin and destination geometry, multipliers, RWL (kg) and lifting index."""

    origin: LiftPoint
    destination: LiftPoint
    d_cm: float
    at_origin: Multipliers
    at_destination: Multipliers | None
    rwl_kg: float
    load_kg: float
    lifting_index: float | None

    def to_dict(self) -> dict:
        """JSON-ready, numbers rounded (cm and deg to 0.1, multipliers to 0.001, kg to 0.01)."""
        def rounded(d: dict) -> dict:
            return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}
        out = {"origin": rounded(asdict(self.origin)), "destination": rounded(asdict(self.destination)),
               "d_cm": round(self.d_cm, 1), "at_origin": rounded(asdict(self.at_origin)),
               "at_destination": rounded(asdict(self.at_destination)) if self.at_destination else None,
               "rwl_kg": round(self.rwl_kg, 2), "load_kg": self.load_kg,
               "lifting_index": None if self.lifting_index is None else round(self.lifting_index, 2)}
        return out


def lifting_equation(origin: LiftPoint, destination: LiftPoint, inputs: StepInputs) -> NioshResult:
    """Single-task NIOSH assessment of a lift from ``origin`` to ``destination`` with the step's
    load, frequency, duration, coupling and control at the destination."""
    d_cm = abs(destination.v_cm - origin.v_cm)
    common = (d_cm, inputs.frequency_per_min, inputs.duration_h, inputs.coupling)
    at_origin = rwl(origin.h_cm, origin.v_cm, common[0], origin.a_deg, *common[1:], v_origin_cm=origin.v_cm)
    at_destination = None
    limit = at_origin.rwl_kg
    if inputs.control_at_destination:
        at_destination = rwl(destination.h_cm, destination.v_cm, common[0], destination.a_deg, *common[1:],
                             v_origin_cm=origin.v_cm)
        limit = min(limit, at_destination.rwl_kg)
    index = inputs.load_kg / limit if limit > 0 else None
    return NioshResult(origin, destination, d_cm, at_origin, at_destination, limit, inputs.load_kg, index)


# --------------------------------------------------------------------------- from the skeleton


def _joint(points: np.ndarray, name: str) -> np.ndarray:
    return points[:, INDEX[name]]


def hands_position(points: np.ndarray) -> np.ndarray:
    """(F, 3) m: the midpoint of both hands' grasp points (the middle of the index and pinky
    knuckles, else the wrist), over the hands seen; NaN where neither hand is."""
    hands = []
    for side in ("left", "right"):
        grasp = 0.5 * (_joint(points, f"{side}_index") + _joint(points, f"{side}_pinky"))
        hands.append(np.where(np.isfinite(grasp), grasp, _joint(points, f"{side}_wrist")))
    stack = np.stack(hands)
    count = np.isfinite(stack).all(axis=2).sum(axis=0)
    total = np.where(np.isfinite(stack), stack, 0.0).sum(axis=0)
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)


def floor_height(points: np.ndarray) -> float:
    """The floor's height (m): the 2nd percentile of the heel and toe landmarks over the take
    (robust to a world origin that is not on the floor); 0.0 when no foot is seen."""
    feet = np.concatenate([_joint(points, f"{s}_{p}")[:, 2] for s in ("left", "right") for p in ("heel", "foot_index")])
    feet = feet[np.isfinite(feet)]
    return float(np.percentile(feet, 2)) if feet.size else 0.0


def _forward(points: np.ndarray, f: int) -> np.ndarray:
    feet = [_joint(points, f"{s}_foot_index")[f] - _joint(points, f"{s}_heel")[f] for s in ("left", "right")]
    feet = [v[:2] / np.linalg.norm(v[:2]) for v in feet if np.isfinite(v).all() and np.linalg.norm(v[:2]) > 1e-6]
    if feet:
        mean = np.mean(feet, axis=0)
        if np.linalg.norm(mean) > 1e-6:
            return mean / np.linalg.norm(mean)
    fwd = pelvis_frame(points[f:f + 1])[0][0, :2]
    return fwd / np.linalg.norm(fwd) if np.isfinite(fwd).all() else np.array([np.nan, np.nan])


def lift_point(points: np.ndarray, f: int, floor_z: float) -> LiftPoint:
    """H, V (cm) and A (deg) at frame ``f`` (see the module docstring)."""
    hands = hands_position(points[f:f + 1])[0]
    ankles = 0.5 * (_joint(points, "left_ankle")[f] + _joint(points, "right_ankle")[f])
    if not (np.isfinite(hands).all() and np.isfinite(ankles).all()):
        raise ErgonomicsError(f"frame {f}: the hands or the ankles are not reconstructed")
    line = hands[:2] - ankles[:2]
    fwd = _forward(points, f)
    h = float(np.linalg.norm(line))
    a = 0.0 if h < 1e-6 or not np.isfinite(fwd).all() else float(np.degrees(np.arccos(np.clip(line @ fwd / h, -1, 1))))
    return LiftPoint(int(f), 100.0 * h, 100.0 * max(0.0, float(hands[2]) - floor_z), a)


def find_lift_frames(points: object, fps: float, start_s: float, end_s: float) -> tuple[int, int]:
    """(origin, destination) frames of the lift inside [start_s, end_s] s.

    The hands' lowest and highest positions in the step: the earlier one is the origin (a lift
    goes from the lowest to the highest, a lowering the other way round). Frames without both
    hands and ankles are skipped. Raises :class:`ErgonomicsError` if the step holds no usable frame.
    """
    arr = check_points(points)
    first, last = max(0, int(np.ceil(start_s * fps - 1e-9))), min(len(arr) - 1, int(np.floor(end_s * fps + 1e-9)))
    frames = np.arange(first, last + 1)
    if frames.size == 0:
        raise ErgonomicsError(f"the lift {start_s:g}-{end_s:g} s holds no frame of the take")
    height = hands_position(arr[frames])[:, 2]
    ankles_ok = np.isfinite(_joint(arr, "left_ankle")[frames] + _joint(arr, "right_ankle")[frames]).all(axis=1)
    ok = np.isfinite(height) & ankles_ok
    if ok.sum() < 2:
        raise ErgonomicsError(f"the lift {start_s:g}-{end_s:g} s has too few frames with hands and feet reconstructed")
    low = frames[ok][np.argmin(height[ok])]
    high = frames[ok][np.argmax(height[ok])]
    return (int(low), int(high)) if low <= high else (int(high), int(low))


def assess_lift(points: object, fps: float, start_s: float, end_s: float, inputs: StepInputs,
                floor_z: float | None = None) -> NioshResult:
    """NIOSH assessment of the lift in [start_s, end_s] s of ``points`` (F, 33, 3) m at ``fps``.

    ``floor_z`` (m) defaults to :func:`floor_height` of the whole take.
    """
    arr = check_points(points)
    origin, destination = find_lift_frames(arr, fps, start_s, end_s)
    floor = floor_height(arr) if floor_z is None else float(floor_z)
    return lifting_equation(lift_point(arr, origin, floor), lift_point(arr, destination, floor), inputs)
