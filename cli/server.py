"""``serve`` and ``demo``: start the web app (and, for the demo, its cameras, users and calibration)."""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import sys
import threading
import zipfile
from pathlib import Path

import click
from flask import Flask
from flask import cli as flask_cli
from pydantic import ValidationError

from accounts.policy import ROLES
from accounts.users import create_user, user_exists
from calibration.camera import CameraGroup
from calibration.io import load_qca
from calibration.store import activate, save_set
from capture import demo
from cli.common import load, user_data_dir
from common.files import write_text
from config.edit import dump_settings
from config.loader import describe_error, parse_settings
from config.schema import ConfigError, ServerConfig, Settings
from database.base import db
from web.factory import create_app, prepare_app, start_app, stop_app
from web.serving import ServeOptions, serve_debug, serve_production
from web.tls import TlsFiles, auto_certificate, fingerprint, site_certificate

logger = logging.getLogger("vsion")

DEMO_CAMERAS = 4


def with_flags(settings: Settings, **flags) -> Settings:
    """``settings`` with the ``server`` values given on the command line (None: from the file)."""
    given = {key: value for key, value in flags.items() if value is not None}
    if not given:
        return settings
    try:
        server = ServerConfig.model_validate({**settings.server.model_dump(), **given})
    except ValidationError as exc:
        raise click.ClickException(describe_error(exc, "command line", ("server",))) from None
    return settings.model_copy(update={"server": server})


def tls_files(settings: Settings) -> TlsFiles | None:
    """The certificate and key to serve HTTPS with (made for ``tls_cert: auto``); None for HTTP."""
    server = settings.server
    try:
        if server.tls_cert == "auto":
            return auto_certificate(settings.data_dir, server.host)
        if server.tls_cert is not None:
            return site_certificate(server.tls_cert, server.tls_key)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"HTTPS: {exc}") from None
    return None


def _announce(options: ServeOptions) -> None:
    if options.tls is None:
        return
    click.echo(f"HTTPS certificate {options.tls.cert} SHA-256 {fingerprint(options.tls.cert)}")
    if options.tls.ca is not None:
        click.echo(f"  signed by this VSION's authority {options.tls.ca} (install it on the tablets once) "
                   f"SHA-256 {fingerprint(options.tls.ca)}")


def serve(app: Flask, debug: bool = False) -> None:
    """Serve ``app`` as its settings say (``server``) until Ctrl-C or SIGTERM, then shut every
    thread down cleanly: gunicorn (one worker process, threads), or Werkzeug with ``debug``."""
    settings: Settings = app.extensions["vsion"].settings
    os.umask(0o077)  # everything VSION writes (database, takes, keys) is private to its account
    prepare_app(app)  # the database at the newest schema before serving: a problem stops the start here
    with app.app_context():
        db.engine.dispose()  # no connection crosses into the server's worker process
    server = settings.server
    options = ServeOptions(server.host, server.port, tls_files(settings), server.http_redirect_port, server.threads,
                           debug)
    _announce(options)
    if not debug:
        serve_production(app, options, start=lambda: start_app(app), stop=lambda: stop_app(app))
        return

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    start_app(app)
    flask_cli.show_server_banner = lambda *args, **kwargs: None  # VSION logs its own address
    try:
        serve_debug(app, options)
    finally:
        logger.info("shutting down")
        stop_app(app)


def server_options(fn):
    """The ``server`` flags ``serve`` and ``demo`` share; each overrides config.yaml's ``server``."""
    for option in reversed((
            click.option("--host", default=None, help="Address to listen on (config server.host; default 127.0.0.1)."),
            click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (config server.port; 5000)."),
            click.option("--tls-cert", default=None, help="'auto' (self-signed, made once) or a PEM certificate."),
            click.option("--tls-key", default=None, help="The private key of --tls-cert."),
            click.option("--http-redirect-port", default=None, type=click.IntRange(1, 65535),
                         help="Also listen on this plain HTTP port, redirecting to HTTPS."),
            click.option("--debug", is_flag=True, help="Werkzeug's development server instead of gunicorn."))):
        fn = option(fn)
    return fn


