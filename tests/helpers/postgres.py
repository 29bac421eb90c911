"""A real, throw-away PostgreSQL server for the tests (Debian's PostgreSQL binaries).

``PostgresServer().start()`` makes a cluster in a temporary folder, listening only on
127.0.0.1 on a free port (its socket in that folder, never the system's), with a random
password; ``database()`` creates an empty database and returns its SQLAlchemy URL;
``stop()`` stops the server and deletes everything. The server is a child process of the
tests; as root it runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

POSTGRES_USER = "postgres"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster; ``start()`` returns self, ``stop()`` always cleans up."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
        self.password = secrets.token_hex(16)
        self.superuser = "vsion_test"
        self.port = 0
        self.root: Path | None = None
        self._owner: pwd.struct_passwd | None = pwd.getpwnam(POSTGRES_USER) if os.geteuid() == 0 else None
        self._count = 0
        self.proc: subprocess.Popen | None = None

    def _parent(self) -> str:
        """Where to make the cluster's folder: the temp dir, or /tmp if the server's user cannot reach it."""
        parent = Path(tempfile.gettempdir()).resolve()
        if self._owner is None:
            return str(parent)
        reachable = all(folder.stat().st_mode & stat.S_IXOTH for folder in (parent, *parent.parents))
        return str(parent) if reachable else "/tmp"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _as_owner(self) -> dict:
        """Popen arguments that run a command as the server's user (PostgreSQL refuses root)."""
        if self._owner is None:
            return {}
        return {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                                timeout=timeout, cwd=self.root, env=self._env, **self._as_owner())
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    @property
    def _env(self) -> dict:
        return {**os.environ, "LC_ALL": "C.UTF-8", "HOME": str(self.root)}

    def start(self, timeout: float = 30) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="vsion-pg-", dir=self._parent()))
        try:
            pwfile = self.root / "pwfile"
            pwfile.write_text(self.password + "\n")
            if self._owner is not None:
                for path in (self.root, pwfile):
                    os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
            self._run("initdb", "-D", str(self.datadir), "-U", self.superuser, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
            pwfile.unlink()
            for attempt in range(3):  # the free port may be taken between choosing and binding it
                self.port = _free_port()
                if self._launch(timeout):
                    break
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log()[-2000:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, timeout: float) -> bool:
        """Start the server in the foreground (our child, so we reap it); True once it accepts connections."""
        import psycopg

        command = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                   "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                   "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                   "-c", "max_connections=50"]
        with open(self.root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.root, env=self._env, **self._as_owner())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                psycopg.connect(host="127.0.0.1", port=self.port, user=self.superuser, password=self.password,
                                dbname="postgres", connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        self._terminate()
        return False

    def _terminate(self) -> None:
        """Fast shutdown (SIGINT: disconnect clients, stop cleanly); kill it if that takes too long."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.superuser, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL (psycopg 3)."""
        self._count += 1
        name = f"vsion_{self._count}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace") if path and path.is_file() else ""

    def stop(self) -> None:
        try:
            self._terminate()
        finally:
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None
