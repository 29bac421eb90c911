"""Joint angles for ergonomics (degrees) from the 3D skeleton, frame by frame.

Input: ``points`` (F, 33, 3) float, metres, VSION's world frame (Z up), MediaPipe's 33
landmarks in :data:`reconstruction.landmarks.JOINTS` order, NaN where a joint is missing. An
angle is NaN in a frame where one of the landmarks it needs is missing (or degenerate, e.g. two
landmarks on top of each other). Every function is pure (numpy only), vectorised over frames,
never modifies its input and may be called from any thread.

Two body frames are used:

- the **pelvis frame**: *up* is the world's Z; *left* is the horizontal direction from the
  right hip to the left hip; *forward* = left x up. The trunk is measured against it (against
  gravity, as the worksheets do).
- the **trunk frame**: *up* runs from the hips' midpoint to the shoulders' midpoint; *left* is
  the shoulder line (right to left shoulder) made perpendicular to *up*; *forward* = left x up.
  The neck and the upper arms are measured against it (relative to the trunk, as the worksheets
  do).

Signs: flexion forward is positive, extension negative; side bend and twist are positive
towards the person's left (seen from above, twist is counter-clockwise). Flags
(:data:`FLAG_NAMES`) are 1.0 (yes), 0.0 (no) or NaN (unknown).

How far to trust them: MediaPipe's landmarks are surface and image features, not joint
centres. Trunk, upper-arm, elbow and knee angles from calibrated multi-camera 3D are good to a
few degrees. Twists (trunk and neck) rest on short baselines (hip width, ear distance) and are
the least reliable body angles. Wrist angles come from three hand landmarks (wrist, index and
pinky knuckles): treat them as coarse (tens of degrees) and prefer the expert's own judgement.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from reconstruction.landmarks import INDEX, N_JOINTS
from scoring.table import Table

from .inputs import ErgonomicsError

logger = logging.getLogger(__name__)

SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}  # the side's outward direction is SIDE_SIGN * left

# In a neutral head, the line from the ear landmark to the eye landmark points up by about this
# much (tragus to pupil: ~2.5 cm up over ~8.5 cm forward); added so that a level head reads 0.
EAR_EYE_PITCH_DEG = 15.0
# The shoulder counts as raised when the ears are less than this many shoulder widths above it
# (along the trunk); about 0.45 in a relaxed posture.
SHOULDER_RAISED_RATIO = 0.30
# The forearm works "out to the side" when the wrist is more than this many shoulder widths
# outside its shoulder.
OUT_TO_SIDE_RATIO = 0.5
# Both feet count as supported when their lowest points are at most this far apart in height (m).
FEET_LEVEL_M = 0.05

ANGLE_NAMES: tuple[str, ...] = (
    "trunk_flexion", "trunk_side_bend", "trunk_twist",
    "neck_flexion", "neck_side_bend", "neck_twist",
    *(f"{s}_upper_arm_{a}" for s in SIDES for a in ("flexion", "abduction", "elevation")),
    *(f"{s}_elbow_flexion" for s in SIDES),
    *(f"{s}_wrist_{a}" for s in SIDES for a in ("flexion", "deviation")),
    *(f"{s}_knee_flexion" for s in SIDES),
)
FLAG_NAMES: tuple[str, ...] = (
    "left_shoulder_raised", "right_shoulder_raised",
    "left_arm_across_or_out", "right_arm_across_or_out",
    "legs_supported",
)
COLUMNS: tuple[str, ...] = ANGLE_NAMES + FLAG_NAMES


@dataclass(frozen=True, eq=False)
class Angles(Table):
    """Per-frame joint angles and posture flags.

    ``values`` (F, len(names)) float64: angles in degrees (:data:`ANGLE_NAMES`), flags as
    1.0 / 0.0 (:data:`FLAG_NAMES`), NaN where unknown. ``names`` are the column names, in
    :data:`COLUMNS` order by default. Read a column with ``angles["trunk_flexion"]`` (F,).
    Immutable: the array is copied and made read-only, so an instance can be shared by threads.
    """

    names: tuple[str, ...] = COLUMNS

    @classmethod
    def from_columns(cls, columns: Mapping[str, object], frames: int | None = None) -> Angles:
        """Build from ``{name: value or (F,) values}``; names not given are NaN.

        A scalar fills every frame. ``frames`` defaults to the longest column given (1 for
        scalars only). Unknown names raise :class:`ErgonomicsError`.
        """
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise ErgonomicsError(f"unknown angle column(s): {', '.join(unknown)}")
        arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in columns.items()}
        n = frames if frames is not None else max((len(a) for a in arrays.values()), default=1)
        values = np.full((n, len(COLUMNS)), np.nan)
        for name, arr in arrays.items():
            if arr.ndim != 1 or len(arr) not in (1, n):
                raise ErgonomicsError(f"column {name!r} has {arr.shape} values for {n} frames")
            values[:, COLUMNS.index(name)] = arr
        return cls(values=values)

    def _cell(self, value: float) -> float:
        return round(float(value), 1)  # 0.1 deg


# --------------------------------------------------------------------------- vector helpers


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return np.where(n > 1e-9, v / n, np.nan)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1)


def _deg_atan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.degrees(np.arctan2(y, x))
    return np.where(np.isfinite(y) & np.isfinite(x) & ((y != 0) | (x != 0)), out, np.nan)


def _deg_asin(x: np.ndarray) -> np.ndarray:
    return np.degrees(np.arcsin(np.clip(x, -1.0, 1.0)))


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg, 0-180) between vectors (F, 3); NaN for a zero or missing vector."""
    return _deg_atan2(np.linalg.norm(np.cross(_unit(a), _unit(b)), axis=-1), _dot(_unit(a), _unit(b)))


