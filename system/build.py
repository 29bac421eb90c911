"""Build the running system from the settings, and its lifespan (start, stop)."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from calibration.store import active_id
from capture.group import VideoProcessor
from common.errors import ServiceError
from config.edit import write_board, write_cameras
from config.masking import register_urls, safe_url
from config.schema import BoardConfig, CameraConfig, ConfigError, Settings
from jobs.base import JobRunner
from jobs.local import LocalJobRunner
from live.health import CalibrationHealth
from live.pose import LivePose
from live.wizard import CalibrationWizard
from takes.calibrations import sync_calibration_sets
from takes.lifecycle import TakeEvents, TakeLifecycle
from takes.tasks import TASKS

logger = logging.getLogger(__name__)

STATUS_PERIOD_S = 1.0  # how often every signed-in page hears the cameras' status


class Notifier(TakeEvents, Protocol):
    """Everything the running system tells the pages (the web layer implements it, and decides
    who hears each event)."""

    def camera_status(self, payload: dict) -> None:
        """The cameras' health, every second."""

    def pose(self, event: str, payload: dict) -> None:
        """Live pose results, to the clients that asked for them."""

    def calibration(self, event: str, payload: dict) -> None:
        """The calibration wizard's events, to the clients in the wizard."""


def job_runner(settings: Settings, listener) -> JobRunner:
    """The Celery runner of the processing cluster when ``jobs.broker_url`` is set, else jobs in
    this process."""
    if not settings.jobs.broker_url:
        return LocalJobRunner(listener, TASKS)
    try:
        from jobs.celery_runner import CeleryJobRunner
    except ImportError:  # the delivered executable leaves Celery out
        raise ConfigError("jobs.broker_url: this VSION build has no Celery; process takes in this machine "
                          "(remove jobs.broker_url) or run VSION from source with Celery installed") from None
    logger.info("processing jobs go to the Celery cluster at %s", safe_url(settings.jobs.broker_url))
    return CeleryJobRunner(settings.jobs.broker_url, settings.jobs.backend_url, listener=listener, tasks=TASKS)


class CamerasUnavailable(ServiceError):
    """The cameras cannot be changed on this server (it has no configuration file to keep them in)."""


