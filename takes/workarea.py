"""The work area of the calibration in force: the floor rectangle where the worker stands.

It is kept in the calibration's ``[metadata]`` (``work_area = [x0, y0, x1, y1]``, metres in the
calibration's world frame, :func:`calibration.store.save_work_area`), because it means nothing
in another calibration's world frame: activating another set brings that set's work area (or
its default), and a take keeps the work area of the calibration it was recorded with (its copy
of ``calibration.toml``). Without one saved, the default is the middle of the calibrated volume
(:func:`reconstruction.interest.default_work_area`). The live view reads it from the active
calibration at once; processing reads it from the take's calibration.
"""
from __future__ import annotations

import logging
from pathlib import Path

from calibration import store
from calibration.io import CalibrationFileError
from common.errors import ServiceError
from live.wizard import rig_summary
from reconstruction.interest import PeopleError, WorkArea, default_work_area, saved_work_area

logger = logging.getLogger(__name__)


class WorkAreaError(ServiceError):
    """A work area that cannot be set (bad rectangle, no calibration in force); the message says why."""


def work_area_state(root: Path, active_path: Path, board) -> dict:
    """What the Calibration page shows: ``work_area`` in force ([x0, y0, x1, y1] m or None),
    ``source`` (``saved``, ``default`` or ``none``), the ``default`` one, the active ``set_id``
    and the active ``rig`` to draw it on (None without a calibration in force)."""
    group = store.read_active(active_path)
    if group is None:
        return {"work_area": None, "source": "none", "default": None, "set_id": None, "rig": None}
    try:
        default = default_work_area(group).as_list()
    except PeopleError:
        default = None
    saved = saved_work_area(group.metadata)
    area = saved.as_list() if saved is not None else default
    return {"work_area": area, "source": "saved" if saved is not None else ("default" if default else "none"),
            "default": default, "set_id": store.active_id(root), "rig": rig_summary(group, None, board)}


def set_work_area(root: Path, active_path: Path, board, corners: list[float] | None) -> dict:
    """Keep ``corners`` (x0, y0, x1, y1 m; None: back to the default) as the work area of the
    calibration in force; returns :func:`work_area_state`. Raises :class:`WorkAreaError` for a
    rectangle :meth:`reconstruction.interest.WorkArea.checked` refuses or without a calibration."""
    try:
        area = WorkArea.checked(corners).as_list() if corners is not None else None
        store.save_work_area(Path(root), Path(active_path), area)
    except (PeopleError, CalibrationFileError) as exc:
        raise WorkAreaError(str(exc)) from None
    except OSError as exc:
        raise WorkAreaError(f"the calibration in force cannot be written ({exc.strerror or exc})") from None
    return work_area_state(root, active_path, board)
