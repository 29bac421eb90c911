"""The payloads of the Cameras page: a camera added or changed, the cameras' order, a connection test.

One schema per payload, shared by the route and the service (:mod:`config.cameras`). Problems
that the page explains in the user's language are raised as ``PydanticCustomError`` with a
code (the label key's suffix) and its parameters; :class:`common.payloads.PayloadError` carries
them to the answer.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from common.payloads import PRINTABLE, Payload
from config.schema import MAX_CAMERAS

MAX_URL, MAX_USER, MAX_PASSWORD, MAX_PATH = 2000, 128, 256, 4096
RTSP_SCHEMES = ("rtsp", "rtsps")
SOURCES = ("rtsp", "usb", "file", "demo")

Text = Annotated[str, StringConstraints(pattern=PRINTABLE, strip_whitespace=True)]
Url = Annotated[Text, StringConstraints(max_length=MAX_URL)]
Secret = Annotated[str, StringConstraints(pattern=PRINTABLE, max_length=MAX_PASSWORD)]  # kept as typed
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


def problem(code: str, message: str, **params) -> PydanticCustomError:
    """A payload problem the page translates: ``code`` (label ``camerr_<code>``), English ``message``."""
    return PydanticCustomError(code, message, params)


def check_rtsp(url: str, field: str) -> tuple[str, str | None, str | None]:
    """``url`` as an RTSP URL without its user info, and the user name and password it carried
    (percent-decoded; None when absent). Raises the ``not_rtsp`` / ``bad_url`` problems."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in RTSP_SCHEMES:
        shown = scheme or url[:20]
        raise problem("not_rtsp", "{field}: not an RTSP URL ({scheme}): write rtsp://host[:port]/path",
                      field=field, scheme=shown)
    if re.search(r"\s", url):
        raise problem("bad_url", "{field}: an RTSP URL has no spaces", field=field)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise problem("bad_url", "{field}: not a valid URL (look at the port and the brackets)", field=field) from None
    if not parts.hostname:
        raise problem("bad_url", "{field}: the URL names no camera address (rtsp://host[:port]/path)", field=field)
    host = parts.netloc.rpartition("@")[2]
    bare = parts._replace(netloc=host).geturl()
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


class CameraSource(Payload):
    """Where a camera's pictures come from: an RTSP URL (with a user name and a password, which
    may also be written in the URL), a USB index, a video file on the server, or a demo camera.

    ``password`` empty or absent keeps the stored one (the form never shows it). ``preview_url``
    is the RTSP sub-stream (the same user name and password). After validation ``url`` and
    ``preview_url`` carry no user info.
    """

    source: Literal[SOURCES]
    url: Url | None = None
    user: Annotated[Text, StringConstraints(max_length=MAX_USER)] | None = None
    password: Secret | None = None
    usb: int | None = Field(default=None, ge=0, le=63)
    file: Annotated[Text, StringConstraints(max_length=MAX_PATH)] | None = None
    demo: int | None = Field(default=None, ge=0, le=63)
    preview_url: Url | None = None

    @model_validator(mode="after")
    def _fits_source(self):
        needed, what = {"rtsp": ("url", "RTSP URL"), "usb": ("usb", "USB index"), "file": ("file", "video file"),
                        "demo": ("demo", "demo number")}[self.source]
        if getattr(self, needed) in (None, ""):
            raise problem("missing", "give the camera's {what}", field=needed, what=what)
        if self.source != "rtsp" and (self.user or self.password or self.preview_url):
            raise problem("rtsp_only", "a user name, a password and a sub-stream are for RTSP cameras only")
        if self.source == "rtsp":
            self._split_credentials()
        return self

    def _split_credentials(self) -> None:
        self.url, user, password = check_rtsp(self.url, "url")
        if (user or password) and (self.user or self.password):
            raise problem("credentials_twice", "give the user name and the password in their fields or in the URL, "
                                               "not in both")
        if user or password:
            self.user, self.password = user, password
        if self.preview_url:
            self.preview_url, p_user, p_password = check_rtsp(self.preview_url, "preview_url")
            if (p_user, p_password) not in ((None, None), (self.user, self.password or None)):
                raise problem("preview_credentials", "the sub-stream uses the camera's user name and password: "
                                                     "write its URL without them")
        if self.password and not self.user:
            raise problem("password_without_user", "a password needs a user name")


class CameraForm(CameraSource):
    """``POST /api/cameras/config`` (add) and ``PUT /api/cameras/config/<name>`` (change)."""

    name: Name


class CameraTest(CameraSource):
    """``POST /api/cameras/test``: try a source; ``camera`` names the configured camera whose stored
    password is used when ``password`` is empty. Nothing changes."""

    camera: Name | None = None


class CameraOrder(Payload):
    """``PUT /api/cameras/order``: every configured camera's name, in the new order."""

    names: Annotated[list[Name], Field(min_length=1, max_length=MAX_CAMERAS)]
