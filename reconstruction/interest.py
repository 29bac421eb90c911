"""The person of interest (the worker) among the people of a take, and the work area that finds them.

The work area is a rectangle on the floor (world frame, metres, Z up). By default it is the
middle of the calibrated volume (:func:`default_work_area`): the floor region from which a
standing person is seen whole by the most cameras, shrunk to its middle half. The person of
interest is the one inside it on the most frames (:func:`select_person`), unless the caller names
somebody. What makes the choice doubtful is reported as :class:`Problem` s, each a code for
programs and a one-line sentence for people.

Pure; thread-safe.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraGroup
from calibration.metadata import WORK_AREA_KEY

from .landmarks import INDEX

logger = logging.getLogger(__name__)

STANDING_M = (0.05, 1.75)   # heights (m) of the feet and the head of a standing person
GRID_STEP_M = 0.05
MIN_SIDE_M = 1.0            # the default work area is at least this wide and deep
CROWD_S = 1.0               # two people in the work area together this long is a problem
AREA_LIMIT_M = 100.0        # a work area corner farther than this from the origin is a typo
MIN_AREA_SIDE_M = 0.2       # nobody works in a narrower area
HINT_RADIUS_M = 1.0         # a person further than this from the chosen points is somebody else
MAX_HINT = 20_000           # points of a choice kept (a 30-minute take at 10 a second)


class PeopleError(ValueError):
    """A bad work area or person choice; the message says what to change."""


@dataclass(frozen=True)
class WorkArea:
    """A floor rectangle x0 <= x <= x1, y0 <= y <= y1, in metres in the world frame (Z up)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        values = (self.x0, self.y0, self.x1, self.y1)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise PeopleError(f"work area {values}: four finite numbers (m) are needed")
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise PeopleError(f"work area {values}: x0 < x1 and y0 < y1 are needed")

    @classmethod
    def checked(cls, values) -> WorkArea:
        """A work area from user input ``values`` (x0, y0, x1, y1) m: PeopleError unless four finite
        numbers within :data:`AREA_LIMIT_M` of the origin make a rectangle at least
        :data:`MIN_AREA_SIDE_M` wide and deep."""
        try:
            x0, y0, x1, y1 = (v for v in values)
        except (TypeError, ValueError):
            raise PeopleError("a work area is four numbers x0, y0, x1, y1 (m)") from None
        area = cls(x0, y0, x1, y1)
        if max(abs(v) for v in (x0, y0, x1, y1)) > AREA_LIMIT_M:
            raise PeopleError(f"work area {area.describe()}: its corners must be within {AREA_LIMIT_M:g} m of the origin")
        if min(x1 - x0, y1 - y0) < MIN_AREA_SIDE_M:
            raise PeopleError(f"work area {area.describe()}: it must be at least {MIN_AREA_SIDE_M:g} m wide and deep")
        return area

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """(...) bool for floor points ``xy`` (..., 2) m; False for NaN."""
        xy = np.asarray(xy, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return (xy[..., 0] >= self.x0) & (xy[..., 0] <= self.x1) & (xy[..., 1] >= self.y0) & (xy[..., 1] <= self.y1)

    def as_list(self) -> list[float]:
        return [float(self.x0), float(self.y0), float(self.x1), float(self.y1)]

    def describe(self) -> str:
        return f"x {self.x0:.2f}..{self.x1:.2f} m, y {self.y0:.2f}..{self.y1:.2f} m"


def _normalized_bounds(group: CameraGroup) -> np.ndarray:
    """(C, 4): min x, min y, max x, max y of each image's border in normalized (undistorted) coordinates."""
    out = []
    for cam in group.cameras:
        w, h = cam.size
        t = np.linspace(0.0, 1.0, 33)
        border = np.concatenate([np.stack([t * (w - 1), np.zeros_like(t)], 1), np.stack([t * (w - 1), np.full_like(t, h - 1)], 1),
                                 np.stack([np.zeros_like(t), t * (h - 1)], 1), np.stack([np.full_like(t, w - 1), t * (h - 1)], 1)])
        norm = (cam.undistort_points(border) - cam.matrix[:2, 2]) / np.diag(cam.matrix)[:2]
        # The largest axis-aligned box inside the border: its inner extents.
        out.append([norm[2 * 33:3 * 33, 0].max(), norm[:33, 1].max(), norm[3 * 33:, 0].min(), norm[33:2 * 33, 1].min()])
    return np.array(out)


def _search_box(group: CameraGroup) -> tuple[float, float, float, float]:
    """Floor box (m) that holds every place a camera could see a person: the cameras' positions and
    where their optical axes meet the floor (within 15 m), widened by a metre."""
    xy = []
    for cam in group.cameras:
        centre = cam.center
        xy.append(centre[:2])
        axis = cam.R[2]
        if axis[2] < -1e-6:
            s = -centre[2] / axis[2]
            if 0 < s < 15.0:
                xy.append((centre + s * axis)[:2])
    xy = np.array(xy)
    return (*(xy.min(axis=0) - 1.0), *(xy.max(axis=0) + 1.0))


def coverage(group: CameraGroup, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Number of cameras (x.shape) that see a person standing at floor points (x, y) m whole, feet to head."""
    bounds = _normalized_bounds(group)
    count = np.zeros(np.shape(x), int)
    for cam, (bx0, by0, bx1, by1) in zip(group.cameras, bounds):
        seen = np.ones(np.shape(x), bool)
        for z in STANDING_M:
            world = np.stack([x, y, np.full(np.shape(x), z)], axis=-1)
            local = world @ cam.R.T + cam.tvec
            depth = local[..., 2]
            with np.errstate(all="ignore"):
                u, v = local[..., 0] / depth, local[..., 1] / depth
            seen &= (depth > 0) & (u >= bx0) & (u <= bx1) & (v >= by0) & (v <= by1)
        count += seen
    return count


def default_work_area(group: CameraGroup, step_m: float = GRID_STEP_M) -> WorkArea:
    """The middle of the calibrated volume as a floor rectangle.

    The floor points from which a standing person (feet at 5 cm, head at 1.75 m) is inside the
    image of the most cameras form a region; the work area is centred on that region's centre
    and is half its width and depth (at least :data:`MIN_SIDE_M` each). Raises PeopleError when
    no floor point is seen by two cameras.
    """
    x0, y0, x1, y1 = _search_box(group)
    xs = np.arange(x0, x1 + step_m, step_m)
    ys = np.arange(y0, y1 + step_m, step_m)
    gx, gy = np.meshgrid(xs, ys)
    count = coverage(group, gx, gy)
    best = int(count.max(initial=0))
    if best < 2:
        raise PeopleError("no place on the floor is seen whole by two cameras: check the calibration "
                          "(world Z must point up from the floor)")
    inside = count == best
    px, py = gx[inside], gy[inside]
    cx, cy = float(px.mean()), float(py.mean())
    half_w = max(MIN_SIDE_M, 0.5 * float(px.max() - px.min())) / 2
    half_d = max(MIN_SIDE_M, 0.5 * float(py.max() - py.min())) / 2
    return WorkArea(round(cx - half_w, 3), round(cy - half_d, 3), round(cx + half_w, 3), round(cy + half_d, 3))


def saved_work_area(metadata: dict) -> WorkArea | None:
    """The work area a calibration's metadata keeps (:data:`WORK_AREA_KEY`), None when it keeps
    none or a bad one (a warning says so)."""
    value = metadata.get(WORK_AREA_KEY) if isinstance(metadata, dict) else None
    if value is None:
        return None
    try:
        return WorkArea.checked(value)
    except PeopleError as exc:
        logger.warning("the calibration's work area is not used: %s", exc)
        return None


def work_area_for(group: CameraGroup) -> tuple[WorkArea | None, str]:
    """The work area of a calibration and where it comes from: the one saved with it
    (``"saved"``), else :func:`default_work_area` (``"default"``); ``(None, "none")`` when the
    calibration has neither (no floor seen whole by two cameras)."""
    area = saved_work_area(group.metadata)
    if area is not None:
        return area, "saved"
    try:
        return default_work_area(group), "default"
    except PeopleError as exc:
        logger.warning("no default work area: %s", exc)
        return None, "none"


def checked_hint(values) -> np.ndarray:
    """A choice of person made while recording or replaying, as (N, 3) float64 rows (time s on the
    take's timeline, x m, y m) of where they stood; PeopleError for anything else (at most
    :data:`MAX_HINT` finite rows, times not negative)."""
    try:
        hint = np.asarray(values, dtype=np.float64).reshape(-1, 3) if len(values) else np.zeros((0, 3))
    except (TypeError, ValueError):
        raise PeopleError("a chosen person's places are rows of three numbers: time (s), x, y (m)") from None
    if len(hint) > MAX_HINT or not np.isfinite(hint).all() or (hint[:, 0] < 0).any():
        raise PeopleError(f"a chosen person's places: at most {MAX_HINT} rows of finite numbers, times from 0 s")
    return hint


def hint_from(points: np.ndarray, times: np.ndarray, every_s: float = 0.5) -> list[list[float]]:
    """Where a person of a processed take stood, as :func:`checked_hint` rows (time s, x m, y m):
    their pelvis (mid-hips) every ``every_s`` s, from ``points`` (F, 33, 3) m (NaN where absent)
    and ``times`` (F,) s; at most :data:`MAX_HINT` rows."""
    hips = (points[:, INDEX["left_hip"], :2] + points[:, INDEX["right_hip"], :2]) / 2
    rows, next_t = [], -np.inf
    for t, xy in zip(times, hips):
        if t >= next_t and np.isfinite(xy).all():
            rows.append([round(float(t), 3), round(float(xy[0]), 3), round(float(xy[1]), 3)])
            next_t = t + every_s
    step = max(1, -(-len(rows) // MAX_HINT))
    return rows[::step]


def nearest_to_hint(floor: dict[int, np.ndarray], hint: np.ndarray, fps: float) -> int | None:
    """The person who stood where the user's chosen person stood: ``hint`` (N, 3) rows (time s,
    x m, y m); ``floor`` person id -> pelvis floor position (F, 2) m per frame, NaN when absent.
    Each person's median distance to the hint, over the hint's times they are present at (at
    least half of them), must be under :data:`HINT_RADIUS_M`; the nearest wins. None: nobody."""
    best, best_distance = None, HINT_RADIUS_M
    for person, xy in sorted(floor.items()):
        if not len(xy) or not len(hint):
            continue
        frames = np.clip(np.round(hint[:, 0] * fps).astype(int), 0, len(xy) - 1)
        gaps = np.linalg.norm(xy[frames] - hint[:, 1:], axis=1)
        seen = np.isfinite(gaps)
        if seen.sum() * 2 < len(hint):
            continue
        distance = float(np.median(gaps[seen]))
        if distance < best_distance:
            best, best_distance = person, distance
    return best


@dataclass(frozen=True)
class Problem:
    """A doubtful case worth telling: ``code`` for programs, ``message`` one line for people,
    ``camera`` the camera it is about (None: the take as a whole)."""

    code: str
    message: str
    camera: str | None = None  # the camera it is about, if one

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **({"camera": self.camera} if self.camera else {})}


@dataclass(frozen=True)
class Choice:
    """The person of interest: ``person`` id (None when nobody was reconstructed), how they were
    chosen (``reason``: ``chosen``, ``hint``, ``work_area``, ``most_present`` or ``nobody``), the percent
    of the take's frames each person spent in the work area, and the problems met."""

    person: int | None
    reason: str
    in_area_pct: dict[int, float]
    problems: tuple[Problem, ...]


def _crowded(inside: dict[int, np.ndarray], fps: float) -> list[int]:
    """People in the work area together with somebody else for :data:`CROWD_S` or more."""
    ids = sorted(inside)
    if len(ids) < 2:
        return []
    stack = np.stack([inside[i] for i in ids])
    together = stack.sum(axis=0) >= 2
    if together.sum() < CROWD_S * fps:
        return []
    return [i for i, row in zip(ids, stack) if (row & together).sum() >= CROWD_S * fps]


def select_person(floor: dict[int, np.ndarray], area: WorkArea | None, fps: float,
                  chosen: int | None = None, hint: np.ndarray | None = None) -> Choice:
    """Choose the person of interest.

    ``floor`` maps each person id to their pelvis floor position (F, 2) m per frame, NaN when
    absent; ``area`` the work area (None: none is known); ``fps`` frames per second; ``chosen``
    a person id the user picked (raises PeopleError if there is no such person); ``hint`` where
    the person the user picked stood (:func:`checked_hint` rows), who is found again with
    :func:`nearest_to_hint` (reason ``hint``). Otherwise the person inside the area on the most
    frames is chosen; nobody inside (or no area): the person present on the most frames.
    """
    inside = {i: (area.contains(xy) if area is not None else np.zeros(len(xy), bool)) for i, xy in floor.items()}
    frames = max((len(xy) for xy in floor.values()), default=0)
    pct = {i: round(100.0 * float(v.sum()) / max(frames, 1), 1) for i, v in inside.items()}
    if chosen is not None:
        if chosen not in floor:
            have = ", ".join(str(i) for i in sorted(floor)) or "nobody"
            raise PeopleError(f"person {chosen} does not exist (the take has {have})")
        return Choice(chosen, "chosen", pct, ())
    lost: tuple[Problem, ...] = ()
    if hint is not None and len(hint):
        found = nearest_to_hint(floor, hint, fps)
        if found is not None:
            return Choice(found, "hint", pct, ())
        lost = (Problem("chosen_person_not_found", "the person chosen as the worker was not found again (nobody "
                        f"stood within {HINT_RADIUS_M:g} m of where they were): the work area decided"),)
    choice = _by_area(floor, inside, area, fps, pct)
    return Choice(choice.person, choice.reason, pct, lost + choice.problems)


def _by_area(floor: dict[int, np.ndarray], inside: dict[int, np.ndarray], area: WorkArea | None, fps: float,
             pct: dict[int, float]) -> Choice:
    """:func:`select_person` without a user's choice: the work area decides."""
    if not floor:
        return Choice(None, "nobody", pct, (Problem("nobody", "nobody was reconstructed: no person was seen "
                                                               "by two cameras at once"),))
    present = {i: int(np.isfinite(xy).all(axis=-1).sum()) for i, xy in floor.items()}
    best = max(floor, key=lambda i: (int(inside[i].sum()), present[i], -i))
    if not inside[best].any():
        best = max(floor, key=lambda i: (present[i], -i))
        if area is None:
            return Choice(best, "most_present", pct, ())
        message = (f"nobody was in the work area ({area.describe()}); person {best}, seen on the most frames, "
                   "was taken as the worker")
        return Choice(best, "most_present", pct, (Problem("no_one_in_work_area", message),))
    crowd = _crowded(inside, fps)
    problems = ()
    if crowd:
        listing = ", ".join(f"person {i} ({pct[i]:g} % of the take)" for i in crowd)
        problems = (Problem("several_in_work_area", f"{len(crowd)} people were in the work area together: "
                            f"{listing}; person {best}, in it the longest, was taken as the worker"),)
    return Choice(best, "work_area", pct, problems)
