"""VSION's configuration file (``config.yaml``), validated at start, and secret masking.

The file's layout is a contract (``../shared/CONTRACT.md``): unknown keys and bad values
stop the start with a message naming the key. Camera URLs may carry RTSP credentials;
:func:`mask_secrets` hides them wherever a URL could leak (log lines, pages, API answers).
In the file such URLs are kept encrypted (``vsion-enc:v1:...``, see :mod:`secretbox`):
:func:`seal_config` encrypts them at start, loading decrypts them in memory only.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import secretbox

logger = logging.getLogger(__name__)

MAX_CAMERAS = 6
CAMERA_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
# scheme://user:password@host -> scheme://user:***@host (also a user with no password).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s'\"]*)(?P<pw>:[^/\s]*)?@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|pass|token|key)=([^&\s'\"]+)")
_SEALED = re.compile(re.escape(secretbox.PREFIX) + r"[A-Za-z0-9_=-]+")
_known_secrets: set[str] = set()


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the key."""


def mask_secrets(text: str) -> str:
    """Return ``text`` with credentials replaced by ``***``: URL passwords, ``password=`` query
    parameters, encrypted camera URLs, and every camera password registered with :func:`register_secrets`."""
    text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["pw"] else f"{m['scheme']}***@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m[1]}=***", text)
    text = _SEALED.sub(secretbox.PREFIX + "***", text)
    for secret in _known_secrets:
        text = text.replace(secret, "***")
    return text


def register_secrets(settings: Settings) -> None:
    """Remember the configured passwords (camera URLs, job broker and backend URLs), so they
    are masked even where no URL surrounds them."""
    urls = [camera.url for camera in settings.cameras] + [settings.jobs.broker_url, settings.jobs.backend_url]
    for url in urls:
        if isinstance(url, str) and "://" in url:
            try:
                password = urlsplit(url).password
            except ValueError:
                continue
            if password and len(password) >= 3:
                _known_secrets.update({password, unquote(password)})


def safe_url(url: str) -> str:
    """``url`` with its password masked: the only form of a URL with credentials that may be shown or logged."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            user = f"{parts.username}:***" if parts.password is not None else "***"
            return mask_secrets(urlunsplit(parts._replace(netloc=f"{user}@{host}")))
    return mask_secrets(url)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Strict):
    """One camera: ``url`` is ``rtsp://...``, a video file path, a USB index, or ``demo:N``."""

    name: Annotated[str, Field(pattern=CAMERA_NAME)]
    url: int | str

    @field_validator("url")
    @classmethod
    def _url(cls, value):
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

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form that may be shown or logged."""
        return safe_url(str(self.url))

    def __repr_args__(self):  # repr(), str() and tracebacks show the masked URL only
        yield "name", self.name
        yield "url", self.url if isinstance(self.url, int) else self.safe_url

    @property
    def is_file(self) -> bool:
        """True when the URL names a video file (not RTSP, USB or demo)."""
        url = self.url
        return isinstance(url, str) and not url.startswith("demo:") and ("://" not in url or url.startswith("file://"))


class BoardConfig(_Strict):
    """Calibration board: inner corners (cols x rows), square side (mm); a checkerboard or ChArUco."""

    cols: Annotated[int, Field(ge=2, le=64)] = 9
    rows: Annotated[int, Field(ge=2, le=64)] = 6
    square_mm: Annotated[float, Field(gt=0, le=1000)] = 115.0
    type: Literal["checkerboard", "charuco"] = "checkerboard"
    marker_mm: Annotated[float, Field(gt=0, le=1000)] | None = None


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
    """Login throttling, account lockout and session lifetime."""

    # Flask-Limiter notation, per client address, for POST /login.
    login_rate_limit: Annotated[str, Field(pattern=r"^\d+ ?(/|per) ?(second|minute|hour|day)$")] = "10/minute"
    lockout_failures: Annotated[int, Field(ge=1, le=100)] = 5     # consecutive wrong passwords
    lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15
    session_idle_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 60
    session_max_hours: Annotated[float, Field(gt=0, le=7 * 24)] = 12
    # Secure cookies: "auto" marks them Secure whenever the request came over HTTPS.
    secure_cookies: Literal["auto", "always", "never"] = "auto"


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


class Settings(_Strict):
    """The whole ``config.yaml``. Relative paths are resolved against the file's folder."""

    cameras: Annotated[list[CameraConfig], Field(min_length=1, max_length=MAX_CAMERAS)]
    data_dir: Path = Path("data")
    calibration: Path | None = None
    board: BoardConfig = BoardConfig()
    preview: PreviewConfig = PreviewConfig()
    recording: RecordingConfig = RecordingConfig()
    camera: CameraTuning = CameraTuning()
    jobs: JobsConfig = JobsConfig()
    security: SecurityConfig = SecurityConfig()

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
        cameras = []
        for i, cam in enumerate(self.cameras):
            if cam.is_file:
                path = Path(cam.url.removeprefix("file://"))
                path = path if path.is_absolute() else (base / path).resolve()
                if not path.is_file():
                    raise ValueError(f"'cameras.{i}.url': no such video file {path}")
                cam = cam.model_copy(update={"url": str(path)})
            cameras.append(cam)
        return self.model_copy(update={"data_dir": data_dir.resolve(), "calibration": calibration,
                                       "cameras": cameras})

    @property
    def calibration_path(self) -> Path:
        """Where the calibration in force lives (the configured file, or ``data_dir/calibration.toml``)."""
        return self.calibration or self.data_dir / "calibration.toml"


