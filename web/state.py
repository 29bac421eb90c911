"""The web layer's one typed way to the running system (``app.extensions["vsion"]``) and to the
open Socket.IO links (``app.extensions["vsion.links"]``)."""
from __future__ import annotations

from flask import current_app

from system import System
from web.sockets import SocketRegistry

EXTENSION = "vsion"
LINKS = "vsion.links"


def system() -> System:
    """The running system of the current app."""
    return current_app.extensions[EXTENSION]


def links() -> SocketRegistry:
    """The open Socket.IO links of the current app."""
    return current_app.extensions[LINKS]
