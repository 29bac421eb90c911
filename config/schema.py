"""The shape of ``config.yaml`` (``../shared/CONTRACT.md``), as pydantic models.

Unknown keys and bad values are refused with a message naming the key (see
:mod:`config.loader`). Camera URLs may carry credentials: they are shown only masked.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.masking import safe_url

MAX_CAMERAS = 6
CAMERA_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _camera_url(value):
    """A camera source: an RTSP (or HTTP) URL, a file path, a USB index (0..63) or ``demo:N``."""
    if isinstance(value, bool):
        raise ValueError("must be an RTSP URL, a file path, a USB index or demo:N")
    if isinstance(value, int):
        if not 0 <= value <= 63:
            raise ValueError("a USB camera index is between 0 and 63")
        return value
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if re.fullmatch(r"\d+", value):
        return int(value)
    if value.startswith("demo:") and not re.fullmatch(r"demo:\d+", value):
        raise ValueError("a demo camera is demo:N with N a number")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if scheme and scheme.group(1).lower() not in ("rtsp", "rtsps", "http", "https", "file"):
        raise ValueError(f"unsupported scheme {scheme.group(1)!r} (use rtsp://, a file path, a USB index or demo:N)")
    return value


def is_file_url(url) -> bool:
    """True when a camera ``url`` names a video file (not RTSP, USB or demo)."""
    return isinstance(url, str) and not url.startswith("demo:") and ("://" not in url or url.startswith("file://"))


class CameraConfig(_Strict):
    """One camera: ``url`` is ``rtsp://...``, a video file path, a USB index, or ``demo:N``.

    ``preview_url`` (optional) is the camera's low-resolution sub-stream: when set, previews,
    live pose and the calibration wizard's live view decode it, and the main stream (``url``)
    is only remuxed into takes and decoded on demand (a calibration capture).
    """

    name: Annotated[str, Field(pattern=CAMERA_NAME)]
    url: int | str
    preview_url: int | str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return _camera_url(value)

    @field_validator("preview_url")
    @classmethod
    def _preview_url(cls, value):
        return None if value is None else _camera_url(value)

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form that may be shown or logged."""
        return safe_url(str(self.url))

    @property
    def safe_preview_url(self) -> str | None:
        """The sub-stream's URL, password masked (None without a sub-stream)."""
        return None if self.preview_url is None else safe_url(str(self.preview_url))

    def __repr_args__(self):  # repr(), str() and tracebacks show the masked URL only
        yield "name", self.name
        yield "url", self.url if isinstance(self.url, int) else self.safe_url
        if self.preview_url is not None:
            yield "preview_url", self.preview_url if isinstance(self.preview_url, int) else self.safe_preview_url

    @property
    def is_file(self) -> bool:
        """True when the URL names a video file (not RTSP, USB or demo)."""
        return is_file_url(self.url)


class BoardConfig(_Strict):
    """Calibration board: inner corners (cols x rows), square side (mm); a checkerboard or ChArUco."""

    cols: Annotated[int, Field(ge=2, le=64)] = 9
    rows: Annotated[int, Field(ge=2, le=64)] = 6
    square_mm: Annotated[float, Field(gt=0, le=1000)] = 115.0
    type: Literal["checkerboard", "charuco"] = "checkerboard"
    marker_mm: Annotated[float, Field(gt=0, le=1000)] | None = None


class WizardConfig(_Strict):
    """The calibration wizard: one technician drives it at a time; the driver is released after
    ``driver_idle_s`` seconds without an action or a capture."""

    driver_idle_s: Annotated[float, Field(ge=10, le=24 * 3600)] = 300.0


class PreviewConfig(_Strict):
    """MJPEG preview: frames are downscaled to ``width`` px and capped at ``fps``."""

    width: Annotated[int, Field(ge=64, le=3840)] = 640
    fps: Annotated[float, Field(gt=0, le=60)] = 15
    quality: Annotated[int, Field(ge=10, le=100)] = 80


