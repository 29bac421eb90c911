"""Reading ``config.yaml``: YAML, validation into :class:`~config.schema.Settings`, and camera
URLs decrypted in memory (they are stored encrypted, see :mod:`config.secretbox`)."""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from config import secretbox
from config.masking import mask_secrets, register_urls
from config.schema import CameraConfig, ConfigError, Settings
from config.yamlfile import read_yaml


def describe_error(error: ValidationError, source: str, prefix: tuple = ()) -> str:
    """A pydantic error about a configuration as lines naming the file and the key."""
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
        raise ConfigError(describe_error(exc, source)) from None
    base = base or Path.cwd()
    settings = _unsealed(settings, source, base)
    try:
        return settings.resolved(base)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_settings(path: str | Path) -> Settings:
    """Read and validate ``config.yaml``; relative paths are relative to its folder, and
    encrypted camera URLs are decrypted (in memory only) with the camera key."""
    path = Path(path)
    _, data = read_yaml(path)
    return parse_settings(data, str(path), path.resolve().parent)


def set_url_command(name: str, source: str) -> str:
    config = "" if source in ("config", "config.yaml") else f" --config {source}"
    return f"python app.py cameras set-url {name}{config}"


def camera_key(data_dir: Path, source: str, create: bool = False) -> bytes | None:
    try:
        return secretbox.load_key(data_dir, create)
    except secretbox.SecretError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except OSError as exc:
        where = secretbox.key_location(data_dir)
        raise ConfigError(f"{source}: the camera key {where} cannot be {'made' if create else 'read'} "
                          f"({exc.strerror})") from None


CAMERA_URL_KEYS = ("url", "preview_url")  # the keys of a camera that hold a source (maybe with a password)


def _unseal_camera(camera: CameraConfig, i: int, key: bytes | None, source: str, data_dir: Path) -> CameraConfig:
    """``camera`` with its encrypted URLs decrypted, or :class:`ConfigError` naming the key."""
    values = camera.model_dump()
    for field in CAMERA_URL_KEYS:
        if not secretbox.is_sealed(values[field]):
            continue
        try:
            values[field] = secretbox.unseal(values[field], key)
        except secretbox.SecretError:
            raise ConfigError(f"{source}: 'cameras.{i}.{field}': cannot be decrypted with "
                              f"{secretbox.key_location(data_dir)} (key missing or replaced); enter the camera URL "
                              f"again with {set_url_command(camera.name, source)}") from None
    try:
        return CameraConfig(**values)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, source, ("cameras", i))) from None


def _unsealed(settings: Settings, source: str, base: Path) -> Settings:
    """``settings`` with its encrypted camera URLs decrypted (in memory only)."""
    if not any(secretbox.is_sealed(getattr(cam, k)) for cam in settings.cameras for k in CAMERA_URL_KEYS):
        return settings
    data_dir = settings.data_dir if settings.data_dir.is_absolute() else base / settings.data_dir
    key = camera_key(data_dir, source)
    cameras = [_unseal_camera(cam, i, key, source, data_dir) for i, cam in enumerate(settings.cameras)]
    return settings.model_copy(update={"cameras": cameras})


def register_secrets(settings: Settings) -> None:
    """Remember the configured passwords (camera URLs, job broker and backend URLs), so they
    are masked even where no URL surrounds them."""
    register_urls([url for camera in settings.cameras for url in (camera.url, camera.preview_url)]
                  + [settings.jobs.broker_url, settings.jobs.backend_url])
