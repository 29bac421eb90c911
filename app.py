"""VSION: the web app factory and the command line.

``python app.py`` starts the server (as the original VSION did); ``python app.py --help``
lists the subcommands (see ``../shared/CONTRACT.md``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import stat
import sys
import threading
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask
from flask import cli as flask_cli

from settings import (
    ConfigError,
    Settings,
    dump_settings,
    load_settings,
    parse_settings,
    register_secrets,
    safe_url,
    seal_config,
    setup_logging,
)

logger = logging.getLogger("vsion")

ROOT = Path(__file__).resolve().parent
DEMO_ROLES = ("admin", "technician", "expert", "trainee")


def resource(name: str) -> Path:
    """A file shipped with VSION (templates, static assets, migrations): next to ``app.py``, or in
    the delivered folder's ``_internal`` (``sys._MEIPASS``) when VSION runs as the built executable."""
    return Path(getattr(sys, "_MEIPASS", ROOT)) / name


def _secret_key(data_dir: Path) -> str:
    """The session signing key, created once per installation (mode 0600 in ``data_dir``)."""
    path = data_dir / "secret_key"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class Runtime:
    """What a running app owns besides Flask: the camera group, the status broadcaster, live
    pose and the background jobs, and the glue between them and the database.

    ``jobs`` is set by :func:`create_app` (its listener is :meth:`job_changed`).
    """

    def __init__(self, app: Flask, processor, live_pose, job_emitter=None, jobs=None):
        self.app, self.processor = app, processor
        self.live_pose, self.jobs = live_pose, jobs
        self.job_emitter = job_emitter
        self._status_thread = None

    def recording_state(self) -> dict:
        """The camera group's recording state, with the work card and kind of the take recording."""
        state = self.processor.recording_state()
        take = self.processor.take
        meta = take.meta if take is not None and state.get("recording") else {}
        return {**state, "work_card_id": meta.get("work_card"), "kind": meta.get("kind", "free") if meta else None}

    def start_take(self, user, label: str | None = None, work_card_id: int | None = None,
                   kind: str | None = None) -> dict:
        """Start recording a take by ``user`` for a purpose they may record (see
        :func:`training.takes.recording_purpose`, raising ``TrainingError``); returns the state.
        Who, which card and which kind are kept in the take's ``take.json`` for :meth:`take_stopped`."""
        from training.takes import recording_purpose

        card, kind = recording_purpose(user, work_card_id, kind)
        meta = {"created_by": user.username, "user_id": user.id, "label": label,
                "work_card": card.id if card is not None else None, "kind": kind}
        state = self.processor.start_recording(meta)
        logger.info("user %s started take %s (%s%s)", user.username, state["take_id"], kind,
                    f", work card {card.id}" if card is not None else "")
        self._register(self.processor.take.to_dict())  # so a crash cannot leave it unknown
        return {**state, "work_card_id": meta["work_card"], "kind": kind}

    def _register(self, take: dict):
        """Record ``take`` (its take.json) in the database, for the user, card and kind it holds;
        the row or None. One transaction: a crash leaves the row before or after, never half."""
        from training.comparisons import job_params
        from training.takes import TrainingError, register_recorded_take

        folder = self.processor.takes_dir / take["id"]
        try:
            with self.app.app_context():
                row = register_recorded_take(take, folder)
                return job_params(row, self.processor.takes_dir) if row is not None else {}
        except TrainingError as exc:
            logger.error("take %s: not registered: %s", take["id"], exc)
        except Exception:  # noqa: BLE001 - the take is on disk: it must still be processed
            logger.exception("take %s: not registered", take["id"])
        return {}

    def stop_take(self, user, take_id: str | None = None) -> dict:
        """Stop the take recording (trainees: only their own); returns the ``recording status`` state.
        Call :meth:`take_stopped` with its ``take`` next."""
        from VideoProcessor import RecordingError

        current = self.processor.take
        if user.role == "trainee" and current is not None and current.meta.get("user_id") != user.id:
            raise RecordingError("this take was started by someone else: they or a technician stop it")
        take = self.processor.stop_recording(take_id)
        logger.info("user %s stopped take %s", user.username, take["id"])
        return self.stopped_state(take)

    def stopped_state(self, take: dict) -> dict:
        """The ``recording status`` state of a take that just stopped (its take.json in ``take``);
        ``stop_reason`` and ``message`` say why when VSION stopped it by itself."""
        return {"recording": False, "take_id": take["id"], "folder": str(self.processor.takes_dir / take["id"]),
                "status": take["status"], "take": take, "work_card_id": take.get("work_card"),
                "kind": take.get("kind", "free"), "stop_reason": take.get("stop_reason"),
                "message": take.get("stop_message")}

    def take_stopped(self, take: dict, submit: bool = True) -> None:
        """Register a finished take in the database (for the user, card and kind kept in its
        ``take.json``) and process it in the background (outputs in ``<take>/processed``; an
        attempt is then compared with its reference). An interrupted take is processed too:
        its files are readable up to the crash."""
        params = self._register(take)
        if take.get("status") in ("complete", "incomplete", "interrupted") and submit:
            folder = self.processor.takes_dir / take["id"]
            try:
                self.jobs.submit("process", take["id"], {"take_dir": str(folder), **params})
            except RuntimeError:  # the server is stopping (a take stopped by itself meanwhile): next start
                logger.info("take %s: the server is stopping; processed at the next start", take["id"])
                self._mark_queued(take["id"])

    def take_auto_stopped(self, take: dict) -> None:
        """The camera group stopped a take by itself (the disk is almost full): tell every page
        why, then register and process the take like one stopped by a user."""
        from web.events import LIVE_ROOM
        from web.extensions import socketio

        try:
            socketio.emit("recording status", self.stopped_state(take), to=LIVE_ROOM)
            socketio.emit("recording error", {"event": "stop recording", "code": take.get("stop_reason") or "stopped",
                                              "message": take.get("stop_message")}, to=LIVE_ROOM)
        except Exception:  # noqa: BLE001 - the take must still be registered
            logger.exception("take %s: could not tell the pages it stopped", take["id"])
        self.take_stopped(take)

    def job_changed(self, job) -> None:
        """The job listener (called from the runner's threads): store what the job says about its
        take, then tell the pages. Every database write happens in this thread's own app context."""
        from training.comparisons import record_job

        try:
            with self.app.app_context():
                record_job(job.take_id, job.kind, job.status, job.message, job.report)
        except Exception:  # noqa: BLE001 - the pages must still hear about the job
            logger.exception("job %s: its take %s could not be updated", job.id, job.take_id)
        if self.job_emitter is not None:
            self.job_emitter(job)

    def sync_calibrations(self) -> None:
        """Mirror the saved calibration sets (and which one is active) in the database."""
        from calibration.store import active_id
        from training.takes import sync_calibration_sets

        root = self.app.extensions["vsion.wizard"].sets_root
        try:
            with self.app.app_context():
                sync_calibration_sets(root, active_id(root))
        except Exception:  # noqa: BLE001 - the files stay the source: a failed mirror is retried next time
            logger.exception("calibration sets could not be mirrored in the database")

    def _mark_queued(self, take_id: str) -> None:
        from training.takes import TrainingError, set_processing

        try:
            with self.app.app_context():
                set_processing(take_id, "queued", "waiting for the next start")
        except (TrainingError, Exception):  # noqa: BLE001 - not registered: nothing to resume
            logger.warning("take %s: left unprocessed", take_id)

    def start(self) -> Runtime:
        from web.extensions import socketio

        self.processor.on_auto_stop = self.take_auto_stopped
        self.processor.start()
        self.app.extensions["vsion.wizard"].start()
        self.live_pose.start()
        self.resume_processing()
        for take in self.processor.interrupted:  # a killed server left them: register, then process
            logger.info("take %s: interrupted by the last stop, registered and queued for processing", take["id"])
            self.take_stopped(take)
        self._status_thread = socketio.start_background_task(self._status_loop)
        return self

    def _status_loop(self, period_s: float = 1.0) -> None:
        """Broadcast ``camera status`` to signed-in clients every second until the cameras stop."""
        from web.events import LIVE_ROOM, camera_status
        from web.extensions import socketio

        while not self.processor.stop_event.wait(period_s):
            try:
                socketio.emit("camera status", camera_status(self.processor), to=LIVE_ROOM)
            except Exception:  # noqa: BLE001 - one failed broadcast must not end them all
                logger.exception("camera status broadcast failed")

    def resume_processing(self) -> None:
        """Queue again the takes whose processing a stop or a crash interrupted (their rows say
        queued or running, or cancelled by the stop): jobs are re-queued, not lost."""
        from training.takes import interrupted_takes

        try:
            with self.app.app_context():
                pending = interrupted_takes()
        except Exception:  # noqa: BLE001 - a start must not fail on this
            logger.exception("could not look for interrupted processing")
            return
        for take in pending:
            logger.info("take %s: processing interrupted by the last stop, queued again", take["id"])
            self.take_stopped(take)

    def shutdown(self) -> None:
        """Finish a take in progress (registered, to be processed at the next start), stop every
        camera and join every thread."""
        self.live_pose.stop()
        if self.processor.take is not None:
            from VideoProcessor import RecordingError

            try:
                take = self.processor.stop_recording()
            except RecordingError:
                take = None
            if take is not None:
                self.take_stopped(take, submit=False)
                self._mark_queued(take["id"])
        self.jobs.shutdown()
        self.app.extensions["vsion.wizard"].stop()
        self.processor.stop()
        if self._status_thread is not None:
            self._status_thread.join(5)


