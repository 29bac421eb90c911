"""The camera list as the Cameras page changes it: add, change, remove, reorder, and what a form shows.

Pure functions on :class:`~config.schema.CameraConfig` lists: each returns the new list (nothing
is applied or written here; :meth:`system.System.update_cameras` does both) or raises
:class:`CameraChangeError` with a code the page translates. A camera's password never leaves
this module but inside its URL: a form shows the user name and whether a password is stored, and
an empty password in a form keeps the stored one.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from common.errors import ServiceError
from config.masking import safe_url
from config.schema import CAMERA_NAME, MAX_CAMERAS, CameraConfig, is_file_url
from config.schemas import CameraForm, CameraSource, CameraTest


class CameraChangeError(ServiceError):
    """A camera change that cannot be made; ``code`` and ``params`` let the page say it in the
    user's language (label ``camerr_<code>``), the message says it in English."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message.format(**params))
        self.code, self.params = code, params


class UnknownCamera(CameraChangeError):
    """No configured camera has that name."""

    def __init__(self, name: str):
        super().__init__("unknown_camera", "no camera named {name}", name=name)


def source_of(camera: CameraConfig) -> str:
    """``rtsp`` (any network URL), ``usb``, ``file`` or ``demo``."""
    url = camera.url
    if isinstance(url, int):
        return "usb"
    if url.startswith("demo:"):
        return "demo"
    return "file" if is_file_url(url) else "rtsp"


def credentials(url: int | str | None) -> tuple[str | None, str | None]:
    """The user name and password in ``url`` (decoded), None where absent."""
    if not isinstance(url, str) or "://" not in url:
        return None, None
    parts = urlsplit(url)
    return (None if parts.username is None else unquote(parts.username),
            None if parts.password is None else unquote(parts.password))


def without_credentials(url: int | str | None) -> int | str | None:
    """``url`` without its user info: what a form may show."""
    if not isinstance(url, str) or "://" not in url:
        return url
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """``url`` (without user info) with ``user`` and ``password`` put in, percent-encoded."""
    if not user:
        return url
    parts = urlsplit(url)
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


def camera_view(camera: CameraConfig, index: int) -> dict:
    """What the Cameras page shows and its form is filled with: never a password."""
    user, password = credentials(camera.url)
    source = source_of(camera)
    view = {"index": index, "name": camera.name, "source": source, "safe_url": camera.safe_url,
            "safe_preview_url": camera.safe_preview_url, "user": user, "has_password": password is not None,
            "url": None, "preview_url": None, "usb": None, "file": None, "demo": None}
    if source == "rtsp":
        view.update(url=without_credentials(camera.url), preview_url=without_credentials(camera.preview_url))
    elif source == "usb":
        view["usb"] = camera.url
    elif source == "demo":
        view["demo"] = int(camera.url.split(":", 1)[1])
    else:
        view["file"] = camera.url
    return view


def _video_file(text: str, base: Path) -> str:
    path = Path(text.removeprefix("file://")).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.resolve().is_file():
        raise CameraChangeError("no_file", "no such video file on the server: {path}", path=str(path))
    return str(path.resolve())


def camera_config(form: CameraSource, name: str, stored: CameraConfig | None, base: Path) -> CameraConfig:
    """The :class:`CameraConfig` a form describes. An RTSP form without a password keeps
    ``stored``'s (when it has a user name); file paths are relative to ``base`` (the
    configuration's folder)."""
    preview = None
    if form.source == "rtsp":
        password = form.password or (credentials(stored.url)[1] if stored is not None and form.user else None)
        url = with_credentials(form.url, form.user, password)
        if form.preview_url:
            preview = with_credentials(form.preview_url, form.user, password)
    elif form.source == "usb":
        url = form.usb
    elif form.source == "demo":
        url = f"demo:{form.demo}"
    else:
        url = _video_file(form.file, base)
    return CameraConfig.model_construct(name=name, url=url, preview_url=preview)


def _check_name(name: str, others: list[str]) -> None:
    if not re.fullmatch(CAMERA_NAME, name):
        raise CameraChangeError("bad_name", "{name!r} is not a camera name: 1 to 32 letters, digits, '-' or '_', "
                                            "starting with a letter or a digit", name=name)
    if name.lower() in (other.lower() for other in others):
        raise CameraChangeError("name_taken", "a camera is already named {name} (names must differ, whatever the "
                                              "case: they name the take's files)", name=name)


def _index(cameras: list[CameraConfig], name: str) -> int:
    for i, camera in enumerate(cameras):
        if camera.name == name:
            return i
    raise UnknownCamera(name)


def _valid(camera: CameraConfig) -> CameraConfig:
    """``camera`` checked by the configuration's own rules (the URL forms config.yaml accepts)."""
    try:
        return CameraConfig.model_validate(camera.model_dump())
    except ValueError as exc:
        raise CameraChangeError("bad_source", "this camera source cannot be used: {reason}",
                                reason=str(exc).splitlines()[-1]) from None


def add_camera(cameras: list[CameraConfig], form: CameraForm, base: Path) -> list[CameraConfig]:
    """``cameras`` with the form's camera added at the end (at most :data:`MAX_CAMERAS`)."""
    if len(cameras) >= MAX_CAMERAS:
        raise CameraChangeError("too_many", "VSION works with {max} cameras at most: remove one first",
                                max=MAX_CAMERAS)
    _check_name(form.name, [c.name for c in cameras])
    return [*cameras, _valid(camera_config(form, form.name, None, base))]


def change_camera(cameras: list[CameraConfig], name: str, form: CameraForm, base: Path
                  ) -> tuple[list[CameraConfig], dict[str, str]]:
    """``cameras`` with camera ``name`` replaced by the form's, and ``{new name: old name}``."""
    i = _index(cameras, name)
    _check_name(form.name, [c.name for j, c in enumerate(cameras) if j != i])
    out = list(cameras)
    out[i] = _valid(camera_config(form, form.name, cameras[i], base))
    return out, {form.name: name}


def remove_camera(cameras: list[CameraConfig], name: str) -> list[CameraConfig]:
    """``cameras`` without camera ``name`` (one camera at least stays)."""
    i = _index(cameras, name)
    if len(cameras) == 1:
        raise CameraChangeError("last_camera", "VSION needs one camera at least: add another before removing {name}",
                                name=name)
    return cameras[:i] + cameras[i + 1:]


def reorder_cameras(cameras: list[CameraConfig], names: list[str]) -> list[CameraConfig]:
    """``cameras`` in the order of ``names``, which must name each camera once."""
    if sorted(names) != sorted(c.name for c in cameras):
        raise CameraChangeError("bad_order", "the new order must name every camera once: {names}",
                                names=", ".join(c.name for c in cameras))
    by_name = {c.name: c for c in cameras}
    return [by_name[n] for n in names]


def probe_target(cameras: list[CameraConfig], form: CameraTest, base: Path) -> CameraConfig:
    """The camera a connection test tries: the form's source, with the stored password of
    ``form.camera`` when the form has none."""
    stored = cameras[_index(cameras, form.camera)] if form.camera else None
    return _valid(camera_config(form, stored.name if stored else "test", stored, base))


def masked_host(camera: CameraConfig) -> str | None:
    """The camera's host (for the audit log, which keeps no URL), or None for a local source."""
    if source_of(camera) != "rtsp":
        return None
    return safe_url(urlsplit(str(camera.url)).hostname or "")
