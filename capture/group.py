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
PREROLL_KEEP_S = 0.5  # s of frames kept before the newest keyframe (see _trim)
MONITOR_PERIOD_S = 0.5  # how often a take checks the disk and its length, and rewrites its take.json


def _trim(preroll: list[Frame], before_ns: int) -> None:
    """Drop the pre-roll's frames older than its newest keyframe that arrived before ``before_ns``
    (monotonic ns): a take starts at its last keyframe at or before the start event, which a slow
    take folder creation must not have pushed out."""
    for k in range(len(preroll) - 1, 0, -1):
        if preroll[k].keyframe and preroll[k].monotonic_ns <= before_ns:
            del preroll[:k]
            return


class RecordingError(RuntimeError):
    """A recording request that cannot be honoured; the message is shown to the user."""


class _Channel:
    """Everything the group keeps for one camera; ``lock`` guards ``preroll`` and ``writer``.

    Nothing here depends on the camera's place in the list (its index may change when the
    cameras are reordered): the camera thread's sink, the demand for pictures and the preview
    are the channel's own. ``slot`` holds the pictures shown and analysed live: the sub-stream's
    when the camera has one (read by ``sub``), else the main stream's, and then ``full`` is the
    same slot. ``full`` holds the main stream's frames (their pictures only while someone asks
    for full-resolution pictures, see :meth:`VideoProcessor.full_frame`).
    """

    def __init__(self, config: CameraConfig):
        self.config, self.name = config, config.name
        self.lock = threading.Lock()
        self.preroll: list[Frame] = []
        self.writer: CameraWriter | None = None
        self.full = LatestFrame()
        self.slot = LatestFrame() if config.preview_url is not None else self.full
        self.full_wanted = 0  # callers waiting for a full-resolution picture (guarded by the group)
        self.stop_event = threading.Event()  # this camera's own: its preview and its viewers end with it
        self.handler: CameraHandler
        self.sub: CameraHandler | None = None
        self.preview: PreviewChannel
        self.started = False

    @property
    def handlers(self) -> list[CameraHandler]:
        return [self.handler] + ([self.sub] if self.sub is not None else [])

    def set_index(self, index: int) -> None:
        for handler in self.handlers:
            handler.index = index
        self.preview.index = index

    def start(self) -> None:
        for handler in self.handlers:
            handler.start()
        self.preview.start()
        self.started = True

    def request_stop(self) -> None:
        self.stop_event.set()
        for handler in self.handlers:
            handler.request_stop()
        self.preview.close()

    def join(self) -> None:
        if not self.started:  # made for a change that never ran, or a group never started
            return
        for handler in self.handlers:
            handler.stop()
        self.preview.join()