def job_runner(settings: Settings, listener):
    """The Celery runner of the processing cluster when ``jobs.broker_url`` is set, else jobs in this process."""
    from jobs import LocalJobRunner

    if settings.jobs.broker_url:
        try:
            from jobs.celery_runner import CeleryJobRunner
        except ImportError:  # the delivered executable leaves Celery out
            raise ConfigError("jobs.broker_url: this VSION build has no Celery; process takes in this machine "
                              "(remove jobs.broker_url) or run VSION from source with Celery installed") from None

        logger.info("processing jobs go to the Celery cluster at %s", safe_url(settings.jobs.broker_url))
        return CeleryJobRunner(settings.jobs.broker_url, settings.jobs.backend_url, listener=listener)
    return LocalJobRunner(listener)


def create_app(settings: Settings | None = None, test_config: dict | None = None, start: bool = True) -> Flask:
    """Build the Flask app for ``settings`` (default: ``$VSION_CONFIG`` or ``config.yaml``).

    ``test_config`` overrides Flask settings. With ``start`` the cameras start reading at
    once; call ``app.extensions['vsion.runtime'].shutdown()`` to stop them.
    """
    from CalibrationWizard import CalibrationWizard
    from LivePose import LivePose
    from training.db import db, normalize_url, upgrade_database
    from VideoProcessor import VideoProcessor
    from web import register
    from web.auth import SessionInterface, session_config
    from web.calibration import emitter as calibration_emitter
    from web.events import job_emitter, pose_emitter
    from web.extensions import csrf, limiter, login_manager, socketio

    if settings is None:
        settings = load_settings(os.environ.get("VSION_CONFIG", "config.yaml"))
    register_secrets(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, template_folder=str(resource("templates")), static_folder=str(resource("static")))
    app.config.from_mapping(
        SECRET_KEY=_secret_key(settings.data_dir),
        SQLALCHEMY_DATABASE_URI=normalize_url(os.environ.get("DATABASE_URL") or "")
        or f"sqlite:///{settings.data_dir / 'vsion.db'}",
        **session_config(),  # cookie name and flags (Secure: see web.auth.SessionInterface)
        REMEMBER_COOKIE_HTTPONLY=True,
        # Idle expiry: a permanent session's cookie is renewed by each request and refused when older.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.security.session_idle_minutes),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        VSION_SETTINGS=settings,
    )
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    limiter.init_app(app)  # POST /login only: security.login_rate_limit per client address
    app.session_interface = SessionInterface()  # Secure cookie per security.secure_cookies
    # Our loggers (not python-socketio's own handlers) so the masking filter sees their lines.
    socketio.init_app(app, async_mode="threading", logger=logging.getLogger("socketio.server"),
                      engineio_logger=logging.getLogger("engineio.server"))
    upgrade_database(app, resource("migrations"))
    register(app)
    processor = VideoProcessor(settings)
    app.extensions["vsion.processor"] = processor
    app.extensions["vsion.wizard"] = CalibrationWizard(processor, settings, calibration_emitter)
    runtime = Runtime(app, processor, LivePose(processor, settings, pose_emitter), job_emitter)
    runtime.jobs = job_runner(settings, runtime.job_changed)
    app.extensions["vsion.runtime"] = runtime
    runtime.sync_calibrations()
    if start:
        runtime.start()
    return app