@dataclass(eq=False)
class System:
    """The parts of a running VSION and their lifespan. ``session`` opens a database session
    usable from any thread (the Flask app's context). ``config_path``: the ``config.yaml`` the
    settings came from (None: built from settings alone, and then the cameras cannot change).

    :meth:`calibration_health`: the latest calibration health report, or None (no check yet):
    ``{"source": "board" | "skeleton", "checked_at": ISO time, "cameras": [{"name", "error_px",
    "baseline_px", "limit_px", "points", "moved"}]}`` (px), as
    ``calibration.health.HealthReport.to_dict`` makes it; the Cameras page warns for every
    camera with ``moved``. ``health`` makes the checks (:mod:`live.health`) and gives it.
    """

    settings: Settings
    processor: VideoProcessor
    wizard: CalibrationWizard
    live_pose: LivePose
    jobs: JobRunner
    takes: TakeLifecycle
    notifier: Notifier
    session: Callable[[], contextlib.AbstractContextManager]
    config_path: Path | None = None
    health: CalibrationHealth | None = None
    _status_thread: threading.Thread | None = field(default=None, repr=False)
    _cameras_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    started: bool = False

    def calibration_health(self) -> dict | None:
        """The latest calibration health report (see the class), or None."""
        return self.health.latest() if self.health is not None else None

    def camera_status(self) -> dict:
        """The ``camera status`` event's payload (``health``: see :attr:`calibration_health`)."""
        return {"cameras": self.processor.health(), "recording": self.processor.recording,
                "health": self.calibration_health()}

    def update_cameras(self, plan: Callable[[list[CameraConfig]], tuple[list[CameraConfig], dict | None]]) -> dict:
        """Make the list ``plan(current cameras)`` returns (in its order, with the origins of renamed
        cameras: new name -> old) VSION's cameras, without a restart; the list is worked out while
        no other change can run, so two users' changes never undo each other. Written to
        ``config.yaml`` first (atomically, comments kept, passwords encrypted), then applied to the
        camera group (unchanged cameras keep running), live pose and the calibration wizard.
        ``plan`` may raise to refuse. Raises :class:`CamerasUnavailable`,
        :class:`~capture.group.RecordingError` while a take records, or
        :class:`~config.schema.ConfigError`; then nothing changed. Returns the names kept, added and
        removed. Thread-safe."""
        path = self.config_path
        if path is None:
            raise CamerasUnavailable("this server was started without a configuration file: change the cameras "
                                     "in config.yaml and restart it")
        with self._cameras_lock:
            before = {camera.name: camera for camera in self.settings.cameras}
            cameras, origins = plan(list(self.settings.cameras))
            change = self.processor.reconfigure(cameras, lambda: write_cameras(path, cameras, origins))
            self.settings = self.settings.model_copy(update={"cameras": list(cameras)})
            register_urls([url for camera in cameras for url in (camera.url, camera.preview_url)])
            names = [camera.name for camera in cameras]
            changed = frozenset(c.name for c in cameras if c.name in before and before[c.name] != c)
            self.live_pose.set_cameras(names)
            self.wizard.set_cameras(names, changed)
        return change

    def set_board(self, board: BoardConfig, made) -> dict:
        """Make ``board`` (``made``: its calibration board object) the calibration board without a
        restart: ``config.yaml`` first (atomically, comments kept), then the wizard. Refused
        (:class:`live.wizard.WizardError`) while the wizard's session holds work made with the
        board in use, :class:`CamerasUnavailable` without a configuration file, or
        :class:`~config.schema.ConfigError`; then nothing changed. Returns the wizard's state."""
        path = self.config_path
        if path is None:
            raise CamerasUnavailable("this server was started without a configuration file: change the board in "
                                     "config.yaml and restart it")
        with self._cameras_lock:
            state = self.wizard.set_board(made, lambda: write_board(path, board))
            self.settings = self.settings.model_copy(update={"board": board})
        return state

    def sync_calibrations(self) -> None:
        """Mirror the saved calibration sets (and which one is active) in the database."""
        root = self.wizard.sets_root
        try:
            with self.session():
                sync_calibration_sets(root, active_id(root))
        except Exception:  # noqa: BLE001 - the files stay the source: a failed mirror is retried next time
            logger.exception("calibration sets could not be mirrored in the database")

    def start(self) -> System:
        """Start the cameras, the wizard and live pose, take up interrupted work, and broadcast
        the cameras' status every second."""
        self.processor.start()
        self.wizard.start()
        self.live_pose.start()
        self.takes.resume()
        self._status_thread = threading.Thread(target=self._status_loop, name="camera-status", daemon=True)
        self._status_thread.start()
        self.started = True
        return self

    def _status_loop(self) -> None:
        while not self.processor.stop_event.wait(STATUS_PERIOD_S):
            try:
                self.notifier.camera_status(self.camera_status())
            except Exception:  # noqa: BLE001 - one failed broadcast must not end them all
                logger.exception("camera status broadcast failed")

    def stop(self) -> None:
        """Finish a take in progress (registered, processed at the next start), stop every camera
        and join every thread."""
        self.live_pose.stop()
        self.takes.shutdown()
        self.jobs.shutdown()
        self.wizard.stop()
        self.processor.stop()
        if self._status_thread is not None:
            self._status_thread.join(5)
        self.started = False


def build_system(settings: Settings, notifier: Notifier, session: Callable[[], contextlib.AbstractContextManager],
                 config_path: Path | None = None) -> System:
    """Every part of a running VSION for ``settings`` (read from ``config_path``, if any), built
    and wired; nothing starts yet."""
    processor = VideoProcessor(settings)
    wizard = CalibrationWizard(processor, settings, notifier.calibration)
    health = CalibrationHealth()
    live_pose = LivePose(processor, settings, health.pose_tap(notifier.pose))
    jobs = job_runner(settings, None)
    takes = TakeLifecycle(processor, jobs, session, notifier, places=live_pose.chosen_places)
    jobs.listener = takes.job_changed
    return System(settings, processor, wizard, live_pose, jobs, takes, notifier, session, config_path,
                  health=health)