class RecordingConfig(_Strict):
    """Recording knobs; the defaults suit IP cameras with a keyframe every 1-2 s."""

    queue_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    fragment_ms: Annotated[int, Field(ge=100, le=5000)] = 500
    stop_grace_s: Annotated[float, Field(gt=0, le=30)] = 3.0
    # Disk space (MB free on the takes' disk): no take starts below min_free_mb, and a take
    # stops cleanly, with its files closed, when the free space falls below stop_free_mb.
    min_free_mb: Annotated[float, Field(ge=0)] = 1024
    stop_free_mb: Annotated[float, Field(ge=0)] = 256
    # A take stops by itself after max_take_s, and orphan_stop_s after the last page or script of
    # the user who started it went away (a user who comes back in time keeps it running).
    max_take_s: Annotated[float, Field(ge=5, le=24 * 3600)] = 1800
    orphan_stop_s: Annotated[float, Field(ge=2, le=24 * 3600)] = 30

    @model_validator(mode="after")
    def _thresholds(self):
        if self.stop_free_mb > self.min_free_mb:
            raise ValueError("stop_free_mb must not be above min_free_mb")
        return self


class CameraTuning(_Strict):
    """Connection timeouts and reconnect backoff, in seconds."""

    open_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    read_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    backoff_initial_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    failed_after: Annotated[int, Field(ge=1, le=1000)] = 5


class SecurityConfig(_Strict):
    """Login throttling and session lifetime."""

    # Flask-Limiter notation, per client address, for POST /login.
    login_rate_limit: Annotated[str, Field(pattern=r"^\d+ ?(/|per) ?(second|minute|hour|day)$")] = "10/minute"
    # Wrong passwords for one account from one client address before that address must wait
    # between tries: 1 s, then twice as long after each further wrong password, up to
    # lockout_minutes. Other addresses are never held back by them.
    lockout_failures: Annotated[int, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15
    session_idle_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 60
    session_max_hours: Annotated[float, Field(gt=0, le=7 * 24)] = 12
    # Secure cookies: "auto" marks them Secure whenever the request came over HTTPS.
    secure_cookies: Literal["auto", "always", "never"] = "auto"


class ServerConfig(_Strict):
    """Where and how the web server listens (command-line flags override it).

    ``tls_cert``: None (plain HTTP), ``auto`` (a self-signed certificate made once in
    ``data_dir/tls/``), or the path of the site's certificate (PEM, chain included) with
    ``tls_key`` its private key. ``http_redirect_port``: a second, plain HTTP listener that
    only redirects to HTTPS. ``trusted_proxies``: how many reverse proxies in front of VSION
    set ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` (0: those headers are ignored).
    ``threads``: the production server's worker threads (each open page holds one for its
    Socket.IO link, each MJPEG viewer one).
    """

    host: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:\[\]_-]+$")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5000
    tls_cert: Literal["auto"] | Path | None = None
    tls_key: Path | None = None
    http_redirect_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    trusted_proxies: Annotated[int, Field(ge=0, le=5)] = 0
    threads: Annotated[int, Field(ge=16, le=1000)] = 100
    hsts_max_age_s: Annotated[int, Field(ge=0, le=2 * 365 * 86400)] = 365 * 86400

    @model_validator(mode="after")
    def _tls(self):
        if isinstance(self.tls_cert, Path) and self.tls_key is None:
            raise ValueError("tls_key: the private key of tls_cert is needed")
        if self.tls_key is not None and not isinstance(self.tls_cert, Path):
            raise ValueError("tls_key goes with a tls_cert path (tls_cert: auto makes its own key)")
        if self.http_redirect_port is not None and self.tls_cert is None:
            raise ValueError("http_redirect_port redirects to HTTPS: set tls_cert too")
        if self.http_redirect_port == self.port:
            raise ValueError("http_redirect_port must differ from port")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


class LimitsConfig(_Strict):
    """What one user or one client address may hold at once. Past a limit the request is refused
    with a message saying which limit (HTTP 429, or 503 when the whole server is full)."""

    takes_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 30      # takes one user starts in an hour
    jobs_per_user: Annotated[int, Field(ge=1, le=1000)] = 5          # one user's takes waiting for processing
    sockets_per_address: Annotated[int, Field(ge=1, le=1000)] = 20   # Socket.IO links from one address
    sockets_per_user: Annotated[int, Field(ge=1, le=1000)] = 10      # Socket.IO links of one signed-in user
    mjpeg_per_user: Annotated[int, Field(ge=1, le=1000)] = 12        # live previews one user watches
    mjpeg_total: Annotated[int, Field(ge=1, le=1000)] = 36           # live previews served at once