def serve(app: Flask, host: str, port: int) -> None:
    """Run the server until Ctrl-C or SIGTERM, then shut every thread down cleanly."""
    from web.extensions import socketio

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    flask_cli.show_server_banner = lambda *args, **kwargs: None  # VSION logs its own address
    logger.info("VSION listening on http://%s:%d", host, port)
    try:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("shutting down")
        app.extensions["vsion.runtime"].shutdown()


def _load(config: str, seal: bool = False) -> Settings:
    """The settings in ``config``; with ``seal`` (a server start), camera URLs with passwords are
    first encrypted in the file (:func:`settings.seal_config`)."""
    try:
        if seal:
            seal_config(config)
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# --------------------------------------------------------------------------- command line
@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx, verbose):
    """VSION markerless motion capture. With no command, starts the server (like `serve`)."""
    setup_logging(logging.DEBUG if verbose else logging.INFO)
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve_cmd)


@cli.command("serve")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve_cmd(config, host, port):
    """Start the web app."""
    settings = _load(config, seal=True)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    serve(app, host, port)


def user_data_dir() -> Path:
    """Where VSION keeps what it makes (database, takes, calibrations, the demo): ``$VSION_DATA``;
    else, for the delivered executable, the per-user data folder (``$XDG_DATA_HOME/vsion``, by
    default ``~/.local/share/vsion``; ``%LOCALAPPDATA%\\VSION`` on Windows), which an upgrade
    of the executable's folder leaves alone; else ``data`` in the working folder."""
    if os.environ.get("VSION_DATA"):
        return Path(os.environ["VSION_DATA"]).resolve()
    if not getattr(sys, "frozen", False):
        return Path("data").resolve()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "VSION"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "VSION"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vsion"


