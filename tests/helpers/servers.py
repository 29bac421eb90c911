"""Real components for tests and benchmarks: an RTSP server, a VSION server, the demo server.

Nothing here is a mock: :class:`RtspServer` runs gst-rtsp-server (Debian's GStreamer,
under ``/usr/bin/python3``) on 127.0.0.1, and :class:`VsionServer` runs ``python app.py
serve`` in its own process, driven over HTTP and Socket.IO like a browser would; :class:`AppServer`
serves an app object of the test's own process.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio
import yaml
from requests.adapters import HTTPAdapter

from tests.helpers.paths import ROOT

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = ROOT / "tests" / "helpers" / "rtsp_server.py"


# The log file of each VSION server process a test started and has not stopped yet: a failing
# test's report ends with their last lines (tests/conftest.py), so a failure seen only in CI
# shows what the server did meanwhile.
RUNNING_LOGS: dict[int, Path] = {}


def server_log_tails(lines: int = 80) -> list[tuple[Path, str]]:
    """The last ``lines`` lines of each running VSION server's log (see :data:`RUNNING_LOGS`)."""
    tails = []
    for path in list(RUNNING_LOGS.values()):
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        tails.append((path, "\n".join(text)))
    return tails


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SourceAddress(HTTPAdapter):
    """Connections from a chosen local address (e.g. 127.0.0.2: another client of a loopback server)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_session(address: str | None = None, verify=True) -> requests.Session:
    """A requests session, connecting from ``address`` when given, checking TLS with ``verify``
    (True, False, or the path of a CA certificate)."""
    session = requests.Session()
    session.verify = verify
    session.trust_env = not isinstance(verify, str)  # else REQUESTS_CA_BUNDLE would replace this authority
    if address:
        for prefix in ("http://", "https://"):
            session.mount(prefix, SourceAddress(address))
    return session


def login_form(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
    """Post the real login form (CSRF token included) with ``session``; the answer, not followed.
    The session sends this site as its Referer from now on, as a browser does (over HTTPS, the
    CSRF check wants it)."""
    session.headers["Referer"] = url + "/"
    page = session.get(url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return session.post(url + "/login", data={"username": name, "password": password, "csrf_token": token},
                        timeout=10, allow_redirects=False)


def form_login(url: str, name: str, password: str, verify=True) -> requests.Session:
    """A requests session logged in through the real form (CSRF token included)."""
    session = client_session(verify=verify)
    reply = login_form(session, url, name, password)
    assert reply.status_code == 302, reply.text[:500]
    return session


class RtspServer:
    """gst-rtsp-server on 127.0.0.1 serving ``streams`` as ``/cam1`` ... ``/camN``, ``sub_streams``
    (an IP camera's low-resolution preview streams) as ``/cam1-sub`` ..., and ``audio_only`` mounts
    (sound, no video).

    ``kill()`` and ``start()`` may be called repeatedly to simulate an outage; the port stays.
    """

    def __init__(self, streams: list[Path], fps: int = 30, port: int | None = None, auth: str | None = None,
                 sub_streams: list[Path] = (), audio_only: tuple[str, ...] = ()):
        self.streams, self.fps, self.port, self.auth = streams, fps, port or free_port(), auth
        self.sub_streams, self.audio_only = list(sub_streams), tuple(audio_only)
        self.proc: subprocess.Popen | None = None

    def url(self, i: int, credentials: bool = True, sub: bool = False) -> str:
        return self.url_of(f"cam{i + 1}{'-sub' if sub else ''}", credentials)

    def url_of(self, mount: str, credentials: bool = True) -> str:
        userinfo = f"{self.auth}@" if self.auth and credentials else ""
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout: float = 30.0) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(RTSP_SCRIPT), "--port", str(self.port), "--fps", str(self.fps)]
        cmd += [arg for i, p in enumerate(self.streams) for arg in ("--stream", f"cam{i + 1}={p}")]
        cmd += [arg for i, p in enumerate(self.sub_streams) for arg in ("--stream", f"cam{i + 1}-sub={p}")]
        cmd += [arg for name in self.audio_only for arg in ("--audio-only", name)]
        if self.auth:
            cmd += ["--auth", self.auth]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.log = tempfile.NamedTemporaryFile("w+", prefix="rtsp-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if Path(self.log.name).read_text().startswith("READY"):
                return self
            time.sleep(0.05)
        output = Path(self.log.name).read_text()[-2000:]
        self.kill()
        raise RuntimeError(f"RTSP server did not start: {output}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    stop = kill


class VsionServer:
    """``python app.py serve`` in its own process, on a free port, with its own config and data."""

    def __init__(self, workdir: Path, cameras: list[dict], extra: dict | None = None, port: int | None = None,
                 users: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.workdir, self.port, self.args = Path(workdir), port or free_port(), tuple(args)
        self.config = self.workdir / "config.yaml"
        self.log = self.workdir / "server.log"
        self.data_dir = self.workdir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump({"cameras": cameras, "data_dir": "data", **(extra or {})}))
        self.users = users if users is not None else {"tech": "technician"}
        self.passwords: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None
        self.tls = bool((extra or {}).get("server", {}).get("tls_cert"))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self):
        """What a client checks this server's certificate with: its own authority (tls_cert: auto)."""
        return str(self.data_dir / "tls" / "ca.pem") if self.tls else True

    def create_users(self) -> None:
        for name, role in self.users.items():
            password = f"pw-{name}-{os.getpid()}-secret"
            subprocess.run([sys.executable, str(ROOT / "app.py"), "users", "create", name, "--role", role, "--config",
                            str(self.config)], input=password + "\n", text=True, check=True, capture_output=True,
                           cwd=self.workdir)
            self.passwords[name] = password

    def start(self, timeout: float = 60.0) -> VsionServer:
        if not self.passwords:
            self.create_users()
        self._log = open(self.log, "a")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--config", str(self.config),
                                      "--port", str(self.port), *self.args], stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        RUNNING_LOGS[id(self)] = self.log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"VSION exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if client_session(verify=self.verify).get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except (requests.ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("VSION did not answer /healthz in time")

    def wait_connected(self, count: int, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        health = {}
        while time.monotonic() < deadline:
            health = client_session(verify=self.verify).get(self.url + "/healthz", timeout=5).json()
            if health["connected"] >= count:
                return health
            time.sleep(0.25)
        raise AssertionError(f"only {health.get('connected')} of {count} cameras connected: {health}")

    def login(self, name: str = "tech") -> requests.Session:
        return form_login(self.url, name, self.passwords[name], self.verify)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def socket(self, session: requests.Session) -> EventClient:
        return EventClient(self.url, session)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        code = self.proc.returncode
        self.proc = None
        self._log.close()
        RUNNING_LOGS.pop(id(self), None)
        return code

    def crash(self) -> None:
        """SIGKILL every process of this server at once, as a power cut would: gunicorn's master and
        its worker (which holds the cameras and recordings; killed alone, the master would leave
        the worker to finish cleanly by itself), and what they started."""
        import psutil

        if self.proc is None:
            return
        family = [psutil.Process(self.proc.pid)]
        try:
            family += family[0].children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        for proc in family:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)
        self.stop()

    def kill(self) -> None:
        self.crash()


