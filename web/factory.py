"""The application factory: :func:`create_app` builds the Flask app and the running system,
and starts nothing; :func:`prepare_app` makes the data folder, the session key and the database
schema; :func:`start_app` and :func:`stop_app` are the lifespan ``serve`` and ``demo`` use."""
from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from common import jsonsafe
from common.files import write_text
from common.resources import resource
from config.loader import load_settings, register_secrets
from config.schema import Settings
from database.base import db, normalize_url
from database.migrate import upgrade_database
from system import System, build_system
from system.storage import make_private
from web import MAX_BODY_BYTES, register
from web.auth import SessionInterface, session_config
from web.extensions import csrf, limiter, login_manager, socketio
from web.notify import WebNotifier
from web.sockets import AddressCap, SocketRegistry, guard_packets
from web.state import EXTENSION, LINKS, system

SECRET_KEY_FILE = "secret_key"
SOCKET_PACKET_BYTES = 64 * 1024  # the largest Socket.IO message VSION reads (its events are small)


def _secret_key(data_dir: Path) -> str | None:
    """The session signing key of this installation, if :func:`prepare_app` made it already."""
    try:
        return (data_dir / SECRET_KEY_FILE).read_text().strip() or None
    except OSError:
        return None


def _flask_config(settings: Settings) -> dict:
    return dict(
        SECRET_KEY=_secret_key(settings.data_dir),
        SQLALCHEMY_DATABASE_URI=normalize_url(os.environ.get("DATABASE_URL") or "")
        or f"sqlite:///{settings.data_dir / 'vsion.db'}",
        **session_config(),  # cookie name and flags (Secure: see web.auth.SessionInterface)
        REMEMBER_COOKIE_HTTPONLY=True,
        # Idle expiry: a permanent session's cookie is renewed by each request and refused when older.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.security.session_idle_minutes),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,  # per route: web.BODY_LIMITS
        MAX_FORM_PARTS=32,
    )


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    limiter.init_app(app)  # POST /login only: security.login_rate_limit per client address
    app.session_interface = SessionInterface()  # Secure cookie per security.secure_cookies
    # Our loggers (not python-socketio's own handlers) so the masking filter sees their lines.
    # Packets are read by the bounded JSON decoder, and are small.
    socketio.init_app(app, async_mode="threading", logger=logging.getLogger("socketio.server"),
                      engineio_logger=logging.getLogger("engineio.server"), json=jsonsafe,
                      max_http_buffer_size=SOCKET_PACKET_BYTES)
    guard_packets(socketio)


def _wrap_wsgi(app: Flask, settings: Settings) -> None:
    """Cap the Socket.IO links per client address; behind ``server.trusted_proxies`` reverse
    proxies, read the client's address, scheme and host from their X-Forwarded-* headers."""
    app.wsgi_app = AddressCap(app.wsgi_app, settings.limits.sockets_per_address)
    hops = settings.server.trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def create_app(settings: Settings | None = None, test_config: dict | None = None,
               config_path: str | Path | None = None) -> Flask:
    """The Flask app for ``settings`` (default: read from ``config_path``, else ``$VSION_CONFIG``
    or ``config.yaml``), with its running system built but not started. ``config_path`` is the
    file the Cameras page keeps the cameras in (without it, given settings cannot be changed
    there). ``test_config`` overrides Flask settings."""
    if settings is None:
        config_path = config_path or os.environ.get("VSION_CONFIG", "config.yaml")
        settings = load_settings(config_path)
    register_secrets(settings)
    app = Flask(__name__, template_folder=str(resource("templates")), static_folder=str(resource("static")))
    app.config.from_mapping(_flask_config(settings))
    if test_config:
        app.config.update(test_config)
    _init_extensions(app)
    _wrap_wsgi(app, settings)
    register(app)
    links = app.extensions[LINKS] = SocketRegistry()
    notifier = WebNotifier(links, settings.security.session_max_hours * 3600)
    app.extensions[EXTENSION] = build_system(settings, notifier, app.app_context,
                                             Path(config_path) if config_path else None)
    return app


def prepare_app(app: Flask) -> System:
    """Make what the app needs on disk: the data folder, the session key (mode 0600, once per
    installation) and the database at the newest schema. Idempotent."""
    running = app.extensions[EXTENSION]
    data_dir = running.settings.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        key = _secret_key(data_dir)
        if key is None:
            key = secrets.token_hex(32)
            write_text(data_dir / SECRET_KEY_FILE, key, mode=0o600)
        app.config["SECRET_KEY"] = key
    upgrade_database(app, resource("migrations"))
    make_private(data_dir)
    running.sync_calibrations()
    return running


def start_app(app: Flask) -> System:
    """Prepare the app, then start its running system (cameras, wizard, live pose, resumed jobs)."""
    running = prepare_app(app)
    with app.app_context():
        return running.start()


def stop_app(app: Flask) -> None:
    """Stop the app's running system: a take in progress is finished, every thread joined."""
    with app.app_context():
        system().stop()
