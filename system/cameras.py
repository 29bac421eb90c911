"""The Cameras page's use cases on the running system: list, add, change, remove, reorder, test.

Each takes the :class:`~system.build.System` and a validated payload (:mod:`config.schemas`),
works out the new camera list (:mod:`config.cameras`) and applies it with
:meth:`System.update_cameras`. Refusals: :class:`config.cameras.CameraChangeError` (bad input,
nothing changes), :class:`system.build.CamerasUnavailable`, :class:`capture.group.RecordingError`
(a take records), :class:`config.schema.ConfigError` (config.yaml cannot be written).
"""
from __future__ import annotations

import logging
from pathlib import Path

from calibration.io import CalibrationFileError, load_toml
from capture.probe import probe
from config import cameras as camera_list
from config.schemas import CameraForm, CameraOrder, CameraTest
from system.build import System

logger = logging.getLogger(__name__)


def _base(system: System) -> Path:
    """The folder relative file paths are read from: the configuration's."""
    return system.config_path.resolve().parent if system.config_path else Path.cwd()


def listing(system: System) -> dict:
    """Every camera as the page shows it (never a password), with its health, whether changes are
    possible now, and the calibration health report (or None)."""
    health = {item["name"]: item for item in system.processor.health()}
    cameras = [{**camera_list.camera_view(camera, i), "health": health.get(camera.name)}
               for i, camera in enumerate(system.settings.cameras)]
    return {"cameras": cameras, "max_cameras": camera_list.MAX_CAMERAS, "recording": system.processor.recording,
            "editable": system.config_path is not None, "calibration_health": system.calibration_health()}


def add(system: System, form: CameraForm) -> dict:
    base = _base(system)
    return system.update_cameras(lambda current: (camera_list.add_camera(current, form, base), None))


def change(system: System, name: str, form: CameraForm) -> dict:
    base = _base(system)
    return system.update_cameras(lambda current: camera_list.change_camera(current, name, form, base))


def remove(system: System, name: str) -> dict:
    return system.update_cameras(lambda current: (camera_list.remove_camera(current, name), None))


def reorder(system: System, order: CameraOrder) -> dict:
    return system.update_cameras(lambda current: (camera_list.reorder_cameras(current, order.names), None))


def calibrated_size(system: System, name: str) -> tuple[int, int] | None:
    """Camera ``name``'s picture size (px) in the calibration in force, or None."""
    path = system.settings.calibration_path
    if not path.is_file():
        return None
    try:
        group = load_toml(path)
    except (CalibrationFileError, OSError, ValueError) as exc:
        logger.warning("camera test: the calibration %s cannot be read (%s)", path, exc)
        return None
    return tuple(group[name].size) if name in group.names else None


def try_source(system: System, form: CameraTest) -> dict:
    """Try the form's source (see :func:`capture.probe.probe`); nothing changes. The picture size
    is checked against the calibration of ``form.camera``."""
    camera = camera_list.probe_target(list(system.settings.cameras), form, _base(system))
    expected = calibrated_size(system, form.camera) if form.camera else None
    return probe(camera, system.settings.camera_tuning, expected)