def mjpeg_viewer(url: str, session: requests.Session, stop: threading.Event, out: list):
    """Read an MJPEG stream; append (received monotonic ns, frame monotonic ns) per JPEG."""
    with session.get(url, stream=True, timeout=10) as reply:
        raw = reply.raw
        while not stop.is_set():
            headers = {}
            line = raw.readline()
            while line in (b"\r\n", b"--frame\r\n"):
                line = raw.readline()
            while line not in (b"\r\n", b""):
                key, _, value = line.decode().partition(":")
                headers[key.strip().lower()] = value.strip()
                line = raw.readline()
            if not line:
                return
            raw.read(int(headers["content-length"]))
            out.append((time.monotonic_ns(), int(headers.get("x-frame-monotonic-ns", 0))))


class EventClient:
    """A Socket.IO client logged in with a requests session's cookie, recording every event."""

    def __init__(self, url: str, session: requests.Session):
        self.events: list[tuple[str, object]] = []
        self._cond = threading.Condition()
        self.client = socketio.Client(reconnection=False, http_session=session)
        self.client.on("*", self._on_any)
        self.client.on("disconnect", lambda *args: self._on_any("disconnect", args))
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        self.client.connect(url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)

    def _on_any(self, event, data=None):
        with self._cond:
            self.events.append((event, data))
            self._cond.notify_all()

    def call(self, event: str, data=None, timeout: float = 60.0):
        return self.client.call(event, data, timeout=timeout)

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for name, data in self.events:
                    if name == event and predicate(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    last = [(e, d) for e, d in self.events if e == event][-3:]
                    raise AssertionError(f"no matching {event!r} event within {timeout} s; the last ones: {last}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self.client.disconnect()


DEMO_ROLES = ("admin", "technician", "expert", "trainee")
LOGIN_LINE = re.compile(r"\s+(admin|technician|expert|trainee)\s+(\S+)\s+\(")


class AppServer:
    """An app object of this process (e.g. :func:`tests.helpers.world.make_app`) served over HTTP
    on a free port by werkzeug's threaded server, so that a test can make objects in it with the
    world helpers and drive it with a browser. ``start()`` returns self; ``stop()`` joins."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-http", daemon=True)

    def start(self) -> AppServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


class DemoServer:
    """``python app.py demo`` on a free port with its data in ``data``; output in ``data/server.log``.

    ``command`` starts another VSION instead of ``python app.py`` (the built executable, say);
    ``args`` are more options of ``demo`` (``--people``)."""

    def __init__(self, data, command: list[str] | None = None, tls: bool = False, args: tuple[str, ...] = ()):
        self.data, self.port, self.tls, self.args = data, free_port(), tls, tuple(args)
        self.command = command or [sys.executable, str(ROOT / "app.py")]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.verify = str(data / "demo" / "tls" / "ca.pem") if tls else True
        self.log_path = data / "server.log"
        self.logins: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300.0) -> DemoServer:
        env = {**os.environ, "VSION_DATA": str(self.data)}
        with open(self.log_path, "w") as log:  # a file, not a pipe: a full pipe would block the server
            tls = ["--tls-cert", "auto"] if self.tls else []
            self.proc = subprocess.Popen([*self.command, "demo", "--port", str(self.port), "--no-browser", *tls,
                                          *self.args],
                                         stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.data)
        RUNNING_LOGS[id(self)] = self.log_path
        deadline = time.monotonic() + timeout
        while len(self.logins) < len(DEMO_ROLES):
            assert self.proc.poll() is None, f"the demo server exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"the demo server printed no logins:\n{self.log()}"
            self.logins = dict(LOGIN_LINE.findall(self.log()))
            time.sleep(0.2)

        def ready():
            try:
                return client_session(verify=self.verify).get(self.url + "/healthz", timeout=5).json()["connected"] == 4
            except (requests.ConnectionError, OSError):
                return False

        assert wait_until(ready, timeout=max(1.0, deadline - time.monotonic()), step=0.5), self.log()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def login(self, role: str) -> requests.Session:
        return form_login(self.url, role, self.logins[role], self.verify)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a service manager would stop it; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        RUNNING_LOGS.pop(id(self), None)
        return code

    def kill(self) -> None:
        RUNNING_LOGS.pop(id(self), None)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
