"""The delivery build (``make dist``) started early, in the background, when the delivery tests
are to run: the compiler then uses the cores that the first end-to-end tests leave idle while
they wait for videos, browsers and recordings, instead of running alone in front of
tests/e2e/test_dist.py. It runs at the lowest priority (nice 19), so the servers under test keep
theirs. The ``dist`` fixture waits for it, then runs ``make dist`` again (nothing to do when it
is up to date, and the build's errors when it failed)."""
from __future__ import annotations

import os
import subprocess
import time

from tests.helpers.paths import ROOT

LOG = ROOT / "build" / "dist-background.log"
_build: subprocess.Popen | None = None


def start() -> None:
    """Start ``make dist`` in the background (once)."""
    global _build
    if _build is not None:
        return
    LOG.parent.mkdir(exist_ok=True)
    with open(LOG, "wb") as log:
        _build = subprocess.Popen(["make", "dist"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, preexec_fn=lambda: os.nice(19))


def wait(timeout: float) -> float:
    """Wait for the background build, if one was started; the seconds waited."""
    t0 = time.monotonic()
    if _build is not None:
        try:
            _build.wait(timeout)
        except subprocess.TimeoutExpired:
            stop()
    return time.monotonic() - t0


def stop() -> None:
    """End the background build (the session is over, or it took too long)."""
    if _build is not None and _build.poll() is None:
        _build.kill()
        _build.wait()
