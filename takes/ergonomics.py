"""The ergonomics of a take as the pages show them, with the work card's steps as they are now.

The process job writes ``processed/ergonomics.json`` with the steps of the moment it ran; the
pages instead ask :func:`take_report`, which scores ``processed/pose3d.csv`` with the steps that
apply today (:func:`steps_for_take`): a reference take gets its card's steps as the user sees the
card (the expert's draft, or the published version in force), an attempt the steps of the
version it followed, moved onto its own timeline through its comparison's alignment, and a free
take none. Reports are kept in a small LRU keyed by take id, the modification time of
``pose3d.csv`` and the steps, so a change of the steps or a new processing gives a new report.

:func:`card_report` is what the printable ergonomic report of a work card shows: its reference's
report and its worst moments, each with the skeleton seen from the side (:func:`side_view`).

Services run inside an app context; they raise :class:`common.errors.ServiceError` (and
:class:`NotProcessed` for a take without a usable 3D skeleton). Reports are shared between
threads: callers never modify them.
"""
from __future__ import annotations

import json
import logging
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from common.errors import ServiceError
from common.takefolder import PROCESSED_DIR
from database.base import db
from database.models import Take, User, WorkCard
from reconstruction.exports import ExportError, read_pose3d_csv
from reconstruction.landmarks import EDGES, INDEX
from scoring.angles import UNRELIABLE_ANGLES
from scoring.ergonomics import steps_on_attempt
from scoring.inputs import ErgonomicsError
from takes import files as takefiles
from takes.tasks import ergonomic_steps, folder_report
from takes.views import latest_comparison
from workcards.service import card_content, card_view, published_version

logger = logging.getLogger(__name__)

CACHE_SIZE = 8          # reports kept (a 10 min take's report is a few MB)
MAX_MOMENTS = 6         # worst moments in the printable report
NOT_PROCESSED = "this take is not processed yet: its 3D skeleton is not available"


class NotProcessed(ServiceError):
    """The take has no 3D skeleton yet, or none that can be scored (the pages answer 409)."""


# --------------------------------------------------------------------------- which steps apply
def _attempt_steps(take: Take, folder: Path) -> list[dict]:
    """The steps of the card version an attempt followed, on the attempt's timeline ([] before
    its comparison, or when the comparison did not align it)."""
    version = published_version(take.work_card, take.work_card_version) if take.work_card_version else None
    comparison = latest_comparison(take.id)
    if version is None or comparison is None:
        return []
    steps = ergonomic_steps(version.snapshot.get("steps"))
    details = takefiles.read_comparison(folder)
    if not steps or details.get("reference_take_id") != comparison.reference_id:
        return []
    try:
        moved = steps_on_attempt(steps, details.get("alignment") or [])
    except ErgonomicsError as exc:
        logger.warning("take %s: its steps cannot be moved onto it: %s", take.id, exc)
        return []
    return [step.model_dump(exclude={"position", "instructions"}) for step in moved]


def steps_for_take(user: User, take: Take, folder: Path) -> list[dict]:
    """The steps (with their ergonomic inputs, flat as :func:`scoring.inputs.parse_steps` reads
    them) that apply to ``take`` as ``user`` sees it; ``folder`` is the take's folder."""
    card = take.work_card
    if card is None:
        return []
    if take.kind == "attempt":
        return _attempt_steps(take, folder)
    try:
        content = card_content(user, card)
    except ServiceError:
        return []
    if content.get("reference_take") != take.id:  # an earlier reference: the steps are not on its timeline
        return []
    return ergonomic_steps(content.get("steps"))


# --------------------------------------------------------------------------- the report, cached
@lru_cache(maxsize=CACHE_SIZE)
def _cached_report(take_id: str, processed: str, mtime_ns: int, steps_key: str) -> dict:
    """The report of one take's ``pose3d.csv`` (as modified at ``mtime_ns``) with the steps of
    ``steps_key`` (their JSON). ``take_id`` and ``mtime_ns`` are part of the cache key."""
    report = folder_report(Path(processed), json.loads(steps_key))
    report["unreliable"] = list(UNRELIABLE_ANGLES)
    logger.info("take %s: ergonomics computed (%d frames, %d steps)", take_id, report["frames"], len(report["steps"]))
    return report


def cache_info():
    """The LRU's statistics (hits, misses, currsize), for tests and logs."""
    return _cached_report.cache_info()


def _take_folder(takes_dir: Path | str, take: Take) -> Path:
    try:
        return takefiles.take_folder(takes_dir, take.id)
    except takefiles.TakeFileMissing:
        raise NotProcessed(NOT_PROCESSED) from None


def take_report(user: User, take: Take, takes_dir: Path | str) -> dict:
    """The ergonomic report (:func:`scoring.ergonomics.ergonomics_report`, plus ``unreliable``:
    the angle names to show with a warning) of ``take`` with the steps that apply now.

    ``user`` must see the take (the caller checked). Raises :class:`NotProcessed` when the take
    has no ``pose3d.csv`` or one that cannot be scored. The dict is shared: do not modify it.
    """
    folder = _take_folder(takes_dir, take)
    processed = folder / PROCESSED_DIR
    csv_path = processed / "pose3d.csv"
    try:
        mtime_ns = csv_path.stat().st_mtime_ns
    except OSError:
        raise NotProcessed(NOT_PROCESSED) from None
    steps = steps_for_take(user, take, folder)
    try:
        return _cached_report(take.id, str(processed), mtime_ns, json.dumps(steps, sort_keys=True))
    except (ExportError, ErgonomicsError) as exc:
        logger.warning("take %s: no ergonomics: %s", take.id, exc)
        raise NotProcessed(f"the ergonomics of this take cannot be computed: {exc}") from None


