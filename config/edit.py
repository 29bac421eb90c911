"""Changes to ``config.yaml`` made by VSION itself: camera URLs encrypted at rest, a camera's URL
entered again, the cameras listed for the command line, the demo's configuration written.

Edits go through :mod:`config.yamlfile` (ruamel.yaml round trip): the rest of the file, its
comments and its order included, stays as it was.
"""
from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from common.files import write_text
from config import secretbox
from config.loader import CAMERA_URL_KEYS, camera_key, describe_error, parse_settings, set_url_command
from config.masking import safe_url
from config.schema import BoardConfig, CameraConfig, ConfigError, Settings
from config.yamlfile import dump_yaml, edit_yaml, parse_yaml, read_yaml, replace_scalar, writable, write_config

logger = logging.getLogger(__name__)


def _data_dir(data: dict, path: Path) -> Path:
    try:
        folder = Path(data.get("data_dir") or "data")
    except TypeError:
        raise ConfigError(f"{path}: 'data_dir': must be a folder path") from None
    return folder if folder.is_absolute() else (path.resolve().parent / folder).resolve()


def _set_urls(path: Path, urls: dict[tuple[int, str], int | str]) -> str:
    """The text of ``path`` with the camera URLs ``urls`` names (by camera index and key,
    ``url`` or ``preview_url``) replaced."""

    def edit(document) -> None:
        for (i, key), url in urls.items():
            replace_scalar(document["cameras"][i], key, url)

    return edit_yaml(path, edit)


def _sealing_key(settings: Settings, path: Path, names: list[str]) -> bytes | None:
    try:
        return secretbox.load_key(settings.data_dir, create=True)
    except secretbox.SecretError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        logger.warning("the camera key %s cannot be made (%s): the password of camera %s stays in plain text in %s",
                       secretbox.key_location(settings.data_dir), exc.strerror, ", ".join(names), path)
        return None


def seal_config(path: str | Path) -> list[str]:
    """Encrypt in ``path`` every camera URL that carries a password or a user name, in place
    (the rest of the file is kept), with the camera key (made on first use). Returns the names
    of the cameras sealed. A file that cannot be used raises :class:`ConfigError` (as
    :func:`~config.loader.load_settings`); a read-only file is left as it is, with a warning."""
    path = Path(path)
    _, data = read_yaml(path)
    settings = parse_settings(data, str(path), path.resolve().parent)
    plain = {(i, key): cam[key].strip() for i, cam in enumerate(data["cameras"]) for key in CAMERA_URL_KEYS
             if secretbox.has_credentials(cam.get(key))}
    if not plain:
        return []
    names = list(dict.fromkeys(data["cameras"][i]["name"] for i, _ in plain))
    if not writable(path):
        logger.warning("%s is read-only: the password of camera %s stays there in plain text", path, ", ".join(names))
        return []
    key = _sealing_key(settings, path, names)
    if key is None:
        return []
    out = _set_urls(path, {where: secretbox.seal(url, key) for where, url in plain.items()})
    new_data = parse_yaml(path, out)
    if parse_settings(new_data, str(path), path.resolve().parent) != settings:
        raise ConfigError(f"{path}: the camera URLs could not be encrypted (the file was left as it was)")
    try:
        write_config(path, out)
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


def _checked_camera(path: Path, name: str, url: str) -> CameraConfig:
    if secretbox.is_sealed(url):
        raise ConfigError(f"camera {name}: enter the camera's URL itself, not its encrypted form")
    try:
        camera = CameraConfig(name=name, url=url)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, f"camera {name}")) from None
    if camera.is_file:
        video = Path(camera.url.removeprefix("file://"))
        if not (video if video.is_absolute() else path.resolve().parent / video).is_file():
            raise ConfigError(f"camera {name}: no such video file {video}")
    return camera


def set_camera_url(path: str | Path, name: str, url: str) -> str | None:
    """Give camera ``name`` in ``path`` a new ``url``, encrypted when it carries a password or a
    user name: returns then where the camera key is (else ``None``). The other cameras are left
    as they are, even when they cannot be decrypted, so that each can be entered again.
    Raises :class:`ConfigError`."""
    path = Path(path)
    _, data = read_yaml(path)
    index = _camera_index(data, path, name)
    camera = _checked_camera(path, name, url)
    value, where = camera.url, None
    if secretbox.has_credentials(camera.url):
        data_dir = _data_dir(data, path)
        value = secretbox.seal(camera.url, camera_key(data_dir, str(path), create=True))
        where = secretbox.key_location(data_dir)
    out = _set_urls(path, {(index, "url"): value})
    try:
        write_config(path, out)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from None
    return where