def demo_dir() -> Path:
    return user_data_dir() / "demo"


def _demo_users(app: Flask, folder: Path) -> list[tuple[str, str, str]]:
    """Create the demo users once (random passwords kept in ``demo-logins.txt``, mode 0600)."""
    from training.users import create_user, user_exists

    logins = folder / "demo-logins.txt"
    if logins.is_file():
        users = [tuple(line.split(" ", 2)) for line in logins.read_text().splitlines() if line.strip()]
    else:
        users = [(role, role, secrets.token_urlsafe(9)) for role in DEMO_ROLES]
        fd = os.open(logins, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as fh:
            fh.writelines(f"{name} {role} {password}\n" for name, role, password in users)
    with app.app_context():
        for name, role, password in users:
            if not user_exists(name):  # first start, or the database was deleted
                create_user(name, password, role)
    return users


def _demo_calibration(settings: Settings) -> None:
    """Install the demo videos' own calibration (Pose2Sim's Qualisys file) once, so that live
    3D works at once; the technician can replace it from the Calibration page."""
    if settings.calibration_path.is_file():
        return
    import demo
    from calibration.camera import CameraGroup
    from calibration.io import load_qca
    from calibration.store import activate, save_set

    try:
        group = load_qca(demo.pose2sim_file("calibration/Calib.qca.txt"))
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        logger.warning("demo calibration unavailable (%s): live 3D needs a calibration", exc)
        return
    names = [c.name for c in settings.cameras]
    cams = [dataclasses.replace(cam, name=name) for name, cam in zip(names, group.cameras)]
    root = settings.data_dir / "calibration" / "sets"
    meta = save_set(root, CameraGroup(cams, dict(group.metadata)), note="demo cameras (Pose2Sim, Qualisys)")
    activate(root, meta["id"], settings.calibration_path)


@cli.command("demo")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
def demo_cmd(port, no_browser):
    """Start VSION on the built-in demo cameras (no hardware needed)."""
    folder = demo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    if not config.is_file():
        demo_settings = parse_settings({"cameras": [{"name": f"cam{i + 1}", "url": f"demo:{i}"} for i in range(4)],
                                        "data_dir": "."}, base=folder)
        dump_settings(demo_settings, config)
    import demo

    click.echo("Preparing the demo cameras (the first time, this downloads and converts the demo videos)...")
    for n in range(demo.DEMO_VIDEOS):
        demo.demo_video(n)
    demo_settings = _load(str(config), seal=True)
    _demo_calibration(demo_settings)
    app = create_app(demo_settings)
    users = _demo_users(app, folder)
    url = f"http://127.0.0.1:{port}/"
    click.echo(f"VSION demo: {url}  (configuration {config})")
    click.echo("Demo logins (user / password):")
    for name, role, password in users:
        click.echo(f"  {name:<11} {password}   ({role})")
    if not no_browser and (os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32")):
        import webbrowser

        threading.Timer(1.5, webbrowser.open, args=(url,)).start()
    serve(app, "127.0.0.1", port)


@cli.group("users")
def users_group():
    """Manage user accounts."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(DEMO_ROLES), help="The user's role.")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def users_create(name, role, config):
    """Create user NAME; the password is read from standard input (first line)."""
    from training.users import UserError, create_user

    password = sys.stdin.readline().rstrip("\r\n")
    app = create_app(_load(config), start=False)
    with app.app_context():
        try:
            create_user(name, password, role)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} created ({role})")


@cli.group("cameras")
def cameras_group():
    """See the cameras and enter their URLs (URLs with passwords are stored encrypted)."""


@cameras_group.command("list")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def cameras_list(config):
    """List the cameras: name, URL (password masked) and how the URL is stored."""
    from settings import describe_cameras

    try:
        rows = describe_cameras(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(r["name"]) for r in rows) if rows else 4
    urls = max(len(r["url"]) for r in rows) if rows else 3
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['url']:<{urls}}  {row['storage']}")


@cameras_group.command("set-url")
@click.argument("name")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def cameras_set_url(name, config):
    """Give camera NAME a new URL, read from standard input (first line); a URL with a password
    is stored encrypted. Restart VSION to use it."""
    from settings import set_camera_url

    if sys.stdin.isatty():
        url = click.prompt(f"URL of camera {name}", hide_input=True, err=True)
    else:
        url = sys.stdin.readline().rstrip("\r\n")
    try:
        key = set_camera_url(config, name, url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if key:
        click.echo(f"camera {name}: URL stored encrypted in {config} (key {key})")
    else:
        click.echo(f"camera {name}: URL stored in {config} (no password: kept readable)")
    try:
        load_settings(config)
    except ConfigError as exc:
        click.echo(f"note: {config} cannot be used yet: {exc}", err=True)


@cli.group("calibrate")
def calibrate_group():
    """Calibrate the cameras, or import a calibration made elsewhere."""


def _board(spec: str, square_mm: float, charuco: bool = False):
    from calibration.boards import make_board, parse_board

    try:
        return make_board(*parse_board(spec), square_mm, "charuco" if charuco else "checkerboard")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class _Progress:
    """The pipeline's progress callback as a tqdm bar on standard error."""

    def __init__(self, desc: str, counted: str = "detection", unit: str = "view"):
        from tqdm import tqdm

        self.counted = counted
        self.bar = tqdm(desc=desc, unit=unit, leave=False, disable=None)

    def __call__(self, done, total, stage):
        if stage == self.counted:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()
        else:
            self.bar.set_description(stage)

    def close(self):
        self.bar.close()


def _run_calibration(fn, desc):
    """Run ``fn(progress)``; calibration and file errors become one-line command errors."""
    from calibration.intrinsics import CalibrationError
    from calibration.io import CalibrationFileError

    progress = _Progress(desc)
    try:
        return fn(progress)
    except (CalibrationError, CalibrationFileError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()


def _existing_group(path: Path):
    from calibration.camera import CameraGroup
    from calibration.io import load_toml

    return load_toml(path) if path.is_file() else CameraGroup(())


BOARD_OPTIONS = [
    click.option("--board", "board_spec", default="9x6", show_default=True, help="Inner corners, COLSxROWS."),
    click.option("--square-mm", default=115.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Square side in millimetres."),
    click.option("--charuco", is_flag=True, help="The board is a ChArUco board (DICT_5X5_100, markers 75 % of a square)."),
]


def board_options(fn):
    for option in reversed(BOARD_OPTIONS):
        fn = option(fn)
    return fn


@calibrate_group.command("intrinsics")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", "name", required=True, help="Camera name, as in config.yaml.")
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
def calibrate_intrinsics_cmd(source, name, board_spec, square_mm, charuco, out):
    """Intrinsics of one camera from a folder of images or a video; adds or replaces it in --out."""
    import re
    from dataclasses import replace

    from calibration.io import save_toml
    from calibration.pipeline import intrinsics_from_source
    from settings import CAMERA_NAME

    if not re.match(CAMERA_NAME, name):
        raise click.BadParameter("letters, digits, '_' or '-' (at most 32)", param_hint="--camera")
    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        group = _existing_group(out)  # a malformed file is refused before the long work
        result = intrinsics_from_source(source, name, board, progress)
        meta = dict(group.metadata)
        meta.setdefault("intrinsics", {})[name] = result.summary()
        save_toml(replace(group.replace_camera(result.camera), metadata=meta), out)
        return result

    result = _run_calibration(run, f"{name}: detecting the board")
    s = result.summary()
    click.echo(f"{name}: {s['used']} of {s['views']} views used (board found in {s['found']}), RMS {s['rms_px']:.3f} px, "
               f"coverage {s['coverage']:.0%}, fx {s['fx']:.1f} fy {s['fy']:.1f} cx {s['cx']:.1f} cy {s['cy']:.1f} px")
    if s["rejected"]:
        click.echo(f"{name}: rejected views (error far above the others): {', '.join(s['rejected'])}")
    click.echo(f"saved {out}")


@calibrate_group.command("extrinsics")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--intrinsics", "intrinsics_path", required=True, type=click.Path(exists=True, dir_okay=False,
                                                                                path_type=Path))
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--floor", default=None, help="Name of the view where the board lies on the floor (default: 'floor').")
@click.option("--refine-intrinsics", is_flag=True, help="Also refine every camera's intrinsics.")
def calibrate_extrinsics_cmd(frames_dir, intrinsics_path, board_spec, square_mm, charuco, out, floor,
                             refine_intrinsics):
    """All cameras' poses together (bundle adjustment) from synchronized views of the board.

    FRAMES_DIR holds one sub-folder per camera (named like the camera) with synchronized
    images sharing file names, or one video per camera <camera>.<ext>.
    """
    from calibration.io import load_toml, save_toml
    from calibration.pipeline import extrinsics_from_frames

    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        intrinsics = load_toml(intrinsics_path)
        result = extrinsics_from_frames(frames_dir, intrinsics, board, floor, refine_intrinsics, progress)
        save_toml(result.group, out)
        return result

    result = _run_calibration(run, "detecting the board")
    _echo_rig(result, out)


@calibrate_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
def calibrate_import_cmd(source, out):
    """Convert a Qualisys .qca.txt or an anipose / Pose2Sim / FreeMoCap TOML into VSION's TOML."""
    from calibration.io import load_calibration, save_toml

    group = _run_calibration(lambda progress: load_calibration(source), "reading")
    save_toml(group, out)
    click.echo(f"imported {len(group)} camera(s) ({', '.join(group.names)}) from {source}; saved {out}")


def _echo_rig(result, out) -> None:
    for name in result.group.names:
        click.echo(f"{name}: {result.views[name]} views, reprojection median {result.errors_px[name]:.3f} px, "
                   f"RMS {result.rms_px[name]:.3f} px")
    click.echo(f"{len(result.board_poses)} board moments, {result.outliers} outlier corners removed, "
               f"{result.seconds:.1f} s; saved {out}")


@calibrate_group.command("redo-positions")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calibration", "calibration_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The calibration whose intrinsics are kept.")
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--floor", default=None, help="Name of the view where the board lies on the floor (default: 'floor').")
def calibrate_redo_positions_cmd(frames_dir, calibration_path, board_spec, square_mm, charuco, out, floor):
    """Cameras moved: every camera's position again from new board views, the intrinsics kept.

    FRAMES_DIR is laid out as for ``calibrate extrinsics``.
    """
    from calibration.io import load_calibration, save_toml
    from calibration.pipeline import positions_from_frames

    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        result = positions_from_frames(frames_dir, load_calibration(calibration_path), board, floor, progress)
        save_toml(result.group, out)
        return result

    result = _run_calibration(run, "detecting the board")
    for change in result.group.metadata["position_changes"]:
        click.echo(f"{change['name']}: moved {change['centre_shift_mm']:.1f} mm, turned {change['rotation_deg']:.2f} deg")
    _echo_rig(result, out)


def _floor_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        start, end = (float(v) for v in text.split(":"))
    except ValueError:
        raise click.BadParameter("START:END in seconds from the start of the take, for example 40:45") from None
    if not 0 <= start < end:
        raise click.BadParameter("START:END with 0 <= START < END")
    return start, end


@calibrate_group.command("take")
@click.argument("take_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--intrinsics", "intrinsics_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Solve the positions (all cameras together) with these intrinsics; without it, each camera's "
                   "intrinsics (the board shown to one camera at a time), added to --out.")
@click.option("--floor-s", "floor_s", default=None, help="START:END seconds of the take where the board lies on the floor.")
@click.option("--camera", "cameras", multiple=True, help="Only these cameras (intrinsics; repeat the option).")
def calibrate_take_cmd(take_dir, board_spec, square_mm, charuco, out, intrinsics_path, floor_s, cameras):
    """Calibrate from a recorded take in which the board was shown (still, sharp views at new positions)."""
    from dataclasses import replace

    from calibration.io import load_toml, save_toml
    from calibration.recording import extrinsics_from_take, intrinsics_from_take

    board = _board(board_spec, square_mm, charuco)
    window = _floor_window(floor_s)

    def run(progress):
        if intrinsics_path is not None:
            result = extrinsics_from_take(take_dir, load_toml(intrinsics_path), board, window, progress=progress)
            save_toml(result.group, out)
            return result
        group = _existing_group(out)  # a malformed file is refused before the long work
        results = intrinsics_from_take(take_dir, board, list(cameras) or None, progress=progress)
        meta = dict(group.metadata)
        for name, found in results.items():
            group = group.replace_camera(found.camera)
            meta.setdefault("intrinsics", {})[name] = found.summary()
        save_toml(replace(group, metadata=meta), out)
        return results

    result = _run_calibration(run, "looking for the board")
    if intrinsics_path is not None:
        _echo_rig(result, out)
        return
    for name, found in result.items():
        click.echo(f"{name}: {found.used} views used, RMS {found.rms_px:.3f} px, coverage {found.coverage:.0%}")
    click.echo(f"saved {out}")


@calibrate_group.command("check")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calibration", "calibration_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The calibration in force.")
@board_options
def calibrate_check_cmd(frames_dir, calibration_path, board_spec, square_mm, charuco):
    """Calibration health: is the calibration still right for board views shown now?

    FRAMES_DIR is laid out as for ``calibrate extrinsics`` (one sub-folder per camera, a shared
    name per instant). Prints each camera's leave-one-out reprojection error and whether it
    seems to have moved.
    """
    from calibration.health import board_health
    from calibration.io import load_calibration
    from calibration.pipeline import detect_views, frame_views

    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        group = load_calibration(calibration_path)
        found, _ = detect_views(frame_views(frames_dir, group.names, board), str(frames_dir), progress)
        labels = sorted({label for views in found.values() for label in views})
        shows = [{n: found[n][label] for n in found if found[n].get(label) is not None} for label in labels]
        return board_health(group, shows, board)

    report = _run_calibration(run, "detecting the board")
    for cam in report.cameras:
        error = "no views" if cam.error_px is None else f"{cam.error_px:.2f} px (limit {cam.limit_px:.2f} px)"
        click.echo(f"{cam.name}: {error}{': seems to have moved' if cam.moved else ''}")


@calibrate_group.command("print")
@click.option("--board", "board_spec", default="9x6", show_default=True, help="Inner corners, COLSxROWS.")
@click.option("--square-mm", default=115.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--charuco", is_flag=True, help="A ChArUco board (DICT_5X5_100).")
@click.option("--marker-mm", type=click.FloatRange(min=0, min_open=True), help="ChArUco marker side (default 75 %).")
@click.option("--paper", default="A4", show_default=True, help="A4, A3 or WIDTHxHEIGHT in millimetres.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="board.pdf or board.svg")
def calibrate_print_cmd(board_spec, square_mm, charuco, marker_mm, paper, out):
    """A printable board at true scale, with its size and a check square to measure."""
    import re

    from calibration.boards import make_board, parse_board
    from calibration.printing import board_pdf, board_svg
    from common.files import write_bytes

    if out.suffix.lower() not in (".pdf", ".svg"):
        raise click.BadParameter("the file must end in .pdf or .svg", param_hint="--out")
    custom = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[xX]\s*(\d+(?:\.\d+)?)\s*", paper)
    if paper.upper() not in ("A4", "A3") and not custom:
        raise click.BadParameter("A4, A3 or WIDTHxHEIGHT in millimetres, for example 1200x900", param_hint="--paper")
    try:
        board = make_board(*parse_board(board_spec), square_mm, "charuco" if charuco else "checkerboard", marker_mm)
        size = (float(custom.group(1)), float(custom.group(2))) if custom else paper
        data = board_pdf(board, size) if out.suffix.lower() == ".pdf" else board_svg(board, size).encode()
        write_bytes(out, data)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"saved {out} ({board.cols} x {board.rows} inner corners, squares {square_mm:g} mm): print it at 100 %")


PROCESS_OPTIONS = [
    click.option("--calibration", "calibration", required=True,
                 type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Calibration TOML."),
    click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."),
    click.option("--cutoff", default=6.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Low-pass filter cutoff (Hz)."),
    click.option("--no-filter", is_flag=True, help="Do not low-pass filter the 3D trajectories (gaps are still filled)."),
]


def process_options(fn):
    for option in reversed(PROCESS_OPTIONS):
        fn = option(fn)
    return fn


def _run_reconstruction(fn, calibration: Path):
    """Load the calibration and run ``fn(group, progress)``; input errors become one-line command errors."""
    from calibration.io import CalibrationFileError, load_calibration
    from reconstruction.pipeline import ProcessError

    progress = _Progress("2d pose", counted="2d pose", unit="frame")
    try:
        return fn(load_calibration(calibration), progress)
    except (ProcessError, CalibrationFileError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()


def _summary(report: dict, out: Path) -> None:
    median = report["median_reprojection_px"]
    cv = report["mean_segment_cv_pct"]
    click.echo(f"{report['frames']} frames from {len(report['cameras'])} cameras: "
               f"{report['reconstructed_pct']:.1f} % of joints reconstructed, median reprojection error "
               f"{'-' if median is None else f'{median:.1f} px'}, limb length variation "
               f"{'-' if cv is None else f'{cv:.1f} %'}; outputs in {out}")


@cli.command("process")
@click.argument("take_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@process_options
@click.option("--sync", "sync_method", type=click.Choice(["auto", "timestamps", "none"]), default=None,
              help="How to align the cameras [default: timestamps if the take has them, else auto].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="2D pose processes [default: one per core].")
def process_cmd(take_dir, calibration, out, cutoff, no_filter, sync_method, workers):
    """2D pose, synchronization, triangulation, filtering and exports of a take."""
    from reconstruction.pipeline import Options, process_take

    options = Options(sync=sync_method, cutoff_hz=None if no_filter else cutoff, workers=workers)
    report = _run_reconstruction(lambda group, progress: process_take(take_dir, group, out, options, progress),
                                 calibration)
    if report["sync"]["method"] == "auto":
        offsets = ", ".join(f"{n} {o:+d}" for n, o in report["sync"]["offsets"].items())
        click.echo(f"synchronization offsets (frames): {offsets}")
    _summary(report, out)


@cli.command("triangulate")
@click.argument("keypoints", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@process_options
def triangulate_cmd(keypoints, calibration, out, cutoff, no_filter):
    """3D reconstruction from 2D keypoints alone (a keypoints2d.npz)."""
    from reconstruction.pipeline import Options, triangulate_file

    options = Options(cutoff_hz=None if no_filter else cutoff)
    report = _run_reconstruction(lambda group, progress: triangulate_file(keypoints, group, out, options, progress),
                                 calibration)
    _summary(report, out)


@cli.command("compare")
@click.argument("attempt_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Result JSON file.")
@click.option("--steps", "steps_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Steps JSON [default: steps.json in REFERENCE_DIR, if any].")
def compare_cmd(attempt_dir, reference_dir, out, steps_file):
    """Score a processed take against a reference (both folders hold pose3d.csv)."""
    from reconstruction.exports import ExportError, write_json
    from training.comparison import ComparisonError, compare_folders, load_steps

    try:
        steps = load_steps(steps_file) if steps_file else None
        result = compare_folders(attempt_dir, reference_dir, steps)
        write_json(out, result)
    except (ComparisonError, ExportError) as exc:
        raise click.ClickException(str(exc)) from None
    worst = ", ".join(f"{m['joint']} at {m['reference_s']:.1f} s" for m in result["worst"])
    click.echo(f"score {result['score']:.1f} / 100 (mean angle difference {result['difference_deg']:.1f} deg, "
               f"speed x{result['speed_ratio']}); worst: {worst or '-'}; saved {out}")


if __name__ == "__main__":
    import multiprocessing

    # In the built executable, the pose worker processes (started with "spawn") run this same
    # executable: freeze_support() runs the worker and exits before the command line is parsed.
    multiprocessing.freeze_support()
    # The built executable's server reads its configuration from the per-user data folder.
    frozen_config = str(user_data_dir() / "config.yaml")
    cli(default_map={"serve": {"config": frozen_config}, "users": {"create": {"config": frozen_config}},
                     "cameras": {"list": {"config": frozen_config}, "set-url": {"config": frozen_config}}}
        if getattr(sys, "frozen", False) else None)