# --------------------------------------------------------------------------- the printable report
def _forward(frame: np.ndarray) -> np.ndarray | None:
    """The person's horizontal forward direction (unit, Z up) from the hips, or None."""
    left = frame[INDEX["left_hip"]] - frame[INDEX["right_hip"]]
    forward = np.array([left[1], -left[0], 0.0])  # left x up, with up = +Z
    norm = float(np.linalg.norm(forward))
    return forward / norm if math.isfinite(norm) and norm > 1e-6 else None


def side_view(frame: np.ndarray, margin_cm: float = 15.0) -> dict | None:
    """The skeleton ``frame`` (33, 3) m seen from the person's right side, for an SVG in cm:
    ``{"viewbox": "x y w h", "near": [[x1, y1, x2, y2]...], "far": [...], "head": [x, y, r],
    "floor": y}``. The person faces right; y grows downwards (SVG); ``near`` are the bones of the
    right side and the middle, ``far`` those of the left side (drawn fainter). None without hips."""
    frame = np.asarray(frame, dtype=float)
    forward = _forward(frame)
    if forward is None:
        return None
    origin = (frame[INDEX["left_hip"]] + frame[INDEX["right_hip"]]) / 2
    x = (frame - origin) @ forward * 100.0
    y = -frame[:, 2] * 100.0
    near, far = [], []
    for a, b in EDGES:
        if a <= 10 or not np.isfinite([x[a], y[a], x[b], y[b]]).all():
            continue  # the face is drawn as one circle
        line = [round(float(v), 1) for v in (x[a], y[a], x[b], y[b])]
        (far if a % 2 == 1 and b % 2 == 1 else near).append(line)  # odd indices are the left side
    head = [INDEX[name] for name in ("nose", "left_ear", "right_ear") if np.isfinite(frame[INDEX[name]]).all()]
    shown = np.isfinite(x) & np.isfinite(y)
    if not near or not shown.any():
        return None
    x0, x1 = float(x[shown].min()) - margin_cm, float(x[shown].max()) + margin_cm
    y0, y1 = float(y[shown].min()) - margin_cm, float(y[shown].max()) + margin_cm
    out = {"viewbox": f"{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}", "near": near, "far": far,
           "floor": round(float(y[shown].max()), 1), "head": None}
    if head:
        out["head"] = [round(float(x[head].mean()), 1), round(float(y[head].mean()), 1), 11.0]
    return out


def _moment_frames(report: dict) -> list[tuple[int, dict | None]]:
    """(frame, step summary or None) of the worst moments: the worst REBA of each step, else of the
    take, and the worst RULA of the take; at most :data:`MAX_MOMENTS`, the highest REBA first."""
    fps, frames = report["fps"], report["frames"]
    found: dict[int, dict | None] = {}
    for step in report["steps"]:
        if step["reba"]["max_at_s"] is not None:
            found.setdefault(min(frames - 1, round(step["reba"]["max_at_s"] * fps)), step)
    for method in ("reba", "rula"):
        at = report["whole"][method]["max_at_s"]
        if at is not None:
            found.setdefault(min(frames - 1, round(at * fps)), None)
    reba = report["series"]["reba_score"]
    ranked = sorted(found.items(), key=lambda item: -(reba[item[0]] or 0))[:MAX_MOMENTS]
    return sorted(ranked)


def _step_at(report: dict, time_s: float) -> dict | None:
    return next((s for s in report["steps"] if s["start_s"] <= time_s <= s["end_s"]), None)


def worst_moments(report: dict, points: np.ndarray) -> list[dict]:
    """The worst moments of ``report`` with what the printable report shows of each: ``frame``,
    ``time_s``, ``step`` (number and name, or None), RULA and REBA with their levels, the main
    angles (deg) and ``view`` (:func:`side_view`). ``points`` (F, 33, 3) m is the take's skeleton."""
    series, out = report["series"], []
    for frame, step in _moment_frames(report):
        time_s = series["time"][frame]
        step = step or _step_at(report, time_s)
        angles = {name: values[frame] for name, values in series["angles"].items()}
        out.append({"frame": frame, "time_s": time_s,
                    "step": {"number": step["number"], "name": step["name"]} if step else None,
                    "rula": series["rula_score"][frame], "rula_level": series["rula_action_level"][frame],
                    "reba": series["reba_score"][frame], "reba_level": series["reba_risk_level"][frame],
                    "angles": angles, "view": side_view(points[frame]) if frame < len(points) else None})
    return out


def card_report(user: User, card: WorkCard, takes_dir: Path | str) -> dict:
    """What the printable ergonomic report of ``card`` shows, as ``user`` sees the card: ``card``
    (:func:`workcards.service.card_view`), ``take_id`` (its reference, or None), ``report``
    (:func:`take_report`, or None) with ``moments`` (:func:`worst_moments`), and ``message``
    (why there is no report) or None."""
    view = card_view(user, card)
    out = {"card": view, "take_id": view.get("reference_take_id"), "report": None, "moments": [], "message": None}
    take = db.session.get(Take, out["take_id"]) if out["take_id"] else None
    if take is None:
        out["message"] = "no reference"
        return out
    try:
        out["report"] = take_report(user, take, takes_dir)
        points, _ = read_pose3d_csv(Path(takes_dir) / take.id / PROCESSED_DIR / "pose3d.csv")
    except (NotProcessed, ExportError):
        out["report"], out["message"] = None, "not processed"
        return out
    out["moments"] = worst_moments(out["report"], points)
    return out
