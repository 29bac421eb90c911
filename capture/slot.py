"""The latest-frame slot: each camera thread puts its newest frame, readers take the newest one.

Preview, live pose and the calibration wizard read a camera through its slot; older frames are
simply replaced (a reader that is slow skips frames, it never makes the camera wait).
"""
from __future__ import annotations

import collections
import threading

from capture.camera import Frame


class LatestFrame:
    """A one-frame slot: the camera thread replaces, readers wait for something newer."""

    def __init__(self, history: int = 4):
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._recent: collections.deque[Frame] = collections.deque(maxlen=history)
        self._closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self._recent.append(frame)
            self._cond.notify_all()

    def recent(self) -> list[Frame]:
        """The last few frames, oldest first (for picking the one nearest a given time)."""
        with self._cond:
            return list(self._recent)

    def get(self) -> tuple[int, Frame | None]:
        with self._cond:
            return self._seq, self._frame

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, Frame | None]:
        """Return (seq, frame) once a frame newer than ``seq`` is in, or the current one after
        ``timeout`` s, or at once when the slot is closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq != seq or self._closed, timeout)
            return self._seq, self._frame

    def close(self) -> None:
        """No frame will come any more (its camera was stopped): readers stop waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
