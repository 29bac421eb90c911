"""The camera group: every camera's thread, latest-frame slot, preview encoder and recording.

Data flows one way: each :class:`~capture.camera.CameraHandler` thread hands its frames to its
channel's sink, which

- puts the frame in the camera's :class:`~capture.slot.LatestFrame` slot (preview and live work
  read the newest frame; older ones are simply replaced),
- keeps the packets since the camera's last keyframe (the pre-roll), so a recording can begin
  at or before the start event although the cameras' keyframes are not aligned,
- offers the frame to the camera's :class:`~capture.recorder.CameraWriter` while a take records.

Threads (one owner each, all joined by :meth:`VideoProcessor.stop`): one reader per camera, one
preview encoder per camera (idle unless someone watches), one writer per camera and the take
monitor while a take records.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from capture.camera import CameraHandler, Frame
from capture.preview import PreviewChannel
from capture.recorder import CameraWriter
from capture.slot import LatestFrame
from capture.takefile import Recording, TakeMeta, free_mb, recover_interrupted
from common.takefolder import CALIBRATION_FILE, TAKES_DIR
from config.schema import CameraConfig, Settings

logger = logging.getLogger(__name__)

PREROLL_MAX_S = 10.0
MONITOR_PERIOD_S = 0.5  # how often a take checks the disk and its length, and rewrites its take.json


class RecordingError(RuntimeError):
    """A recording request that cannot be honoured; the message is shown to the user."""


@dataclasses.dataclass(eq=False)
class _Channel:
    """Everything the group keeps for one camera. ``lock`` guards ``preroll`` and ``writer``."""

    handler: CameraHandler
    slot: LatestFrame
    preview: PreviewChannel
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    preroll: list[Frame] = dataclasses.field(default_factory=list)
    writer: CameraWriter | None = None


class VideoProcessor:
    """Owns every camera of ``settings``: their threads, slots, previews and recordings.

    ``start()`` returns self. ``stop()`` finishes a take in progress, sets the stop Event, and
    joins every thread it started. All public methods are thread-safe.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self.record_event = threading.Event()  # set while a take records
        self._control = threading.Lock()  # serialises start/stop recording
        self._demand: dict[str, frozenset[int]] = {}  # who needs decoded pictures of which cameras
        self._channels = [self._channel(i, cam) for i, cam in enumerate(settings.cameras)]
        self.take: Recording | None = None
        self.last_take: dict | None = None
        self.interrupted: list[dict] = []  # take.json of the takes a killed server left, found at start
        # Called (from the take monitor's thread) with the take.json of a take VSION stopped by
        # itself, e.g. when the disk fills up; the take's stop_message says why.
        self.on_auto_stop: Callable[[dict], None] | None = None
        # Asked by the take monitor besides the disk and the length: (reason, message) to stop
        # the take now, or None (the take lifecycle's rules, e.g. its starter went away).
        self.stop_rule: Callable[[Recording], tuple[str, str] | None] | None = None
        self._monitor: threading.Thread | None = None
        self._monitor_stop = threading.Event()
        self._started = False

    def _channel(self, i: int, cam: CameraConfig) -> _Channel:
        slot = LatestFrame()
        handler = CameraHandler(i, cam, self._sink(i), self.settings.camera_tuning, self._wants_images_fn(i),
                                self.record_event.is_set)
        preview = PreviewChannel(i, cam.name, slot, self.settings.preview, lambda: handler.health().status,
                                 self.stop_event)
        return _Channel(handler, slot, preview)

    # ---- what the readers see
    @property
    def handlers(self) -> list[CameraHandler]:
        return [c.handler for c in self._channels]

    @property
    def slots(self) -> list[LatestFrame]:
        return [c.slot for c in self._channels]

    @property
    def previews(self) -> list[PreviewChannel]:
        return [c.preview for c in self._channels]

    @property
    def names(self) -> list[str]:
        return [c.handler.name for c in self._channels]

    def preview(self, index: int) -> PreviewChannel | None:
        """Camera ``index``'s preview, or None for an unknown index."""
        channels = self._channels
        return channels[index].preview if 0 <= index < len(channels) else None

    @property
    def recording(self) -> bool:
        return self.record_event.is_set()

    @property
    def takes_dir(self) -> Path:
        return self.settings.data_dir / TAKES_DIR

    # ---- lifecycle
    def start(self) -> VideoProcessor:
        self.takes_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.interrupted = recover_interrupted(self.takes_dir)
        for channel in self._channels:
            channel.handler.start()
            channel.preview.start()
        self._started = True
        logger.info("video processor started with %d camera(s)", len(self._channels))
        return self

    def stop(self) -> None:
        """Finish a take in progress, then stop and join every thread (all signalled first)."""
        with contextlib.suppress(RecordingError):
            self.stop_recording()
        with self._control:
            self._started = False  # no take can start any more
        self.stop_event.set()
        for channel in self._channels:
            channel.handler.request_stop()
        for channel in self._channels:
            channel.handler.stop()
            channel.preview.join()
        logger.info("video processor stopped")

    # ---- decoded pictures on demand
    def set_image_demand(self, owner: str, cameras: Iterable[int]) -> None:
        """Declare which cameras ``owner`` (live pose, the calibration wizard...) needs decoded
        pictures of (empty: none). H.264 cameras are decoded only while someone needs them."""
        self._demand = {**self._demand, owner: frozenset(cameras)}  # replaced whole: readers never lock

    def _wants_images_fn(self, i: int) -> Callable[[], bool]:
        def wants() -> bool:
            channels = self._channels
            watched = i < len(channels) and channels[i].preview.viewers > 0
            return watched or any(i in cams for cams in self._demand.values())

        return wants

    # ---- camera threads
    def _sink(self, i: int) -> Callable[[Frame], None]:
        max_preroll, generation = None, None

        def on_frame(frame: Frame) -> None:
            nonlocal max_preroll, generation
            channel = self._channels[i]
            channel.slot.put(frame)
            light = dataclasses.replace(frame, image=None) if frame.packet is not None else frame
            with channel.lock:
                preroll = channel.preroll
                if frame.keyframe or frame.generation != generation:  # nothing from an old connection
                    preroll.clear()
                    generation = frame.generation
                preroll.append(light)
                if max_preroll is None:
                    info = channel.handler.info
                    max_preroll = int(PREROLL_MAX_S * (info.fps if info else 30))
                if len(preroll) > max_preroll:
                    del preroll[0]
                writer = channel.writer
            if writer is not None:
                writer.offer(frame)

        return on_frame

    # ---- queries
    def health(self) -> list[dict]:
        out = []
        for channel in self._channels:
            item = channel.handler.health().to_dict()
            item["viewers"] = channel.preview.viewers
            out.append(item)
        return out

    def recording_state(self) -> dict:
        take = self.take
        if take is None:
            return {"recording": False, "last_take": self.last_take}
        return {"recording": True, "take_id": take.id, "started_at": take.start_wall / 1e9,
                "elapsed_s": (time.monotonic_ns() - take.start_mono) / 1e9, "cameras": [w.name for w in take.writers]}

    # ---- recording
    def _check_can_start(self) -> float:
        """Free MB on the takes' disk; raises :class:`RecordingError` when a take cannot start."""
        if self.take is not None:
            raise RecordingError(f"a take is already recording ({self.take.id}); stop it first")
        if not self._started:
            raise RecordingError("the cameras are not running")
        cfg = self.settings.recording
        free = free_mb(self.takes_dir)
        if free < cfg.min_free_mb:
            raise RecordingError(f"not enough disk space to record: {free:.0f} MB free on the takes' disk, "
                                 f"{cfg.min_free_mb:.0f} MB needed to start; delete old takes or free space")
        return free

    def _create_take(self, meta: TakeMeta, mono: int, wall: int) -> Recording:
        """The take folder with its calibration copy and first ``take.json``; nothing is left on failure."""
        take_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall / 1e9)) + "-" + secrets.token_hex(2)
        take_dir = self.takes_dir / take_id
        writers = [CameraWriter(take_dir, c.handler, self.settings.recording, mono) for c in self._channels]
        try:
            take_dir.mkdir(mode=0o700, parents=True)
            calibration = self.settings.calibration_path
            if calibration.is_file():
                shutil.copy2(calibration, take_dir / CALIBRATION_FILE)
                meta = dataclasses.replace(meta, calibration=CALIBRATION_FILE)
            take = Recording(take_dir, meta, writers, (mono, wall))
            take.save()
        except OSError as exc:
            shutil.rmtree(take_dir, ignore_errors=True)
            raise RecordingError(f"cannot create the take folder in {self.takes_dir}: {exc.strerror}") from None
        return take

    def start_recording(self, meta: TakeMeta | None = None) -> dict:
        """Start a take on every camera; returns its state. Raises RecordingError if one runs."""
        with self._control:
            free = self._check_can_start()
            mono, wall = time.monotonic_ns(), time.time_ns()
            take = self._create_take(meta or TakeMeta(), mono, wall)
            oldest = mono - int(PREROLL_MAX_S * 1e9)
            for channel, writer in zip(self._channels, take.writers):
                writer.start()
                with channel.lock:
                    for frame in channel.preroll:
                        if frame.monotonic_ns >= oldest:
                            writer.offer(frame)
                    channel.writer = writer
            self.take = take
            self.record_event.set()
            self._monitor_stop.clear()
            self._monitor = threading.Thread(target=self._watch_take, args=(take,), name="take-monitor", daemon=True)
            self._monitor.start()
            logger.info("take %s: recording %d camera(s) into %s (%.0f MB free)", take.id, len(take.writers),
                        take.dir, free)
            return self.recording_state()

    def _stop_reason(self, take: Recording) -> tuple[str, str] | None:
        """Why the monitor must stop ``take`` now (reason, message), or None."""
        cfg = self.settings.recording
        free = free_mb(take.dir)
        if free < cfg.stop_free_mb or any(w.disk_full for w in take.writers):
            return "disk_full", (f"recording stopped: the disk is almost full ({free:.1f} MB free, the limit is "
                                 f"{cfg.stop_free_mb:.1f} MB); the take is kept up to this point")
        if (time.monotonic_ns() - take.start_mono) / 1e9 >= cfg.max_take_s:
            return "max_length", (f"recording stopped: a take lasts at most {cfg.max_take_s / 60:g} min "
                                  "(recording.max_take_s); the take is kept up to this point")
        rule = self.stop_rule
        return rule(take) if rule is not None else None

    def _watch_take(self, take: Recording) -> None:
        """While ``take`` records: rewrite its take.json (so a killed server leaves it current),
        and stop it cleanly when the disk is about to fill up or a writer found it full."""
        while not self._monitor_stop.wait(MONITOR_PERIOD_S):
            try:
                why = self._stop_reason(take)
                if why is not None:
                    self.auto_stop(take.id, *why)
                    return
                if self.take is take:
                    take.save()
            except RecordingError:
                return  # stopped meanwhile
            except Exception:  # noqa: BLE001 - the monitor must not die while the take records
                logger.exception("take %s: monitor failed", take.id)

    def auto_stop(self, take_id: str, reason: str, message: str) -> dict:
        """Stop take ``take_id`` on VSION's own decision (``reason`` code, ``message`` for the
        users), then call :attr:`on_auto_stop` with its take.json. Raises RecordingError when
        that take is no longer recording."""
        take = self.take
        if take is None or take.id != take_id:
            raise RecordingError(f"take {take_id} is not recording")
        logger.error("take %s: %s", take.id, message)
        take.stop_reason, take.stop_message = reason, message
        stopped = self.stop_recording(take.id)
        callback = self.on_auto_stop
        if callback is not None:
            callback(stopped)
        return stopped

    def _finish_writers(self, take: Recording) -> None:
        cfg = self.settings.recording
        for writer in take.writers:
            writer.request_stop(take.stop_mono)
        for channel, writer in zip(self._channels, take.writers):
            writer.join(cfg.stop_grace_s + cfg.queue_seconds + 5)
            with channel.lock:
                channel.writer = None
            writer.trailing_gap(take.stop_mono)

    def stop_recording(self, take_id: str | None = None) -> dict:
        """Stop the take once every camera has a frame at or after now; returns its take.json.

        With ``take_id``, only that take may be stopped. A camera whose writer failed or did
        not finish in time makes the take ``incomplete``.
        """
        with self._control:
            take = self.take
            if take is None:
                raise RecordingError("nothing is recording")
            if take_id is not None and take_id != take.id:
                raise RecordingError(f"take {take_id} is not the one recording ({take.id})")
            take.stop_mono, take.stop_wall = time.monotonic_ns(), time.time_ns()
            self._monitor_stop.set()
            self._finish_writers(take)
            monitor = self._monitor
            if monitor is not None and monitor is not threading.current_thread():
                monitor.join(5)
            self._monitor = None
            # A writer stopped by a full disk closed its files cleanly: that take is complete.
            failed = [w.name for w in take.writers if w.alive or (w.error and not w.disk_full)]
            if failed:
                logger.error("take %s: camera(s) %s did not record to the end", take.id, ", ".join(failed))
            take.status = "incomplete" if failed else "complete"
            take.save()
            self.take = None
            self.record_event.clear()
            self.last_take = take.to_dict()
            frames = ", ".join(f"{w.name}={w.written}" for w in take.writers)
            logger.info("take %s: stopped (%s frames)", take.id, frames)
            return self.last_take