@click.command("serve")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
@server_options
def serve_cmd(config, host, port, tls_cert, tls_key, http_redirect_port, debug):
    """Start the web app."""
    settings = with_flags(load(config, seal=True), host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                          http_redirect_port=http_redirect_port)
    try:
        app = create_app(settings, config_path=config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    serve(app, debug)


def demo_dir() -> Path:
    return user_data_dir() / "demo"


def _demo_logins(folder: Path) -> list[tuple[str, str, str]]:
    """The demo's users (name, role, password): random passwords made once, kept in
    ``demo-logins.txt`` (mode 0600)."""
    logins = folder / "demo-logins.txt"
    if logins.is_file():
        return [tuple(line.split(" ", 2)) for line in logins.read_text().splitlines() if line.strip()]
    users = [(role, role, secrets.token_urlsafe(15)) for role in ROLES]  # 20 characters
    write_text(logins, "".join(f"{name} {role} {password}\n" for name, role, password in users), mode=0o600)
    return users


def _demo_users(app: Flask, folder: Path) -> list[tuple[str, str, str]]:
    """Create the demo users once (the first start, or after the database was deleted)."""
    users = _demo_logins(folder)
    with app.app_context():
        for name, role, password in users:
            if not user_exists(name):
                create_user(name, password, role)
    return users


def _demo_calibration(settings: Settings, folder: str = demo.POSE2SIM_DEMO) -> None:
    """Install the demo videos' own calibration (Pose2Sim's Qualisys file of ``folder``) once, so
    that live 3D works at once; the technician can replace it from the Calibration page."""
    if settings.calibration_path.is_file():
        return
    try:
        group = load_qca(demo.pose2sim_file("calibration/Calib.qca.txt", folder))
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        logger.warning("demo calibration unavailable (%s): live 3D needs a calibration", exc)
        return
    names = [c.name for c in settings.cameras]
    cams = [dataclasses.replace(cam, name=name) for name, cam in zip(names, group.cameras)]
    root = settings.data_dir / "calibration" / "sets"
    meta = save_set(root, CameraGroup(cams, dict(group.metadata)),
                    note=f"demo cameras (Pose2Sim {folder.rsplit('/', 1)[-1]}, Qualisys)")
    activate(root, meta["id"], settings.calibration_path)


def _demo_config(folder: Path, people: bool = False) -> Path:
    """The demo's ``config.yaml``, made on first start: four ``demo:N`` cameras, or for the
    several-people demo four cameras playing its videos (files in the cache)."""
    config = folder / "config.yaml"
    if not config.is_file():
        urls = [str(demo.demo_people_video(i)) if people else f"demo:{i}" for i in range(DEMO_CAMERAS)]
        cameras = [{"name": f"cam{i + 1}", "url": url} for i, url in enumerate(urls)]
        dump_settings(parse_settings({"cameras": cameras, "data_dir": "."}, base=folder), config)
    return config


def _prepare_videos(people: bool) -> None:
    click.echo("Preparing the demo cameras (the first time, this downloads and converts the demo videos)...")
    if not people:
        for n in range(demo.DEMO_VIDEOS):
            demo.demo_video(n)
        return
    try:
        for n in range(demo.DEMO_VIDEOS):
            demo.demo_people_video(n)
    except (RuntimeError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise click.ClickException(f"the several-people demo needs the Pose2Sim videos, which cannot be had "
                                   f"here ({exc}); `demo` without --people runs on test patterns") from None


@click.command("demo")
@server_options
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option("--people", is_flag=True, help="Several people in view: the cameras play Pose2Sim's Demo_MultiPerson "
              "(two people) with its own calibration; data in a folder of its own (demo-people).")
def demo_cmd(host, port, tls_cert, tls_key, http_redirect_port, debug, no_browser, people):
    """Start VSION on the built-in demo cameras (no hardware needed)."""
    folder = demo_dir() if not people else user_data_dir() / "demo-people"
    folder.mkdir(parents=True, exist_ok=True)
    _prepare_videos(people)
    config = _demo_config(folder, people)
    demo_settings = with_flags(load(str(config), seal=True), host=host, port=port, tls_cert=tls_cert,
                               tls_key=tls_key, http_redirect_port=http_redirect_port)
    _demo_calibration(demo_settings, demo.POSE2SIM_MULTI_DEMO if people else demo.POSE2SIM_DEMO)
    app = create_app(demo_settings, config_path=config)
    prepare_app(app)
    users = _demo_users(app, folder)
    server = demo_settings.server
    url = f"{'https' if server.tls else 'http'}://{'127.0.0.1' if server.host in ('0.0.0.0', '::') else server.host}" \
          f":{server.port}/"
    click.echo(f"VSION demo: {url}  (configuration {config})")
    click.echo("Demo logins (user / password):")
    for name, role, password in users:
        click.echo(f"  {name:<11} {password}   ({role})")
    if not no_browser and (os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32")):
        import webbrowser

        threading.Timer(1.5, webbrowser.open, args=(url,)).start()
    serve(app, debug)
