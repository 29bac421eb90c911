"""Serving the app: gunicorn (production) or Werkzeug (``--debug``), plain HTTP or HTTPS, and the
optional plain-HTTP listener that only redirects to HTTPS.

Production is what Flask-SocketIO supports with ``async_mode="threading"``: gunicorn's threaded
worker with simple-websocket, ONE worker process (the cameras, recordings and Socket.IO rooms
live in it), ``server.threads`` threads (each page's Socket.IO link and each MJPEG viewer holds
one). The running system starts in that worker once it is up, and stops there on SIGTERM or
Ctrl-C before the worker exits: a take in progress is finished and every thread joined.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.serving import WSGIRequestHandler

from database.base import db
from web.extensions import socketio
from web.tls import TlsFiles

logger = logging.getLogger(__name__)

SERVER_NAME = "VSION"  # the Server header: no product version for a scanner to match
WORKER_TIMEOUT_S = 120  # a worker silent this long is restarted by gunicorn's arbiter
GRACEFUL_S = 45         # time for the worker to stop cleanly (a take finishing) before it is killed


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen and how. ``redirect_port``: a plain HTTP port redirecting to HTTPS."""

    host: str
    port: int
    tls: TlsFiles | None = None
    redirect_port: int | None = None
    threads: int = 100
    debug: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"


# --------------------------------------------------------------------------- redirect to HTTPS
class _Redirect(BaseHTTPRequestHandler):
    """Every request: 308 to the same path on the HTTPS port, on the host the client asked for."""

    https_port = 443

    def version_string(self) -> str:
        return SERVER_NAME

    def _redirect(self):
        host = urlsplit("//" + (self.headers.get("Host") or "localhost")).hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        path = self.path if self.path.startswith("/") else "/"
        self.send_response(308)
        self.send_header("Location", f"https://{host}:{self.https_port}{path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _redirect

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        logger.debug("redirect to HTTPS: " + format, *args)


class RedirectListener:
    """A small plain-HTTP server on ``port`` redirecting to HTTPS on ``https_port``. ``start()``
    returns self; ``stop()`` closes it and joins its thread."""

    def __init__(self, host: str, port: int, https_port: int):
        handler = type("Redirect", (_Redirect,), {"https_port": https_port})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="https-redirect", daemon=True)

    def start(self) -> RedirectListener:
        self.thread.start()
        logger.info("plain HTTP on port %d redirects to HTTPS", self.server.server_address[1])
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --------------------------------------------------------------------------- gunicorn
class _Logs(glogging.Logger):
    """gunicorn's messages through VSION's logging (format, masking); no access log."""

    def setup(self, cfg):
        self.error_log.propagate = True
        self.error_log.setLevel(logging.INFO)
        self.access_log.propagate = False
        self.access_log.disabled = True


class VsionWorker(ThreadWorker):
    """gunicorn's threaded worker, which stops VSION cleanly on SIGTERM and on Ctrl-C alike (the
    system first, so that previews and Socket.IO links end and the worker can exit)."""

    def init_process(self):
        gunicorn_wsgi.SERVER = SERVER_NAME  # read by each response for its Server header
        super().init_process()

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        self.app.begin_stop()

    def handle_quit(self, sig, frame):  # SIGINT / SIGQUIT: the same clean stop, not an abrupt exit
        self.handle_exit(sig, frame)


class GunicornServer(BaseApplication):
    """The app under gunicorn: one worker process, ``options.threads`` threads. ``start`` and
    ``stop`` are the running system's lifespan, called in the worker."""

    def __init__(self, app: Flask, options: ServeOptions, start: Callable[[], object], stop: Callable[[], None]):
        self.flask_app, self.options = app, options
        self._start, self._stop = start, stop
        self._stopping: threading.Thread | None = None
        self._lock = threading.Lock()
        self._redirect: RedirectListener | None = None
        super().__init__()

    def load_config(self):
        opts, host = self.options, self.options.host
        settings = {
            "bind": [f"[{host}]:{opts.port}" if ":" in host else f"{host}:{opts.port}"],
            "workers": 1, "worker_class": VsionWorker, "threads": opts.threads, "timeout": WORKER_TIMEOUT_S,
            "graceful_timeout": GRACEFUL_S, "keepalive": 5, "logger_class": _Logs, "accesslog": None,
            "proc_name": "vsion", "post_worker_init": self._worker_started,
            "worker_exit": self._worker_exit, "forwarded_allow_ips": "",  # proxies: server.trusted_proxies
        }
        if opts.tls is not None:
            settings.update(certfile=str(opts.tls.cert), keyfile=str(opts.tls.key))
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24: no control socket in $HOME
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self.flask_app

    def _worker_started(self, worker) -> None:
        with self.flask_app.app_context():
            db.engine.dispose(close=False)  # connections opened before the fork belong to the arbiter
        self._start()
        if self.options.redirect_port and self.options.tls is not None:
            self._redirect = RedirectListener(self.options.host, self.options.redirect_port, self.options.port).start()
        logger.info("VSION listening on %s", self.options.url)

    def begin_stop(self) -> None:
        """Start stopping VSION (once): in a thread, since a signal handler must return at once."""
        with self._lock:
            if self._stopping is None:
                self._stopping = threading.Thread(target=self._stop_all, name="vsion-stop")
                self._stopping.start()

    def _stop_all(self) -> None:
        logger.info("shutting down")
        if self._redirect is not None:
            self._redirect.stop()
        try:
            self._stop()
        finally:
            socketio.server.eio.disconnect()  # every link, so the worker's threads end and it can exit

    def _worker_exit(self, arbiter, worker) -> None:
        self.begin_stop()
        self._stopping.join()


# --------------------------------------------------------------------------- Werkzeug (--debug)
class _DevHandler(WSGIRequestHandler):
    def version_string(self) -> str:
        return SERVER_NAME


def serve_debug(app: Flask, options: ServeOptions) -> None:
    """Werkzeug's development server (``--debug`` only: one request at a time per thread, not
    for a site); returns on KeyboardInterrupt."""
    ssl = (str(options.tls.cert), str(options.tls.key)) if options.tls is not None else None
    redirect = None
    if options.redirect_port and ssl:
        redirect = RedirectListener(options.host, options.redirect_port, options.port).start()
    logger.warning("development server (--debug): not for a site")
    logger.info("VSION listening on %s", options.url)
    try:
        socketio.run(app, host=options.host, port=options.port, allow_unsafe_werkzeug=True, use_reloader=False,
                     log_output=False, ssl_context=ssl, request_handler=_DevHandler)
    except KeyboardInterrupt:
        pass
    finally:
        if redirect is not None:
            redirect.stop()


def serve_production(app: Flask, options: ServeOptions, start: Callable[[], object], stop: Callable[[], None]) -> None:
    """gunicorn until SIGTERM or Ctrl-C; ``start`` / ``stop`` run in its worker process."""
    GunicornServer(app, options, start, stop).run()
