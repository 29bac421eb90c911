"""The technician's guided calibration on the live cameras (the onboarding wizard's engine).

One :class:`CalibrationWizard` per server. Its thread watches the cameras the technician is
working on (the latest frame of each, a few times a second), finds the board, tells the
page where the corners are, and captures a view by itself when the board is held still in
a position not captured yet. The math is in :mod:`calibration`; captured pictures are kept
under ``data_dir/calibration/sessions/<id>/`` in the layout ``calibrate`` reads
(``intrinsics/<camera>/``, ``extrinsics/<camera>/`` with shared file names).

Steps: per camera, intrinsics from its own views; then moments where two or more cameras
see the board still at once; then the board on the floor (world origin); then the joint
solve and saving a dated calibration set, which becomes the calibration in force.

Sessions: :meth:`CalibrationWizard.new_session` starts again from nothing (views, moments,
floor and rig; saved sets stay); :meth:`CalibrationWizard.redo_positions` ("cameras moved")
starts a session that keeps the intrinsics in force and solves the positions only. One
technician drives at a time (:mod:`live.driver`, :attr:`CalibrationWizard.driver`). With a
preview sub-stream, captures are made at the main stream's resolution (:mod:`live.captures`).

All public methods are thread-safe; events go out through ``emit(event, payload)``.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from calibration import store
from calibration.boards import make_board
from calibration.camera import CameraGroup
from calibration.detect import Detection, detect_board
from calibration.extrinsics import ExtrinsicsResult, calibrate_extrinsics, redo_positions
from calibration.intrinsics import COVERAGE_GRID, MIN_VIEWS, IntrinsicsResult, calibrate_intrinsics
from calibration.intrinsics import coverage_map as corner_coverage
from calibration.views import corner_motion_px, is_new_moment, is_new_view
from live.captures import confirm, confirm_all, detect_all_now, detect_now, live_scale, scaled, still_limit_px
from live.driver import WizardDriver

logger = logging.getLogger(__name__)

LIVE_PERIOD_S = 0.25
STILL_LOOKS = 2
STEPS = ("camera", "extrinsics", "floor", "result")
MODES = ("full", "positions")  # a whole calibration, or the positions again with the intrinsics in force


class WizardError(ValueError):
    """A wizard request that cannot be done now; the message says what to do."""


@dataclass
class _Live:
    seq: int = 0
    last: Detection | None = None
    still_looks: int = 0


class CalibrationWizard:
    """Live board detection, automatic capture, and the calibration runs behind the wizard page."""

    def __init__(self, processor, settings, emit):
        self.processor = processor
        b = settings.board
        self.board = make_board(b.cols, b.rows, b.square_mm, b.type, b.marker_mm)
        self.driver = WizardDriver(settings.calibration_wizard.driver_idle_s)
        self.names = [c.name for c in settings.cameras]
        self.root = settings.data_dir / "calibration"
        self.sets_root = self.root / "sets"
        self.active_path = settings.calibration_path
        self._emit = emit
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reformatter = VideoReformatter()  # this thread's own (frames are shared between threads)
        self._thread = threading.Thread(target=self._run, name="calibration", daemon=True)
        self._new_session()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> CalibrationWizard:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.processor.set_image_demand("calibration", ())
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _new_session(self, mode: str = "full", kept: CameraGroup | None = None) -> None:
        """Forget everything of the session (its pictures stay on disk) and start one in ``mode``;
        ``kept``: the calibration whose intrinsics a "positions" session keeps."""
        session = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        suffix = 1
        while session == getattr(self, "session", None) or (self.root / "sessions" / session).exists():
            suffix += 1
            session = f"{session.split('.')[0]}.{suffix}"
        self.session, self.mode, self.kept = session, mode, kept
        self.session_dir = self.root / "sessions" / self.session
        self.views: dict[str, list[tuple[str, Detection]]] = {n: [] for n in self.names}
        self.sizes: dict[str, tuple[int, int]] = {}
        self.intrinsics: dict[str, IntrinsicsResult] = {}
        self.moments: dict[str, dict[str, Detection]] = {}
        self.floor: dict[str, Detection] | None = None
        self.rig: ExtrinsicsResult | None = None
        self.step, self.camera, self.auto = None, None, True
        self._live = {i: _Live() for i in range(len(self.names))}
        self._counter = 0

    def new_session(self) -> dict:
        """"New calibration": views, intrinsics, moments, floor and rig all cleared (their pictures
        stay in the old session's folder; saved sets stay). Returns the state."""
        with self._lock:
            self._new_session()
            logger.info("calibration: new session %s", self.session)
        self.processor.set_image_demand("calibration", ())
        self._emit_moments()
        return self.state()

    def redo_positions(self) -> dict:
        """"Cameras moved: redo positions": a session that keeps the intrinsics of the calibration
        in force for every camera, with no moment and no floor view yet, at the extrinsics step;
        its solve places the cameras again (:func:`calibration.extrinsics.redo_positions`).
        Raises :class:`WizardError` when the calibration in force lacks a camera."""
        active = store.read_active(self.active_path)
        with self._lock:
            missing = [n for n in self.names if active is None or n not in active.names]
            if missing:
                raise WizardError(f"no calibration in force for {', '.join(missing)}: start a new calibration "
                                  f"(intrinsics and positions) instead")
            self._new_session("positions", active.subset(self.names))
            self.step = "extrinsics"
            logger.info("calibration: session %s redoes the positions of %s", self.session, ", ".join(self.names))
        self.processor.set_image_demand("calibration", self._focus("extrinsics", None))
        self._wake.set()
        self._emit_moments()
        return self.state()

    def set_board(self, board, write=None) -> dict:
        """Use ``board`` from now on. ``write()`` (the configuration file's change) runs first, under
        the wizard's lock: if it raises, nothing changed. Refused (:class:`WizardError`) while the
        session holds views, moments, a floor view or a rig made with the board in use: a board
        change would make them wrong. Returns the state."""
        with self._lock:
            work = self._work()
            if work and board != self.board:
                raise WizardError(f"this calibration has {work} made with the {self.board.describe()}: save it, or "
                                  f"start a new calibration, then change the board")
            if write is not None:
                write()
            self.board = board
            logger.info("calibration: board now %s", board.describe())
            return self.state()

    def _work(self) -> str:
        """What the session holds ("3 views, 2 moments"), "" when nothing."""
        parts = [(sum(len(v) for v in self.views.values()), "view"), (len(self.moments), "moment"),
                 (1 if self.floor else 0, "floor view"), (1 if self.rig else 0, "solved rig")]
        return ", ".join(f"{n} {what}{'s' if n > 1 else ''}" for n, what in parts if n)

    def set_cameras(self, names: list[str], changed: frozenset[str] = frozenset()) -> dict:
        """The cameras changed (``names`` in their new order; ``changed``: names kept whose source
        changed). Cameras that stay keep their views and intrinsics; a new, changed or removed one
        starts again: its views, moments and floor view are dropped (its pictures of this session
        are moved aside, so the session folder stays what ``calibrate`` reads), the rig must be
        solved again, and a step focused on a camera is left. Returns the state. Thread-safe."""
        with self._lock:
            gone = (set(self.names) - set(names)) | (set(changed) & set(self.names))
            if list(names) == self.names and not gone:
                return self.state()
            stamp = datetime.now(UTC).strftime("%H%M%S")
            for folder in (self.session_dir / part / name for name in sorted(gone) for part in ("intrinsics",
                                                                                             "extrinsics")):
                try:
                    if folder.is_dir():
                        folder.rename(folder.with_name(f"{folder.name}.replaced-{stamp}"))
                except OSError as exc:  # the cameras changed already: the wizard follows, a folder stays
                    logger.warning("calibration: %s cannot be moved aside (%s)", folder, exc.strerror)
            self.views = {n: [] if n in gone else self.views.get(n, []) for n in names}
            self.sizes = {n: s for n, s in self.sizes.items() if n in names and n not in gone}
            self.intrinsics = {n: r for n, r in self.intrinsics.items() if n in names and n not in gone}
            moments = {label: {n: d for n, d in views.items() if n in names and n not in gone}
                       for label, views in self.moments.items()}
            self.moments = {label: views for label, views in moments.items() if len(views) >= 2}
            floor = {n: d for n, d in (self.floor or {}).items() if n in names and n not in gone}
            self.floor = floor or None
            self.rig = None
            self.names = list(names)
            self._live = {i: _Live() for i in range(len(self.names))}
            if self.step == "camera":
                self.step, self.camera = None, None
            focus = self._focus(self.step, self.camera)
            logger.info("calibration: cameras now %s (starting again: %s)", ", ".join(names),
                        ", ".join(sorted(gone & set(names))) or "none")
        self.processor.set_image_demand("calibration", focus)
        self._emit_moments()
        return self.state()

    # ------------------------------------------------------------------ requests
    def begin(self) -> dict:
        with self._lock:
            return self.state()

    def focus(self, step: str, camera: int | None = None) -> dict:
        if step not in STEPS:
            raise WizardError(f"unknown step {step!r}")
        if step == "camera":
            self._check_index(camera)
        with self._lock:
            if step == "camera" and self.mode == "positions":
                raise WizardError("this session redoes the positions with the intrinsics in force: start a new "
                                  "calibration to calibrate the lenses again")
            self.step, self.camera = step, camera if step == "camera" else None
            for live in self._live.values():
                live.still_looks, live.last = 0, None
        self.processor.set_image_demand("calibration", self._focus(step, camera))
        self._wake.set()
        return self.state()

    def set_auto(self, enabled: bool) -> None:
        with self._lock:
            self.auto = bool(enabled)

    def reset_camera(self, camera: int) -> dict:
        self._check_index(camera)
        with self._lock:
            name = self.names[camera]
            self.views[name] = []
            self.intrinsics.pop(name, None)
            self.rig = None  # solved with what was just forgotten
            return self.state()

    def check(self, camera: int) -> dict:
        """Look for the board now in this camera's latest full-resolution picture, with every detector."""
        gray, det = self._detect_now(camera)
        if gray is None:
            return {"found": False, "message": "hint_no_picture", "corners": [], "image_size": None}
        size = [gray.shape[1], gray.shape[0]]
        if det is None:
            return {"found": False, "message": "hint_no_board", "corners": [], "image_size": size}
        return {"found": True, "message": "hint_board_ok", "corners": det.corners.round(2).tolist(), "image_size": size}

    def capture(self, camera: int) -> dict:
        """Capture this camera's current view for its intrinsics (the board must be found)."""
        if self.mode == "positions":
            raise WizardError("this session keeps the intrinsics in force: start a new calibration to capture views")
        gray, det = self._detect_now(camera)
        if det is None:
            raise WizardError("no board in the picture: show the whole board to the camera")
        with self._lock:
            self._add_view(camera, gray, det)
            self.driver.touch()
            return {"captured": len(self.views[self.names[camera]]), "message": "hint_captured"}

    def run_intrinsics(self, camera: int) -> dict:
        self._check_index(camera)
        with self._lock:
            name = self.names[camera]
            views = list(self.views[name])
            size = self.sizes.get(name)
        if len(views) < MIN_VIEWS:
            raise WizardError(f"{len(views)} views captured for {name}, at least {MIN_VIEWS} are needed: "
                              f"hold the board still in more positions, near the edges and corners too")
        labels, dets = zip(*views)
        result = calibrate_intrinsics(list(dets), self.board, name, size, list(labels))
        with self._lock:
            self.intrinsics[name] = result
            self.rig = None  # to be solved again with these intrinsics
        logger.info("calibration: %s intrinsics RMS %.3f px from %d views", name, result.rms_px, result.used)
        return self._intrinsics_summary(result)

    def capture_floor(self) -> dict:
        """Capture the board lying on the floor (the world origin) in every camera that sees it,
        at full resolution."""
        found = {self.names[i]: view for i, view in detect_all_now(self.processor, self.board,
                                                                    list(range(len(self.names)))).items()}
        if not found:
            raise WizardError("no camera sees the board: lay it flat on the floor in the middle of the area")
        with self._lock:
            for name, (gray, _) in found.items():
                self._save_picture("extrinsics", name, "floor", gray)
            self.floor = {name: det for name, (_, det) in found.items()}
            self.rig = None
            self.driver.touch()
            self._emit_moments()
            return {"cameras": sorted(found), "message": "hint_floor_ok"}

    def board_shows(self, instants: int, gap_s: float) -> list[dict[str, Detection]]:
        """The board shown now, looked for by every camera at ``instants`` instants ``gap_s`` s apart
        (full resolution): per instant, camera name -> detection (for the health check)."""
        shows = []
        for k in range(instants):
            if k:
                time.sleep(gap_s)
            found = detect_all_now(self.processor, self.board, list(range(len(self.names))))
            shows.append({self.names[i]: det for i, (_, det) in found.items()})
        return shows

    def solve(self, refine_intrinsics: bool = False) -> dict:
        """Calibrate every camera's pose together from the captured moments (and the floor); in a
        "positions" session, with the intrinsics in force kept (``refine_intrinsics`` ignored)."""
        with self._lock:
            intrinsics = self.kept if self.mode == "positions" else self._intrinsics_group()
            detections = {n: {} for n in self.names}
            for label, views in self.moments.items():
                for name, det in views.items():
                    detections[name][label] = det
            for name, det in (self.floor or {}).items():
                detections[name]["floor"] = det
            floor_moment = "floor" if self.floor else None
            mode = self.mode
        if not any(detections.values()):
            raise WizardError("no board moment captured yet: show the board to two or more cameras at once")

        def progress(done, total, stage):
            self._emit("calibration progress", {"stage": stage, "fraction": done / total})

        if mode == "positions":
            result = redo_positions(intrinsics, detections, self.board, floor_moment=floor_moment, progress=progress)
        else:
            result = calibrate_extrinsics(intrinsics, detections, self.board, floor_moment=floor_moment,
                                          refine_intrinsics=refine_intrinsics, progress=progress)
        with self._lock:
            self.rig = result
        logger.info("calibration: rig solved in %.1f s, median errors %s", result.seconds,
                    {k: round(v, 3) for k, v in result.errors_px.items() if v is not None})
        return rig_summary(result.group, result, self.board)

    def save(self, note: str = "") -> dict:
        """Keep the solved rig as a dated calibration set and make it the calibration in force."""
        with self._lock:
            if self.rig is None:
                raise WizardError("nothing to save: run the calibration first")
            group = self.rig.group
            meta = dict(group.metadata)
            if self.intrinsics or "intrinsics" not in meta:
                meta["intrinsics"] = {n: self._intrinsics_summary(r) for n, r in self.intrinsics.items()}
            meta["session"] = self.session
            group = replace(group, metadata=meta)
        saved = store.save_set(self.sets_root, group, note, {"session": self.session})
        store.activate(self.sets_root, saved["id"], self.active_path)
        logger.info("calibration set %s saved and activated", saved["id"])
        return {"id": saved["id"], "created_at": saved["created_at"]}

    def adopt_intrinsics(self, name: str, result: IntrinsicsResult) -> dict:
        """Use ``result`` (from a recording) as camera ``name``'s intrinsics in this session, as if
        calibrated here; its views captured live are kept. Returns the intrinsics summary."""
        with self._lock:
            if name not in self.names:
                raise WizardError(f"no camera {name!r} now (cameras: {', '.join(self.names)})")
            if self.mode == "positions":
                raise WizardError("this session keeps the intrinsics in force: start a new calibration to use "
                                  "these intrinsics")
            self.intrinsics[name] = result
            self.sizes.setdefault(name, tuple(result.camera.size))
            self.rig = None
            return self._intrinsics_summary(result)

    def intrinsics_for(self, names: list[str]) -> CameraGroup:
        """The intrinsics a solve of cameras ``names`` would use: this session's, else those in force
        (:class:`WizardError` when a camera has neither)."""
        with self._lock:
            return self._intrinsics_group(names)

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """The wizard as the page draws it (the driver is apart: :attr:`driver`)."""
        with self._lock:
            return {
                "step": self.step, "camera": self.camera, "auto": self.auto, "session": self.session,
                "mode": self.mode, "board": {"cols": self.board.cols, "rows": self.board.rows,
                                             "square_mm": self.board.square_mm},
                "intrinsics": {n: {"captured": len(self.views[n]), "coverage": self._coverage(n),
                                   "result": self._intrinsics_summary(self.intrinsics[n]) if n in self.intrinsics
                                   else None} for n in self.names},
                "moments": self._moments_summary(),
                "rig": rig_summary(self.rig.group, self.rig, self.board) if self.rig else None,
            }

    @staticmethod
    def _intrinsics_summary(result: IntrinsicsResult) -> dict:
        s = result.summary()
        return {"camera": s["camera"], "rms_px": s["rms_px"], "used": s["used"], "views": s["views"],
                "found": s["found"], "rejected": s["rejected"], "coverage": s["coverage"],
                "fx": round(s["fx"], 2), "fy": round(s["fy"], 2), "cx": round(s["cx"], 2), "cy": round(s["cy"], 2)}

    def _moments_summary(self) -> dict:
        views = {n: sum(n in m for m in self.moments.values()) for n in self.names}
        pairs = {}
        for a_i, a in enumerate(self.names):
            for b in self.names[a_i + 1:]:
                shared = sum(a in m and b in m for m in self.moments.values())
                if shared:
                    pairs[f"{a}|{b}"] = shared
        return {"moments": len(self.moments), "views": views, "pairs": pairs,
                "floor": sorted(self.floor) if self.floor else None}

    def _emit_moments(self) -> None:
        self._emit("calibration moments", self._moments_summary())

    def _intrinsics_group(self, names: list[str] | None = None) -> CameraGroup:
        active = store.read_active(self.active_path)
        cams = []
        for name in names or self.names:
            if name in self.intrinsics:
                cams.append(self.intrinsics[name].camera)
            elif active is not None and name in active.names:
                cams.append(active[name])
            else:
                raise WizardError(f"camera {name} has no intrinsics: calibrate it at its own step first")
        return CameraGroup(cams)

    # ------------------------------------------------------------------ helpers
    def _focus(self, step: str | None, camera: int | None) -> list[int]:
        """The cameras a step watches."""
        if step == "camera":
            return [camera]
        if step in ("extrinsics", "floor"):
            return list(range(len(self.names)))
        return []

    def _check_index(self, camera) -> None:
        if not isinstance(camera, int) or not 0 <= camera < len(self.names):
            raise WizardError(f"no camera {camera!r}")

    def _detect_now(self, camera: int):
        """(full-resolution gray picture, detection or None) of the camera now, every detector tried."""
        self._check_index(camera)
        return detect_now(self.processor, camera, self.board)

    def _save_picture(self, part: str, name: str, label: str, gray: np.ndarray) -> None:
        folder = self.session_dir / part / name
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{label}.png"), gray)

    def _add_view(self, camera: int, gray: np.ndarray, det: Detection) -> None:
        name = self.names[camera]
        size = (gray.shape[1], gray.shape[0])
        if self.sizes.get(name, size) != size:  # the camera changed resolution: start its views again
            self.views[name] = []
            self.intrinsics.pop(name, None)
        self.sizes[name] = size
        label = f"v{len(self.views[name]) + 1:03d}"
        self._save_picture("intrinsics", name, label, gray)
        self.views[name].append((label, det))

    # ------------------------------------------------------------------ live loop
    def _run(self) -> None:
        while not self._stop.is_set():
            if self.driver.expired():
                self._emit("calibration driver", self.driver.state())
            with self._lock:
                step, camera = self.step, self.camera
            focus = self._focus(step, camera)
            if not focus:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            started = time.monotonic()
            try:
                self._look(step, focus)
            except Exception:  # noqa: BLE001 - the wizard must keep running whatever one look does
                logger.exception("calibration: live detection failed")
            elapsed = time.monotonic() - started
            self._stop.wait(max(LIVE_PERIOD_S, 1.2 * elapsed) - elapsed)

    def _look(self, step: str, focus: list[int]) -> None:
        # First every camera's latest picture and the few before it, all of about one instant.
        snapshot = {i: (*self.processor.slots[i].get(), self.processor.slots[i].recent()) for i in focus}
        seen = self._seen(snapshot)
        with self._lock:
            auto = self.auto
        captured: set[int] = set()
        if auto and step == "camera":
            captured = self._auto_views(seen)
        elif auto and step == "extrinsics":
            still = {i: (gray, det, *snapshot[i][1:]) for i, (gray, det, ok) in seen.items() if det is not None and ok}
            captured = self._auto_moment(still) if len(still) >= 2 else set()
        with self._lock:
            for i, (gray, det, still) in seen.items():
                self._emit("calibration live", self._live_payload(i, gray, det, still, i in captured))

    def _seen(self, snapshot: dict) -> dict[int, tuple[np.ndarray, Detection | None, bool]]:
        """The board in each camera's newest live picture (cameras without a new one are left out):
        index -> (gray picture, detection or None, still: held still over the last looks)."""
        seen = {}
        for i, (seq, frame, _) in snapshot.items():
            live = self._live.get(i)
            if live is None or frame is None or seq == live.seq:
                continue
            live.seq = seq
            gray = frame.gray(self._reformatter)
            if gray is None:
                continue
            det = detect_board(gray, self.board, thorough=False)
            if det is not None and live.last is not None and np.array_equal(det.ids, live.last.ids):
                motion = np.linalg.norm(det.corners - live.last.corners, axis=1).mean()
                live.still_looks = live.still_looks + 1 if motion < still_limit_px(gray.shape[1]) else 0
            else:
                live.still_looks = 0
            live.last = det
            seen[i] = (gray, det, live.still_looks >= STILL_LOOKS)
        return seen

    def _in_full(self, i: int, gray: np.ndarray, det: Detection) -> tuple[Detection, int]:
        """A live detection in the pixels of the camera's full-resolution pictures, and their width."""
        sx, sy = live_scale(self.processor, i, (gray.shape[1], gray.shape[0]))
        return scaled(det, sx, sy), round(gray.shape[1] * sx)

    def _new_view(self, i: int, gray: np.ndarray, det: Detection, views: list[Detection]) -> bool:
        full_det, width = self._in_full(i, gray, det)
        return is_new_view(full_det, views, width)

    def _auto_views(self, seen: dict) -> set[int]:
        """Capture the still boards at new positions as intrinsic views (at full resolution)."""
        captured = set()
        for i, (gray, det, still) in seen.items():
            if det is None or not still:
                continue
            name = self.names[i]
            with self._lock:
                new = self._new_view(i, gray, det, [d for _, d in self.views.get(name, [])])
            view = confirm(self.processor, i, self.board, gray, det) if new else None
            if view is None:
                continue
            with self._lock:
                if self.step != "camera" or name not in self.names:  # moved on meanwhile
                    continue
                self._add_view(self.names.index(name), *view)
                self.driver.touch()
            captured.add(i)
        return captured

    def _auto_moment(self, still: dict) -> set[int]:
        """Capture a moment when two or more cameras see the still board together at a new position
        (each view at full resolution); returns the cameras captured."""
        together = self._together(still)
        if len(together) < 2:
            return set()
        in_full = {n: self._in_full(self.names.index(n), gray, det) for n, (gray, det) in together.items()}
        with self._lock:
            new = self._new_moment({n: (w, d) for n, (d, w) in in_full.items()})
        if not new:
            return set()
        views = confirm_all(self.processor, self.board, {self.names.index(n): v for n, v in together.items()})
        with self._lock:
            if self.step != "extrinsics" or len(views) < 2:
                return set()
            taken = {self.names[i]: view for i, view in views.items()}
            if not self._new_moment({n: (gray.shape[1], det) for n, (gray, det) in taken.items()}):
                return set()
            self._counter += 1
            label = f"m{self._counter:03d}"
            for name, (gray, _) in taken.items():
                self._save_picture("extrinsics", name, label, gray)
            self.moments[label] = {name: det for name, (_, det) in taken.items()}
            self.driver.touch()
            self._emit_moments()
        return set(views)

    def _together(self, still: dict) -> dict:
        """The views of one moment, {name: (gray, detection)}, from frames captured within half a
        frame period of one instant (the oldest of the still cameras' frames), each camera's
        frame picked from its last few; a picked frame other than the one just looked at must
        show the board where that one did (still). Cameras without such a frame sit the
        moment out, so neither CPU load nor a slow camera can pair pictures of different instants.
        ``still``: camera index -> (gray, detection, frame, the frames before it) of the cameras
        with a still board, as the look's snapshot found them."""
        instant = min(frame.monotonic_ns for _, _, frame, _ in still.values())
        together = {}
        for i, (gray, det, frame, recent) in still.items():
            recent = [f for f in recent if f.monotonic_ns <= frame.monotonic_ns] or [frame]
            steps = np.diff(sorted(f.monotonic_ns for f in recent))
            half_period = np.median(steps) / 2 if len(steps) else np.inf
            best = min(recent, key=lambda f: abs(f.monotonic_ns - instant))
            if abs(best.monotonic_ns - instant) > half_period:
                continue
            if best is not frame:
                gray = best.gray(self._reformatter)
                moved = None if gray is None else detect_board(gray, self.board, thorough=False)
                if moved is None or corner_motion_px(det, moved) >= still_limit_px(gray.shape[1]):
                    continue
                det = moved
            together[self.names[i]] = (gray, det)
        return together

    def _new_moment(self, views: dict[str, tuple[int, Detection]]) -> bool:
        """``views``: camera name -> (picture width px, detection in that picture's pixels)."""
        return is_new_moment({n: det for n, (_, det) in views.items()}, list(self.moments.values()),
                             {n: width for n, (width, _) in views.items()})

    def _coverage(self, name: str) -> list:
        """Corner counts per cell of the image grid over the captured views (rows of the grid)."""
        views = [d for _, d in self.views[name]]
        if not views:
            return np.zeros((COVERAGE_GRID[1], COVERAGE_GRID[0]), int).tolist()
        return corner_coverage(views, self.sizes[name]).tolist()

    def _live_payload(self, i: int, gray, det, still: bool, just_captured: bool) -> dict:
        name = self.names[i]
        size = (gray.shape[1], gray.shape[0])
        views = [d for _, d in self.views[name]]
        if det is None:
            message = "hint_no_board"
        elif not still:
            message = "hint_hold_still"
        elif just_captured:
            message = "hint_captured"
        elif self.step == "camera" and not self._new_view(i, gray, det, views):
            message = "hint_move_board"
        else:
            message = "hint_board_ok"
        return {
            "camera": i, "found": det is not None, "still": still,
            "corners": det.corners.round(1).tolist() if det is not None else [], "image_size": list(size),
            "captured": len(views), "coverage": self._coverage(name),
            "message": message, "just_captured": just_captured,
        }


def rig_summary(group: CameraGroup, result: ExtrinsicsResult | None, board) -> dict:
    """The rig as the page draws it: per camera intrinsics, centre (m, world), rotation, errors."""
    cams = []
    for cam in group.cameras:
        entry = {"name": cam.name, "size": list(cam.size), "fx": cam.matrix[0, 0], "fy": cam.matrix[1, 1],
                 "cx": cam.matrix[0, 2], "cy": cam.matrix[1, 2], "center": cam.center.round(5).tolist(),
                 "rotation": cam.R.round(6).tolist()}
        if result is not None:
            entry.update(rms_px=result.rms_px.get(cam.name), median_px=result.errors_px.get(cam.name),
                         views=result.views.get(cam.name))
        else:
            meta = group.metadata
            entry.update(rms_px=(meta.get("reprojection_rms_px") or {}).get(cam.name),
                         median_px=(meta.get("reprojection_median_px") or {}).get(cam.name),
                         views=(meta.get("views") or {}).get(cam.name))
        cams.append(entry)
    summary = {"cameras": cams, "board": {"cols": board.cols, "rows": board.rows, "square_mm": board.square_mm}}
    if result is not None:
        summary.update(pairs=result.pairs, outliers=result.outliers, seconds=round(result.seconds, 2))
    return summary