def _describe(error: ValidationError, source: str, prefix: tuple = ()) -> str:
    lines = []
    for err in error.errors():
        key = ".".join(str(p) for p in (*prefix, *err["loc"])) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: '{key}': {mask_secrets(msg)}")
    return "\n".join(lines)


def parse_settings(data: object, source: str = "config", base: Path | None = None) -> Settings:
    """Validate a mapping (as read from YAML) into :class:`Settings`, or raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must be a mapping with at least a 'cameras' list")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    base = base or Path.cwd()
    settings = _unsealed(settings, source, base)
    try:
        return settings.resolved(base)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _read_yaml(path: Path) -> tuple[str, object]:
    """The text of ``path`` (line endings kept) and its YAML data, or :class:`ConfigError`."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None


def load_settings(path: str | Path) -> Settings:
    """Read and validate ``config.yaml``; relative paths are relative to its folder, and
    encrypted camera URLs are decrypted (in memory only) with the camera key."""
    path = Path(path)
    _, data = _read_yaml(path)
    return parse_settings(data, str(path), path.resolve().parent)


# --------------------------------------------------------------------------- camera URLs at rest
def _set_url_command(name: str, source: str) -> str:
    config = "" if source in ("config", "config.yaml") else f" --config {source}"
    return f"python app.py cameras set-url {name}{config}"


def _camera_key(data_dir: Path, source: str, create: bool = False) -> bytes | None:
    try:
        return secretbox.load_key(data_dir, create)
    except secretbox.SecretError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except OSError as exc:
        where = secretbox.key_location(data_dir)
        raise ConfigError(f"{source}: the camera key {where} cannot be {'made' if create else 'read'} "
                          f"({exc.strerror})") from None


def _unsealed(settings: Settings, source: str, base: Path) -> Settings:
    """``settings`` with its encrypted camera URLs decrypted (in memory only)."""
    sealed = [i for i, cam in enumerate(settings.cameras) if secretbox.is_sealed(cam.url)]
    if not sealed:
        return settings
    data_dir = settings.data_dir if settings.data_dir.is_absolute() else base / settings.data_dir
    key = _camera_key(data_dir, source)
    cameras = list(settings.cameras)
    for i in sealed:
        name = cameras[i].name
        try:
            url = secretbox.unseal(cameras[i].url, key)
        except secretbox.SecretError:
            raise ConfigError(f"{source}: 'cameras.{i}.url': cannot be decrypted with "
                              f"{secretbox.key_location(data_dir)} (key missing or replaced); enter the camera URL "
                              f"again with {_set_url_command(name, source)}") from None
        try:
            cameras[i] = CameraConfig(name=name, url=url)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, source, ("cameras", i))) from None
    return settings.model_copy(update={"cameras": cameras})


