"""Who drives the calibration wizard: one technician at a time, the others watch.

The wizard has one state on the server (its step, its views, its moments); two technicians
clicking in two browsers would drive the same state. :class:`WizardDriver` keeps who holds it:

- the first allowed user who acts takes it when nobody holds it (``acquire``);
- the others see the driver's name and watch read-only (every live event still reaches them);
- the driver hands it over to another user present on the calibration page, or releases it;
- it is released by itself after ``idle_s`` seconds without an action of the driver or a
  capture of the wizard (a technician showing the board to the cameras is busy, not idle).

Who *may* drive is the policy's decision (:func:`accounts.policy.wizard_drive_refusal`), given
to :meth:`acquire` as a function; this class only keeps the holder, the presence of the
clients on the page and the clock. All methods are thread-safe.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class DriverRefused(ValueError):
    """The wizard is driven by someone else (or the hand-over is not possible); the message says so."""


@dataclass(frozen=True)
class Person:
    """A user as the wizard knows them: database id and user name."""

    id: int
    name: str


class WizardDriver:
    """The holder of the wizard, the users present on its page, and the idle clock."""

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic):
        self.idle_s = float(idle_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._holder: Person | None = None
        self._last = 0.0
        self._present: dict[str, Person] = {}  # Socket.IO client id -> user

    # ------------------------------------------------------------------ reading
    def holder(self) -> Person | None:
        """The driver now (None when free or idle for too long)."""
        with self._lock:
            return self._current()

    def _current(self) -> Person | None:
        if self._holder is not None and self._clock() - self._last > self.idle_s:
            logger.info("calibration: %s left the wizard idle for %.0f s: released", self._holder.name, self.idle_s)
            self._holder = None
        return self._holder

    def state(self) -> dict:
        """``{"driver": name | None, "driver_id", "idle_s", "expires_in_s", "present": [names]}``."""
        with self._lock:
            holder = self._current()
            left = max(0.0, self.idle_s - (self._clock() - self._last)) if holder else None
            present = sorted({p.name for p in self._present.values()})
            return {"driver": holder.name if holder else None, "driver_id": holder.id if holder else None,
                    "idle_s": self.idle_s, "expires_in_s": None if left is None else round(left, 1),
                    "present": present}

    # ------------------------------------------------------------------ the holder
    def acquire(self, who: Person, refusal: Callable[[Person | None], str | None]) -> bool:
        """Let ``who`` act: ``refusal(holder)`` (the policy) says why not, then :class:`DriverRefused`
        is raised; else ``who`` holds the wizard (taken when free) and the idle clock starts again.
        Returns True when ``who`` just took it."""
        with self._lock:
            holder = self._current()
            reason = refusal(holder)
            if reason:
                raise DriverRefused(reason)
            taken = holder is None or holder.id != who.id
            self._holder, self._last = who, self._clock()
        if taken:
            logger.info("calibration: %s drives the wizard", who.name)
        return taken

    def touch(self) -> None:
        """The wizard captured something: its driver is busy, not idle."""
        with self._lock:
            if self._current() is not None:
                self._last = self._clock()

    def release(self, who: Person) -> None:
        """``who`` lets the wizard go (nothing happens when they do not hold it)."""
        with self._lock:
            if self._holder is not None and self._holder.id == who.id:
                self._holder = None
                logger.info("calibration: %s released the wizard", who.name)

    def hand_over(self, who: Person, to_name: str) -> Person:
        """The driver ``who`` gives the wizard to ``to_name``, a user present on the page (and
        allowed to calibrate: only those join it). Raises :class:`DriverRefused`."""
        with self._lock:
            holder = self._current()
            if holder is None or holder.id != who.id:
                raise DriverRefused("only the technician driving the wizard can hand it over")
            target = next((p for p in self._present.values() if p.name == to_name), None)
            if target is None:
                raise DriverRefused(f"{to_name} is not on the calibration page: they must open it first")
            self._holder, self._last = target, self._clock()
        logger.info("calibration: %s handed the wizard over to %s", who.name, target.name)
        return target

    def expired(self) -> bool:
        """True once when the holder's idle time has just run out (the caller tells the pages)."""
        with self._lock:
            before = self._holder
            return before is not None and self._current() is None

    # ------------------------------------------------------------------ presence
    def join(self, client: str, who: Person) -> None:
        with self._lock:
            self._present[client] = who

    def leave(self, client: str) -> bool:
        """Client ``client`` left the page; True when it was there."""
        with self._lock:
            return self._present.pop(client, None) is not None