_JOB_SCHEMES = ("redis", "rediss", "amqp", "amqps", "sentinel", "memory", "cache+memory")


def _job_url(value):
    if value is None:
        return None
    value = value.strip() if isinstance(value, str) else value
    if not value:
        return None
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in _JOB_SCHEMES:
        raise ValueError(f"must be a URL starting with one of {', '.join(s + '://' for s in _JOB_SCHEMES)}")
    return value


class JobsConfig(_Strict):
    """Background processing: in this process by default; on a Celery cluster when ``broker_url``
    is set (e.g. ``redis://user:password@redis-host:6379/0``; results in ``backend_url``, default
    the broker). The URLs may carry passwords: they are masked like camera URLs."""

    broker_url: str | None = None
    backend_url: str | None = None

    @field_validator("broker_url", "backend_url")
    @classmethod
    def _url(cls, value):
        return _job_url(value)

    def __repr__(self) -> str:  # never print a password, even in a traceback
        def show(url):
            return None if url is None else safe_url(url)

        return f"JobsConfig(broker_url={show(self.broker_url)!r}, backend_url={show(self.backend_url)!r})"

    __str__ = __repr__


def _under(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def _video_file(url: str, base: Path, key: str) -> str:
    """A camera's video file path made absolute (relative to ``base``); ValueError when missing."""
    path = Path(url.removeprefix("file://"))
    path = path if path.is_absolute() else (base / path).resolve()
    if not path.is_file():
        raise ValueError(f"'{key}': no such video file {path}")
    return str(path)


class Settings(_Strict):
    """The whole ``config.yaml``. Relative paths are resolved against the file's folder."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    cameras: Annotated[list[CameraConfig], Field(min_length=1, max_length=MAX_CAMERAS)]
    data_dir: Path = Path("data")
    calibration: Path | None = None
    board: BoardConfig = BoardConfig()
    calibration_wizard: WizardConfig = WizardConfig()
    preview: PreviewConfig = PreviewConfig()
    recording: RecordingConfig = RecordingConfig()
    # YAML key ``camera``: the connection tuning every camera shares (not a camera: see ``cameras``).
    camera_tuning: CameraTuning = Field(default=CameraTuning(), alias="camera")
    jobs: JobsConfig = JobsConfig()
    security: SecurityConfig = SecurityConfig()
    server: ServerConfig = ServerConfig()
    limits: LimitsConfig = LimitsConfig()

    @model_validator(mode="after")
    def _threads_for_viewers(self):
        # Previews and Socket.IO links each hold a server thread: keep some for plain requests.
        if self.limits.mjpeg_total + 16 > self.server.threads:
            raise ValueError(f"server.threads ({self.server.threads}) must be at least limits.mjpeg_total + 16 "
                             f"({self.limits.mjpeg_total + 16})")
        return self

    @model_validator(mode="after")
    def _unique_names(self):
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique: {', '.join(dupes)} repeated")
        return self

    def resolved(self, base: Path) -> Settings:
        """Return a copy whose relative paths are taken relative to ``base``."""
        data_dir = self.data_dir if self.data_dir.is_absolute() else base / self.data_dir
        calibration = self.calibration
        if calibration is not None and not calibration.is_absolute():
            calibration = base / calibration
        cameras = [cam.model_copy(update={key: _video_file(getattr(cam, key), base, f"cameras.{i}.{key}")
                                          for key in ("url", "preview_url") if is_file_url(getattr(cam, key))})
                   for i, cam in enumerate(self.cameras)]
        server = self.server
        if isinstance(server.tls_cert, Path):
            server = server.model_copy(update={"tls_cert": _under(base, server.tls_cert),
                                               "tls_key": _under(base, server.tls_key)})
        return self.model_copy(update={"data_dir": data_dir.resolve(), "calibration": calibration,
                                       "cameras": cameras, "server": server})

    @property
    def calibration_path(self) -> Path:
        """Where the calibration in force lives (the configured file, or ``data_dir/calibration.toml``)."""
        return self.calibration or self.data_dir / "calibration.toml"