def _data_dir(data: dict, path: Path) -> Path:
    try:
        folder = Path(data.get("data_dir") or "data")
    except TypeError:
        raise ConfigError(f"{path}: 'data_dir': must be a folder path") from None
    return folder if folder.is_absolute() else (path.resolve().parent / folder).resolve()


def _url_nodes(text: str) -> dict[int, yaml.Node]:
    """The YAML nodes of the cameras' ``url`` values, by camera index (they know their place in the text)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    nodes = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "cameras" and isinstance(value, yaml.SequenceNode):
                for i, camera in enumerate(value.value):
                    for k, v in camera.value if isinstance(camera, yaml.MappingNode) else ():
                        if k.value == "url" and isinstance(v, yaml.ScalarNode):
                            nodes[i] = v
    return nodes


def _edit_urls(text: str, data: dict, urls: dict[int, int | str], source: str) -> str:
    """``text`` with the ``url`` of the cameras ``urls`` names (by index) replaced, the rest of the
    file (comments, order, quoting) kept; a plain YAML dump when the text cannot be edited in place.
    The result always reads back as ``data`` with those URLs replaced."""
    expected = {**data, "cameras": [dict(c) if isinstance(c, dict) else c for c in data["cameras"]]}
    for i, url in urls.items():
        expected["cameras"][i]["url"] = url
    try:
        nodes = _url_nodes(text)
    except yaml.YAMLError:
        nodes = {}
    if set(urls) <= set(nodes):
        order = sorted(urls, key=lambda i: nodes[i].start_mark.index, reverse=True)  # end first: marks stay right
        for always_quoted in (False, True):  # first each URL quoted as it was, then all quoted
            out = text
            for i in order:
                url, style = urls[i], nodes[i].style
                scalar = str(url)
                if isinstance(url, str) and style == "'" and "'" not in url:
                    scalar = f"'{url}'"
                elif isinstance(url, str) and (always_quoted or style in ("'", '"')):
                    scalar = json.dumps(url, ensure_ascii=False)
                out = out[:nodes[i].start_mark.index] + scalar + out[nodes[i].end_mark.index:]
            try:
                if yaml.safe_load(out) == expected:
                    return out
            except yaml.YAMLError:
                pass
    logger.warning("%s: the camera URLs could not be replaced in place: file rewritten, without its comments", source)
    return yaml.safe_dump(expected, sort_keys=False, allow_unicode=True)


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step (a crash leaves the old file or the new one), keeping its mode."""
    target = path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def seal_config(path: str | Path) -> list[str]:
    """Encrypt in ``path`` every camera URL that carries a password or a user name, in place
    (the rest of the file is kept), with the camera key (made on first use). Returns the names
    of the cameras sealed. A file that cannot be used raises :class:`ConfigError` (as
    :func:`load_settings`); a read-only file is left as it is, with a warning."""
    path = Path(path)
    text, data = _read_yaml(path)
    settings = parse_settings(data, str(path), path.resolve().parent)
    plain = {i: cam["url"].strip() for i, cam in enumerate(data["cameras"]) if secretbox.has_credentials(cam["url"])}
    if not plain:
        return []
    names = [data["cameras"][i]["name"] for i in plain]
    # No write bit counts too: root may write anywhere, but the file was meant to stay as it is.
    if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
        logger.warning("%s is read-only: the password of camera %s stays there in plain text", path, ", ".join(names))
        return []
    try:
        key = secretbox.load_key(settings.data_dir, create=True)
    except secretbox.SecretError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        logger.warning("the camera key %s cannot be made (%s): the password of camera %s stays in plain text in %s",
                       secretbox.key_location(settings.data_dir), exc.strerror, ", ".join(names), path)
        return []
    out = _edit_urls(text, data, {i: secretbox.seal(url, key) for i, url in plain.items()}, str(path))
    if parse_settings(yaml.safe_load(out), str(path), path.resolve().parent) != settings:
        raise ConfigError(f"{path}: the camera URLs could not be encrypted (the file was left as it was)")
    try:
        _write_atomic(path, out)
    except OSError as exc:
        logger.warning("%s cannot be rewritten (%s): the password of camera %s stays there in plain text",
                       path, exc.strerror, ", ".join(names))
        return []
    where = secretbox.key_location(settings.data_dir)
    for name in names:
        logger.info("camera %s: its URL is now stored encrypted in %s (key %s)", name, path, where)
    return names


