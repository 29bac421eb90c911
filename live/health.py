"""Calibration health on the running system: does the calibration in force still fit what the
cameras see now? (The measure itself is :mod:`calibration.health`.)

Two sources:

- **a board shown now**: the board found by every camera at :data:`PARTS` instants
  :data:`BOARD_GAP_S` apart (the wizard's full-resolution detections);
- **the live skeleton**: the 2D landmarks live pose sends (``pose3d`` events, tapped on their way
  to the pages by :meth:`CalibrationHealth.pose_tap`) over a few seconds, cut in :data:`PARTS`
  slices.

A camera is reported moved only when every part flags it (:func:`calibration.health.sustained`:
a board waved past, or a person hidden for a moment, raises no alarm); its figures come from all
the parts together. The latest report is what :meth:`system.build.System.calibration_health`
gives the Cameras page. Thread-safe.
"""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import numpy as np

from calibration.camera import CameraGroup
from calibration.detect import Detection
from calibration.health import HealthReport, board_health, skeleton_health, sustained
from common.errors import ServiceError

logger = logging.getLogger(__name__)

PARTS = 3  # checks a camera must fail in a row
BOARD_GAP_S = 0.5
LANDMARKS = 33


class HealthUnavailable(ServiceError):
    """The check cannot be made now; the message says what to do, ``code`` what is missing
    (``no_calibration``, ``no_board``, ``no_skeleton``) for a page to say it in its language."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code, self.params = code, {}


def _report(whole: HealthReport, parts: list[HealthReport], extra: dict) -> dict:
    """The report the pages show: ``whole``'s figures, ``moved`` only for the cameras every part flags."""
    moved = sustained(parts, len(parts)) if parts else []
    cameras = [{**c.to_dict(), "moved": c.name in moved} for c in whole.cameras]
    return {"source": whole.source, "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cameras": cameras, "moved": moved, "parts": len(parts), **extra}


def _sized(group: CameraGroup, shows: list[dict[str, Detection]]) -> tuple[list[dict], list[str]]:
    """The shows without the views whose picture size differs from the calibration's (their pixels
    are not the calibration's), and the names of those cameras."""
    odd = sorted({n for show in shows for n, d in show.items() if tuple(d.image_size) != tuple(group[n].size)})
    return [{n: d for n, d in show.items() if n not in odd} for show in shows], odd


class CalibrationHealth:
    """The latest health report, and the live skeleton collected while a check needs it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest: dict | None = None
        self._samples: list[tuple[list[str], list]] | None = None
        self.names: list[str] = []  # the cameras live pose indexes (set by the system)

    def latest(self) -> dict | None:
        """The last report (``System.calibration_health``), or None before the first check."""
        with self._lock:
            return self._latest

    def _keep(self, report: dict) -> dict:
        with self._lock:
            self._latest = report
        logger.info("calibration health (%s): %s", report["source"],
                    ", ".join(f"{c['name']} {c['error_px']} px / {c['limit_px']}" for c in report["cameras"]))
        return report

    # ------------------------------------------------------------------ board
    def from_board(self, group: CameraGroup, shows: list[dict[str, Detection]], board, calibration_id=None) -> dict:
        """Judge ``group`` (the calibration in force, cameras of the rig) from board ``shows``
        (per instant, camera name -> detection, px of the full-resolution pictures)."""
        shows = [{n: d for n, d in show.items() if n in group.names} for show in shows]
        shows, odd = _sized(group, shows)
        if sum(len(show) >= 2 for show in shows) == 0:
            raise HealthUnavailable("no two cameras saw the board at once: hold it still where two or more cameras "
                                    "see it whole, then check again", "no_board")
        parts = [board_health(group, [show], board) for show in shows]
        whole = board_health(group, shows, board)
        return self._keep(_report(whole, parts, {"calibration": calibration_id, "other_size": odd}))

    # ------------------------------------------------------------------ skeleton
    def pose_tap(self, emit):
        """``emit(event, payload)`` for live pose that also keeps each frame set's 2D landmarks
        while a skeleton check collects them."""
        def tapped(event: str, payload: dict) -> None:
            with self._lock:
                if self._samples is not None and event == "pose3d" and isinstance(payload, dict):
                    self._samples.append((list(self.names), payload.get("cameras") or []))
            emit(event, payload)

        return tapped

    def collecting(self, on: bool) -> list[tuple[list[str], list]]:
        """Start (``on``) or end collecting live pose frame sets; ending returns them."""
        with self._lock:
            samples, self._samples = self._samples or [], ([] if on else None)
        return samples

    def collecting_count(self) -> int:
        """Frame sets collected so far (0 when not collecting)."""
        with self._lock:
            return len(self._samples or [])

    def from_skeleton(self, group: CameraGroup, samples: list[tuple[list[str], list]], calibration_id=None) -> dict:
        """Judge ``group`` from live pose frame sets (as :meth:`collecting` returns them): landmarks
        normalised to each picture, placed on the calibration's picture sizes (px)."""
        points, scores = _landmarks(group, samples)
        if points.shape[1] < PARTS or (np.nanmax(scores, axis=(1, 2), initial=0) > 0).sum() < 2:
            raise HealthUnavailable("the live skeleton was not seen by two or more cameras: stand in the middle "
                                    "of the area, in view of the cameras, then check again", "no_skeleton")
        cuts = np.array_split(np.arange(points.shape[1]), PARTS)
        parts = [skeleton_health(group, points[:, k], scores[:, k]) for k in cuts]
        whole = skeleton_health(group, points, scores)
        return self._keep(_report(whole, parts, {"calibration": calibration_id, "frames": int(points.shape[1])}))


def _landmarks(group: CameraGroup, samples: list[tuple[list[str], list]]) -> tuple[np.ndarray, np.ndarray]:
    """Points (C, F, 33, 2) px and scores (C, F, 33) in ``group`` order from live pose frame sets:
    each ``(camera names, [{"index", "points": 33 x [x, y, score] normalised, or None}])``."""
    C, F = len(group), len(samples)
    points = np.full((C, F, LANDMARKS, 2), np.nan)
    scores = np.zeros((C, F, LANDMARKS))
    for f, (names, cameras) in enumerate(samples):
        for entry in cameras:
            i, rows = entry.get("index"), entry.get("points")
            if not isinstance(i, int) or not 0 <= i < len(names) or names[i] not in group.names or not rows:
                continue
            data = np.asarray(rows, dtype=np.float64)
            if data.shape != (LANDMARKS, 3):
                continue
            c = group.names.index(names[i])
            points[c, f] = data[:, :2] * np.asarray(group[c].size, dtype=np.float64)
            scores[c, f] = np.nan_to_num(data[:, 2])
    return points, scores