class VideoProcessor:
    """Owns every camera of ``settings``: their threads, slots, previews and recordings.

    ``start()`` returns self. ``stop()`` finishes a take in progress, sets the stop Event, and
    joins every thread it started. :meth:`reconfigure` changes the cameras while running. All
    public methods are thread-safe.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self.record_event = threading.Event()  # set while a take records
        self._control = threading.Lock()  # serialises start/stop recording and camera changes
        self._full_lock = threading.Lock()
        self._demand: dict[str, frozenset[str]] = {}  # who needs decoded pictures of which cameras (names)
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
        """A camera's channel, its threads made but not started."""
        channel = _Channel(cam)
        tuning, substream = self.settings.camera_tuning, cam.preview_url is not None
        channel.handler = CameraHandler(i, cam, self._sink(channel), tuning,
                                        self._wants_images_fn(channel, live=not substream), self.record_event.is_set)
        if substream:
            sub = CameraConfig.model_construct(name=f"{cam.name}-preview", url=cam.preview_url, preview_url=None)
            channel.sub = CameraHandler(i, sub, channel.slot.put, tuning, self._wants_images_fn(channel, live=True))
        status = channel.sub or channel.handler
        channel.preview = PreviewChannel(i, cam.name, channel.slot, self.settings.preview,
                                         lambda: status.health().status, channel.stop_event)
        return channel

    # ---- what the readers see
    @property
    def handlers(self) -> list[CameraHandler]:
        """Each camera's main-stream reader (the one takes record)."""
        return [c.handler for c in self._channels]

    @property
    def slots(self) -> list[LatestFrame]:
        """Each camera's live pictures (its sub-stream's when it has one)."""
        return [c.slot for c in self._channels]

    @property
    def previews(self) -> list[PreviewChannel]:
        return [c.preview for c in self._channels]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._channels]

    def preview(self, index: int) -> PreviewChannel | None:
        """Camera ``index``'s preview, or None for an unknown index."""
        channels = self._channels
        return channels[index].preview if 0 <= index < len(channels) else None

    def has_substream(self, index: int) -> bool:
        """Whether camera ``index``'s live pictures come from a sub-stream (not its main stream)."""
        channels = self._channels
        return 0 <= index < len(channels) and channels[index].sub is not None

    def stream_size(self, index: int) -> tuple[int, int] | None:
        """Camera ``index``'s main-stream size (width, height px) once connected, else None: the
        size takes are recorded at and calibrations made for."""
        channels = self._channels
        info = channels[index].handler.info if 0 <= index < len(channels) else None
        return (info.width, info.height) if info else None

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
        with self._control:
            for channel in self._channels:
                channel.start()
            self._started = True
        logger.info("video processor started with %d camera(s)", len(self._channels))
        return self

    def stop(self) -> None:
        """Finish a take in progress, then stop and join every thread (all signalled first)."""
        with contextlib.suppress(RecordingError):
            self.stop_recording()
        with self._control:
            self._started = False  # no take can start and no camera be added any more
            channels = self._channels
        self.stop_event.set()
        for channel in channels:
            channel.request_stop()
        for channel in channels:
            channel.join()
        logger.info("video processor stopped")

    # ---- changing the cameras while running
    def reconfigure(self, cameras: list[CameraConfig], commit: Callable[[], None] | None = None) -> dict:
        """Make ``cameras`` the group's cameras, in this order, without stopping the others.

        A camera whose configuration (name, URL, sub-stream) is unchanged keeps its threads,
        slot and preview viewers (its index may change); a changed or new one gets new threads
        (started when the group runs); a removed one is stopped and joined (its preview viewers
        end). ``commit`` runs first, once nothing can start recording: when it raises, nothing
        changes. Raises :class:`RecordingError` while a take records. Returns the names kept,
        added and removed.
        """
        with self._control:
            if self.take is not None:
                raise RecordingError(f"a take is recording ({self.take.id}): stop it before changing the cameras")
            old = {channel.config: channel for channel in self._channels}
            channels = [old.pop(cam, None) or self._channel(i, cam) for i, cam in enumerate(cameras)]
            if commit is not None:
                commit()
            kept = {id(channel) for channel in self._channels}
            for i, channel in enumerate(channels):
                channel.set_index(i)
            self._channels = channels
            self.settings = self.settings.model_copy(update={"cameras": list(cameras)})
            for channel in old.values():
                channel.request_stop()
            added = [channel for channel in channels if id(channel) not in kept]
            if self._started:
                for channel in added:
                    channel.start()
        for channel in old.values():  # outside the lock: a camera stuck in a read takes its timeout to stop
            channel.join()
        change = {"kept": [c.name for c in channels if id(c) in kept], "added": [c.name for c in added],
                  "removed": [c.name for c in old.values()]}
        logger.info("cameras changed: kept %s, added %s, removed %s", change["kept"], change["added"],
                    change["removed"])
        return change

    # ---- decoded pictures on demand
    def set_image_demand(self, owner: str, cameras: Iterable[int]) -> None:
        """Declare which cameras (indices, now) ``owner`` (live pose, the calibration wizard...)
        needs live pictures of (empty: none). H.264 cameras are decoded only while someone needs them."""
        names = self.names
        wanted = frozenset(names[i] for i in cameras if 0 <= i < len(names))
        self._demand = {**self._demand, owner: wanted}  # replaced whole: readers never lock

    def _wants_images_fn(self, channel: _Channel, live: bool) -> Callable[[], bool]:
        """Whether ``channel``'s stream must be decoded now: a ``live`` stream for its preview
        viewers and the owners of a demand, and for full-resolution requests when it is also
        the main stream; a main stream with a sub-stream only for full-resolution requests."""
        def wants() -> bool:
            if channel.full_wanted > 0 and (not live or channel.sub is None):
                return True
            return live and (channel.preview.viewers > 0 or any(channel.name in cams for cams in self._demand.values()))

        return wants

    def full_frame(self, index: int, timeout: float = 5.0) -> Frame | None:
        """A new full-resolution frame of camera ``index`` (its main stream), with its picture;
        None when none comes within ``timeout`` s. A camera without a sub-stream answers with its
        newest live frame. With one, its main stream is decoded only for this call: the picture
        comes at its next keyframe."""
        channels = self._channels
        if not 0 <= index < len(channels):
            return None
        channel = channels[index]
        if channel.sub is None:
            return channel.slot.get()[1]
        seen, _ = channel.full.get()
        with self._full_lock:
            channel.full_wanted += 1
        try:
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                seq, frame = channel.full.wait_newer(seen, remaining)
                if seq != seen and frame is not None and frame.image is not None:
                    return frame
                seen = seq
            return None
        finally:
            with self._full_lock:
                channel.full_wanted -= 1

    # ---- camera threads
    def _sink(self, channel: _Channel) -> Callable[[Frame], None]:
        max_preroll, generation = None, None

        def on_frame(frame: Frame) -> None:
            nonlocal max_preroll, generation
            channel.full.put(frame)
            light = dataclasses.replace(frame, image=None) if frame.packet is not None else frame
            with channel.lock:
                preroll = channel.preroll
                if frame.generation != generation:  # nothing from an old connection
                    preroll.clear()
                    generation = frame.generation
                elif frame.keyframe:
                    _trim(preroll, frame.monotonic_ns - int(PREROLL_KEEP_S * 1e9))
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
        """Each camera's health (its main stream), its viewers, and its sub-stream's health (or None)."""
        out = []
        for channel in self._channels:
            item = channel.handler.health().to_dict()
            item["viewers"] = channel.preview.viewers
            sub = channel.sub.health().to_dict() if channel.sub is not None else None
            item["preview"] = {k: sub[k] for k in ("url", "status", "fps", "width", "height", "codec", "error")} \
                if sub else None
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
                    preroll = channel.preroll
                    first = max((k for k, f in enumerate(preroll) if f.keyframe and f.monotonic_ns <= mono), default=0)
                    for frame in preroll[first:]:  # from the last keyframe at or before the start event
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