def _signed_about(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle (deg, -180..180) from ``a`` to ``b`` about ``axis``, both projected on the plane normal to it."""
    n = _unit(axis)
    pa = a - _dot(a, n)[:, None] * n
    pb = b - _dot(b, n)[:, None] * n
    return _deg_atan2(_dot(n, np.cross(pa, pb)), _dot(pa, pb))


def _flag(condition: np.ndarray, known: np.ndarray) -> np.ndarray:
    return np.where(known, condition.astype(np.float64), np.nan)


def _p(points: np.ndarray, name: str) -> np.ndarray:
    return points[:, INDEX[name]]


def _mid(points: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (_p(points, a) + _p(points, b))


def pelvis_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, left, up) unit vectors (F, 3) of the pelvis frame (see the module docstring)."""
    up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (len(points), 3))
    hips = _p(points, "left_hip") - _p(points, "right_hip")
    left = _unit(hips - _dot(hips, up)[:, None] * up)
    return np.cross(left, up), left, up


def trunk_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, left, up) unit vectors (F, 3) of the trunk frame (see the module docstring)."""
    up = _unit(_mid(points, "left_shoulder", "right_shoulder") - _mid(points, "left_hip", "right_hip"))
    line = _p(points, "left_shoulder") - _p(points, "right_shoulder")
    left = _unit(line - _dot(line, up)[:, None] * up)
    return np.cross(left, up), left, up


# --------------------------------------------------------------------------- angles


def trunk_angles(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trunk (flexion, side bend, twist) in degrees, (F,) each.

    The trunk line runs from the hips' midpoint to the shoulders' midpoint, expressed in the
    pelvis frame as (forward, left, up) components (f, l, u).

    - flexion = atan2(f, u): the trunk line's tilt from the vertical in the sagittal plane,
      forward positive, backward (extension) negative; 90 deg = horizontal.
    - side bend = asin(l / |trunk|): its tilt out of the sagittal plane, to the left positive.
    - twist: the angle from the hip line to the shoulder line about the trunk line, positive
      when the shoulders are turned to the left of the hips.

    Unreliable: twist (a few degrees of hip or shoulder landmark error on a ~20 cm hip line
    move it by 10 deg); side bend when the person faces a single camera (not an issue with
    several calibrated cameras).
    """
    fwd, left, up = pelvis_frame(points)
    trunk = _mid(points, "left_shoulder", "right_shoulder") - _mid(points, "left_hip", "right_hip")
    flexion = _deg_atan2(_dot(trunk, fwd), _dot(trunk, up))
    with np.errstate(invalid="ignore", divide="ignore"):
        side = _deg_asin(_dot(trunk, left) / np.linalg.norm(trunk, axis=-1))
    twist = _signed_about(_p(points, "left_hip") - _p(points, "right_hip"),
                          _p(points, "left_shoulder") - _p(points, "right_shoulder"), trunk)
    return flexion, side, twist


