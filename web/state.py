"""The web layer's one typed way to the running system (``app.extensions["vsion"]``)."""
from __future__ import annotations

from flask import current_app

from system import System

EXTENSION = "vsion"


def system() -> System:
    """The running system of the current app."""
    return current_app.extensions[EXTENSION]