def _camera_key_problem(data_dir: Path) -> tuple[bytes | None, str | None]:
    try:
        return secretbox.load_key(data_dir), None
    except secretbox.SecretError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"{secretbox.key_location(data_dir)} cannot be read ({exc.strerror})"


def _describe_camera(camera: dict, key, problem, data_dir: Path, path: Path) -> dict:
    name, url = str(camera.get("name")), camera.get("url")
    if secretbox.is_sealed(url):
        try:
            return {"name": name, "url": safe_url(secretbox.unseal(url, key)), "storage": "encrypted"}
        except secretbox.SecretError:
            reason = problem or f"cannot be decrypted with {secretbox.key_location(data_dir)}"
            return {"name": name, "url": "(cannot be decrypted)", "storage":
                    f"encrypted, but {reason}: enter it again with {set_url_command(name, str(path))}"}
    if secretbox.has_credentials(url):
        return {"name": name, "url": safe_url(url.strip()), "storage": "plain (encrypted at the next start)"}
    return {"name": name, "url": safe_url(str(url)), "storage": "plain"}


def describe_cameras(path: str | Path) -> list[dict]:
    """Each camera of ``path`` as it may be shown: ``name``, ``url`` (masked) and ``storage``
    (``encrypted``, ``plain``, or why not). Sealed URLs that cannot be decrypted are listed too."""
    path = Path(path)
    _, data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise ConfigError(f"{path}: the file must be a mapping with at least a 'cameras' list")
    data_dir, key, problem = _data_dir(data, path), None, None
    if any(secretbox.is_sealed(c.get("url")) for c in data["cameras"] if isinstance(c, dict)):
        key, problem = _camera_key_problem(data_dir)
    return [_describe_camera(c if isinstance(c, dict) else {}, key, problem, data_dir, path) for c in data["cameras"]]


def dump_settings(settings: Settings, path: Path) -> None:
    """Write ``settings`` as a new ``config.yaml`` (the demo creates its configuration so)."""
    data = settings.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    data["cameras"] = [c.model_dump(mode="json") for c in settings.cameras]
    write_text(path, dump_yaml(data), mode=0o600)  # it may hold camera URLs


def _camera_entry(document, old_name: str | None):
    """The camera map named ``old_name`` in the round-trip ``document`` (None: a new camera)."""
    for entry in document["cameras"]:
        if old_name is not None and entry.get("name") == old_name:
            return entry
    return None


def _stored_value(url: int | str | None, key: bytes | None) -> int | str | None:
    """How a camera URL is written: sealed when it carries a user name or a password (and a key is there)."""
    return secretbox.seal(url, key) if key is not None and secretbox.has_credentials(url) else url


def _set_camera_fields(entry, camera: CameraConfig, was: CameraConfig | None, key: bytes | None) -> None:
    """Update ``entry`` (a round-trip map) to ``camera``; values equal to ``was`` are left as written
    (unless a password is written there in plain text: it is sealed now)."""
    if was is None or was.name != camera.name:
        replace_scalar(entry, "name", camera.name)
    for field in CAMERA_URL_KEYS:
        value = getattr(camera, field)
        if was is not None and getattr(was, field) == value and not (key and secretbox.has_credentials(entry.get(field))):
            continue
        if value is None:
            entry.pop(field, None)
        else:
            replace_scalar(entry, field, _stored_value(value, key))


def _rewrite_cameras(path: Path, cameras: list[CameraConfig], origins: dict[str, str], before: dict[str, CameraConfig],
                     key: bytes | None) -> str:
    """The text of ``path`` with its camera list made ``cameras`` (round trip: comments kept)."""

    def edit(document) -> None:
        seq = document["cameras"]
        comments = {id(entry): seq.ca.items.get(i) for i, entry in enumerate(seq)}
        entries = []
        for camera in cameras:
            old = origins.get(camera.name)
            entry = _camera_entry(document, old)
            was = before.get(old) if entry is not None else None
            if entry is None:
                entry = CommentedMap()
            _set_camera_fields(entry, camera, was, key)
            entries.append(entry)
        seq.clear()
        seq.ca.items.clear()
        for i, entry in enumerate(entries):
            seq.append(entry)
            if comments.get(id(entry)):
                seq.ca.items[i] = comments[id(entry)]

    return edit_yaml(path, edit)