def neck_angles(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neck (flexion, side bend, twist) in degrees, (F,) each: the head against the trunk.

    The head's forward line runs from the ears' midpoint to the eyes' midpoint; its lateral
    line from the right ear to the left ear. Both are expressed in the trunk frame.

    - flexion: how far the forward line points down out of the trunk's transverse plane, plus
      :data:`EAR_EYE_PITCH_DEG` (the ear-to-eye line points up by about that much in a level
      head); forward (looking down) positive, extension negative.
    - side bend: the tilt of the ear line out of the transverse plane, left ear down positive.
    - twist: the rotation of the ear line about the trunk line, head turned left positive.

    Unreliable: the ear and eye landmarks are face features, not the cervical spine: expect a
    person-dependent offset of up to about 10 deg in flexion. The nose is not used (it moves
    with the mouth and the face's shape). A hidden ear (turned head) gives NaN or a noisy twist.
    """
    fwd, left, up = trunk_frame(points)
    head = _mid(points, "left_eye", "right_eye") - _mid(points, "left_ear", "right_ear")
    ears = _p(points, "left_ear") - _p(points, "right_ear")
    horizontal = np.hypot(_dot(head, fwd), _dot(head, left))
    flexion = _deg_atan2(-_dot(head, up), horizontal) + EAR_EYE_PITCH_DEG
    with np.errstate(invalid="ignore", divide="ignore"):
        side = _deg_asin(-_dot(ears, up) / np.linalg.norm(ears, axis=-1))
    twist = _deg_atan2(-_dot(ears, fwd), _dot(ears, left))
    return flexion, side, twist


def upper_arm_angles(points: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper arm (flexion, abduction, elevation) of ``side`` in degrees, (F,) each.

    The upper arm runs from the shoulder to the elbow, expressed in the trunk frame with
    *down* = -up and *out* = the side's lateral direction.

    - flexion = atan2(forward, down): the arm's angle in the sagittal plane (a side view),
      forward positive, behind the trunk (extension) negative.
    - abduction = asin(out / |arm|): the arm's angle out of the sagittal plane, away from
      the body positive, across the body negative.
    - elevation: the angle between the arm and the trunk's downward line (0-180 deg),
      whatever the plane the arm is raised in. The RULA and REBA upper-arm bands are read from
      it; the arm counts as extended (behind the body) when flexion is negative and the arm
      points more backwards than sideways (see :func:`scoring.worksheet.upper_arm_score`).

    Unreliable: flexion when the arm points straight out sideways (its sagittal projection
    vanishes); use elevation and abduction there. The shoulder landmark sits on the surface,
    so small angles (< 10 deg) carry a few degrees of offset.
    """
    fwd, left, up = trunk_frame(points)
    arm = _p(points, f"{side}_elbow") - _p(points, f"{side}_shoulder")
    out = SIDE_SIGN[side] * left
    flexion = _deg_atan2(_dot(arm, fwd), -_dot(arm, up))
    with np.errstate(invalid="ignore", divide="ignore"):
        abduction = _deg_asin(_dot(arm, out) / np.linalg.norm(arm, axis=-1))
    return flexion, abduction, _angle_between(arm, -up)


def elbow_flexion(points: np.ndarray, side: str) -> np.ndarray:
    """Elbow flexion of ``side`` in degrees (F,): the angle between the upper arm (shoulder to
    elbow) and the forearm (elbow to wrist); 0 = straight arm. Reliable from several cameras,
    except when the forearm points at most of them."""
    return _angle_between(_p(points, f"{side}_elbow") - _p(points, f"{side}_shoulder"),
                          _p(points, f"{side}_wrist") - _p(points, f"{side}_elbow"))


def wrist_angles(points: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Wrist (flexion, deviation) of ``side`` in degrees, (F,) each, from the hand landmarks.

    The forearm axis runs from the elbow to the wrist; the hand line from the wrist to the
    midpoint of the index and pinky knuckles; the radial axis from the pinky to the index
    knuckle, made perpendicular to the forearm; the palmar axis completes the frame (pointing
    out of the palm).

    - flexion = atan2(hand . palmar, hand . forearm): towards the palm positive, extension
      (towards the back of the hand) negative.
    - deviation = atan2(hand . radial, hand . forearm): radial (thumb side) positive, ulnar
      negative.

    Unreliable: the hand is seen through three landmarks 5-9 cm apart, often hidden by the
    object handled; errors of 15-20 deg are common. The thumb landmark is not used (it moves on
    its own joint). Forearm twist (pronation, supination) is not measured: it is an input of
    the step (``wrist_twist``).
    """
    forearm = _unit(_p(points, f"{side}_wrist") - _p(points, f"{side}_elbow"))
    hand = _mid(points, f"{side}_index", f"{side}_pinky") - _p(points, f"{side}_wrist")
    radial = _p(points, f"{side}_index") - _p(points, f"{side}_pinky")
    radial = _unit(radial - _dot(radial, forearm)[:, None] * forearm)
    palmar = -SIDE_SIGN[side] * np.cross(radial, forearm)
    along = _dot(hand, forearm)
    return _deg_atan2(_dot(hand, palmar), along), _deg_atan2(_dot(hand, radial), along)


def knee_flexion(points: np.ndarray, side: str) -> np.ndarray:
    """Knee flexion of ``side`` in degrees (F,): the angle between the thigh (hip to knee) and
    the shank (knee to ankle); 0 = straight leg. MediaPipe's hip landmark sits a few cm off the
    joint centre: expect a few degrees of offset."""
    return _angle_between(_p(points, f"{side}_knee") - _p(points, f"{side}_hip"),
                          _p(points, f"{side}_ankle") - _p(points, f"{side}_knee"))


# --------------------------------------------------------------------------- flags


def shoulder_raised(points: np.ndarray, side: str) -> np.ndarray:
    """1.0 when ``side``'s shoulder is raised (shrugged), 0.0 if not, NaN if unknown, (F,).

    Raised: the ears' midpoint is less than :data:`SHOULDER_RAISED_RATIO` shoulder widths above
    the shoulder, measured along the trunk line. Unreliable: MediaPipe's shoulder landmark moves
    little with a shrug, so only a clear elevation is detected.
    """
    _, _, up = trunk_frame(points)
    height = _dot(_mid(points, "left_ear", "right_ear") - _p(points, f"{side}_shoulder"), up)
    width = np.linalg.norm(_p(points, "left_shoulder") - _p(points, "right_shoulder"), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = height / width
    return _flag(ratio < SHOULDER_RAISED_RATIO, np.isfinite(ratio))


def arm_across_or_out(points: np.ndarray, side: str) -> np.ndarray:
    """1.0 when ``side``'s forearm works across the body's midline or out to the side, (F,).

    Across: the wrist is on the other side of the trunk's mid-sagittal plane (through the
    shoulders' midpoint). Out: the wrist is more than :data:`OUT_TO_SIDE_RATIO` shoulder widths
    outside its shoulder. NaN when the wrist or the trunk is missing.
    """
    _, left, _ = trunk_frame(points)
    out = SIDE_SIGN[side] * left
    lateral = _dot(_p(points, f"{side}_wrist") - _mid(points, "left_shoulder", "right_shoulder"), out)
    width = np.linalg.norm(_p(points, "left_shoulder") - _p(points, "right_shoulder"), axis=-1)
    known = np.isfinite(lateral) & np.isfinite(width)
    with np.errstate(invalid="ignore"):
        return _flag((lateral < 0) | (lateral > (0.5 + OUT_TO_SIDE_RATIO) * width), known)


def legs_supported(points: np.ndarray) -> np.ndarray:
    """1.0 when both feet bear weight, 0.0 when one foot is lifted, NaN if unknown, (F,).

    Each foot's lowest point is the lowest of its ankle, heel and toe landmarks (any of them
    may be missing); both feet are supported when those lowest points are at most
    :data:`FEET_LEVEL_M` apart in height. Independent of where the floor is. Unreliable:
    standing with one foot on a step reads as one foot lifted; walking reads as alternating.
    """
    lows = []
    for side in SIDES:
        z = np.stack([_p(points, f"{side}_{part}")[:, 2] for part in ("ankle", "heel", "foot_index")], axis=1)
        with np.errstate(invalid="ignore"):
            lows.append(np.where(np.isfinite(z).any(axis=1), np.nanmin(np.where(np.isfinite(z), z, np.inf), axis=1),
                                 np.nan))
    gap = np.abs(lows[0] - lows[1])
    with np.errstate(invalid="ignore"):
        return _flag(gap <= FEET_LEVEL_M, np.isfinite(gap))


# --------------------------------------------------------------------------- all of them


def check_points(points: object) -> np.ndarray:
    """``points`` as a float64 (F, 33, 3) copy with whole joints NaN where any coordinate is;
    raises :class:`ErgonomicsError` for another shape, no frame, or infinite values."""
    try:
        arr = np.array(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ErgonomicsError(f"points are not an array of numbers ({exc})") from None
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise ErgonomicsError(f"points must have shape (F, {N_JOINTS}, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ErgonomicsError("points have no frames")
    if np.isinf(arr).any():
        raise ErgonomicsError("points contain infinite values (NaN marks a missing joint)")
    arr[np.isnan(arr).any(axis=2)] = np.nan
    return arr


def compute_angles(points: object) -> Angles:
    """Every angle and flag of :data:`COLUMNS` for every frame of ``points`` (F, 33, 3) m.

    See each function above for the definitions. Raises :class:`ErgonomicsError` on a bad array.
    About 1 ms per 1000 frames per angle on one core.
    """
    arr = check_points(points)
    cols: dict[str, np.ndarray] = {}
    cols["trunk_flexion"], cols["trunk_side_bend"], cols["trunk_twist"] = trunk_angles(arr)
    cols["neck_flexion"], cols["neck_side_bend"], cols["neck_twist"] = neck_angles(arr)
    for side in SIDES:
        (cols[f"{side}_upper_arm_flexion"], cols[f"{side}_upper_arm_abduction"],
         cols[f"{side}_upper_arm_elevation"]) = upper_arm_angles(arr, side)
        cols[f"{side}_elbow_flexion"] = elbow_flexion(arr, side)
        cols[f"{side}_wrist_flexion"], cols[f"{side}_wrist_deviation"] = wrist_angles(arr, side)
        cols[f"{side}_knee_flexion"] = knee_flexion(arr, side)
        cols[f"{side}_shoulder_raised"] = shoulder_raised(arr, side)
        cols[f"{side}_arm_across_or_out"] = arm_across_or_out(arr, side)
    cols["legs_supported"] = legs_supported(arr)
    return Angles(values=np.stack([cols[name] for name in COLUMNS], axis=1))