def _camera_index(data: object, path: Path, name: str) -> int:
    cameras = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cameras, list):
        raise ConfigError(f"{path}: the file must be a mapping with at least a 'cameras' list")
    names = [c.get("name") if isinstance(c, dict) else None for c in cameras]
    if name not in names:
        raise ConfigError(f"{path}: no camera named {name!r} (cameras: {', '.join(map(str, names))})")
    return names.index(name)


def set_camera_url(path: str | Path, name: str, url: str) -> str | None:
    """Give camera ``name`` in ``path`` a new ``url``, encrypted when it carries a password or a
    user name: returns then where the camera key is (else ``None``). The other cameras are left
    as they are, even when they cannot be decrypted, so that each can be entered again.
    Raises :class:`ConfigError`."""
    path = Path(path)
    text, data = _read_yaml(path)
    index = _camera_index(data, path, name)
    if secretbox.is_sealed(url):
        raise ConfigError(f"camera {name}: enter the camera's URL itself, not its encrypted form")
    try:
        camera = CameraConfig(name=name, url=url)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, f"camera {name}")) from None
    if camera.is_file:
        video = Path(camera.url.removeprefix("file://"))
        if not (video if video.is_absolute() else path.resolve().parent / video).is_file():
            raise ConfigError(f"camera {name}: no such video file {video}")
    value, where = camera.url, None
    if secretbox.has_credentials(camera.url):
        data_dir = _data_dir(data, path)
        value = secretbox.seal(camera.url, _camera_key(data_dir, str(path), create=True))
        where = secretbox.key_location(data_dir)
    out = _edit_urls(text, data, {index: value}, str(path))
    try:
        _write_atomic(path, out)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from None
    return where


def describe_cameras(path: str | Path) -> list[dict]:
    """Each camera of ``path`` as it may be shown: ``name``, ``url`` (masked) and ``storage``
    (``encrypted``, ``plain``, or why not). Sealed URLs that cannot be decrypted are listed too."""
    path = Path(path)
    _, data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise ConfigError(f"{path}: the file must be a mapping with at least a 'cameras' list")
    data_dir, key, problem = _data_dir(data, path), None, None
    if any(secretbox.is_sealed(c.get("url")) for c in data["cameras"] if isinstance(c, dict)):
        try:
            key = secretbox.load_key(data_dir)
        except secretbox.SecretError as exc:
            problem = str(exc)
        except OSError as exc:
            problem = f"{secretbox.key_location(data_dir)} cannot be read ({exc.strerror})"
    rows = []
    for camera in data["cameras"]:
        camera = camera if isinstance(camera, dict) else {}
        name, url = str(camera.get("name")), camera.get("url")
        if secretbox.is_sealed(url):
            try:
                rows.append({"name": name, "url": safe_url(secretbox.unseal(url, key)), "storage": "encrypted"})
            except secretbox.SecretError:
                reason = problem or f"cannot be decrypted with {secretbox.key_location(data_dir)}"
                rows.append({"name": name, "url": "(cannot be decrypted)", "storage":
                             f"encrypted, but {reason}: enter it again with {_set_url_command(name, str(path))}"})
        elif secretbox.has_credentials(url):
            rows.append({"name": name, "url": safe_url(url.strip()), "storage": "plain (encrypted at the next start)"})
        else:
            rows.append({"name": name, "url": safe_url(str(url)), "storage": "plain"})
    return rows


def dump_settings(settings: Settings, path: Path) -> None:
    """Write ``settings`` as a ``config.yaml`` (used by the demo to create its configuration)."""
    data = settings.model_dump(mode="json", exclude_defaults=True)
    data["cameras"] = [c.model_dump(mode="json") for c in settings.cameras]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


class MaskSecretsFilter(logging.Filter):
    """Logging filter that masks URL credentials in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger: thread names in every line and URL credentials masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskSecretsFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("socketio.server", "engineio.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