def write_cameras(path: str | Path, cameras: list[CameraConfig], origins: dict[str, str] | None = None) -> None:
    """Make ``cameras`` (in this order) the camera list of ``path``, in one atomic write.

    ``origins`` maps a camera's new name to its name in the file (a renamed camera keeps its
    entry, comments included); other cameras are matched by name, and a camera not in the file
    is added. A URL that did not change is left as written; a new URL with a user name or a
    password is stored encrypted, as :func:`seal_config` does. The rest of the file (comments,
    order, layout) is kept. Raises :class:`ConfigError`, and then nothing is written.
    """
    path = Path(path)
    _, data = read_yaml(path)
    settings = parse_settings(data, str(path), path.resolve().parent)
    before = {camera.name: camera for camera in settings.cameras}
    origins = {camera.name: (origins or {}).get(camera.name, camera.name) for camera in cameras}
    sealed = [c.name for c in cameras if any(secretbox.has_credentials(getattr(c, k)) for k in CAMERA_URL_KEYS)]
    key = _sealing_key(settings, path, sealed) if sealed else None
    out = _rewrite_cameras(path, cameras, origins, before, key)
    _write_checked(path, out, lambda written: list(written.cameras) == list(cameras), "the camera list", "the cameras")
    logger.info("%s: camera list written (%s)", path, ", ".join(c.name for c in cameras))


def _write_checked(path: Path, out: str, as_asked, what: str, things: str) -> None:
    """Write the edited text ``out`` over ``path`` once it parses to settings for which
    ``as_asked(settings)`` holds and the file is writable; else :class:`ConfigError` naming
    ``what`` / ``things``, and the file is left as it was."""
    written = parse_settings(parse_yaml(path, out), str(path), path.resolve().parent)
    if not as_asked(written):
        raise ConfigError(f"{path}: {what} could not be written as asked (the file was left as it was)")
    if not writable(path):
        raise ConfigError(f"{path} is read-only: {things} cannot be changed")
    try:
        write_config(path, out)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from None


def _number(value: float) -> int | float:
    """``115.0`` written as ``115`` (as a person writes it), other values as they are."""
    return int(value) if float(value).is_integer() else float(value)


def _board_entry(board: BoardConfig) -> dict:
    """The keys a ``board:`` entry holds for ``board``: the type and marker only when they matter."""
    entry = {"cols": board.cols, "rows": board.rows, "square_mm": _number(board.square_mm)}
    if board.type != "checkerboard":
        entry["type"] = board.type
    if board.marker_mm is not None:
        entry["marker_mm"] = _number(board.marker_mm)
    return entry


def _rewrite_board(path: Path, board: BoardConfig) -> str:
    """The text of ``path`` with its ``board:`` entry made ``board`` (round trip: comments kept;
    a missing entry is added, in flow style, after ``calibration`` or ``data_dir``)."""
    wanted = _board_entry(board)

    def edit(document) -> None:
        entry = document.get("board")
        if not isinstance(entry, CommentedMap):
            entry = CommentedMap()
            entry.fa.set_flow_style()
            keys = list(document)
            after = next((k for k in ("calibration", "data_dir") if k in keys), keys[-1])
            document.insert(keys.index(after) + 1, "board", entry)
        for key in ("type", "marker_mm"):
            if key not in wanted:
                entry.pop(key, None)
        for key, value in wanted.items():
            if entry.get(key) != value or type(entry.get(key)) is not type(value):
                replace_scalar(entry, key, value)

    return edit_yaml(path, edit)


def write_board(path: str | Path, board: BoardConfig) -> None:
    """Make ``board`` the ``board:`` entry of ``path``, in one atomic write (the rest of the file,
    comments included, is kept). Raises :class:`ConfigError`, and then nothing is written."""
    path = Path(path)
    _, data = read_yaml(path)
    parse_settings(data, str(path), path.resolve().parent)
    out = _rewrite_board(path, board)
    _write_checked(path, out, lambda written: written.board == board, "the board", "the board")
    logger.info("%s: board written (%s)", path, ", ".join(f"{k} {v}" for k, v in _board_entry(board).items()))
