"""The running system: what a VSION server owns besides Flask, built in one place and started
and stopped in one place (its lifespan).

:class:`System` holds the camera group, the calibration wizard, live pose, the job runner and the
take lifecycle, typed. ``create_app`` builds it (nothing starts); ``serve`` and ``demo`` call
:meth:`System.start` and :meth:`System.stop`.
"""
from system.build import Notifier, System, build_system

__all__ = ["Notifier", "System", "build_system"]
