"""Camera URLs encrypted at rest: the camera key and the sealed form ``vsion-enc:v1:<token>``.

A sealed URL is a Fernet token (AES-128-CBC + HMAC-SHA256) of the URL, made with the
installation's camera key: ``<data_dir>/camera.key`` (created once, mode 0600), or the
``VSION_CAMERA_KEY`` environment variable for sites that keep their keys elsewhere.
Pure functions plus the key file: no YAML, no configuration, no logging of any secret.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "vsion-enc:v1:"
KEY_ENV = "VSION_CAMERA_KEY"
KEY_FILE = "camera.key"


class SecretError(ValueError):
    """A camera key or a sealed URL that cannot be used; the message is one line, without secrets."""


def is_sealed(value: object) -> bool:
    """True for a URL in its sealed form ``vsion-enc:v1:...``."""
    return isinstance(value, str) and value.strip().startswith(PREFIX)


def has_credentials(url: object) -> bool:
    """True when ``url`` carries user info (``scheme://user[:password]@host``): such URLs are sealed."""
    if not isinstance(url, str) or "://" not in url or is_sealed(url):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "@" in url.split("://", 1)[1].split("/", 1)[0]
    return "@" in parts.netloc


def shown(path: Path) -> str:
    """``path`` as a user reads it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def key_location(data_dir: Path) -> str:
    """Where the camera key comes from, for messages: ``VSION_CAMERA_KEY`` or the key file's path."""
    return KEY_ENV if os.environ.get(KEY_ENV, "").strip() else shown(Path(data_dir) / KEY_FILE)


def _checked(key: bytes, where: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretError(f"{where} is not a valid camera key (44 characters of URL-safe base64)") from None
    return key


def load_key(data_dir: Path, create: bool = False) -> bytes | None:
    """The camera key: ``$VSION_CAMERA_KEY`` if set, else ``<data_dir>/camera.key``.

    With ``create``, a missing key file is made (mode 0600, never overwritten: two processes
    starting together agree on one key); without it, a missing file gives ``None``.
    Raises :class:`SecretError` for a key that is not a Fernet key, ``OSError`` when the
    file cannot be read or made.
    """
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return _checked(env.encode("ascii", "replace"), KEY_ENV)
    path = Path(data_dir) / KEY_FILE
    if not path.is_file():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            pass  # made by another process meanwhile: use theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
    return _checked(path.read_bytes().strip(), shown(path))


def seal(url: str, key: bytes) -> str:
    """The sealed form of ``url`` (a new random token each call)."""
    return PREFIX + Fernet(key).encrypt(url.encode("utf-8")).decode("ascii")


def unseal(value: str, key: bytes | None) -> str:
    """The URL sealed in ``value``; :class:`SecretError` when the key is missing or wrong, or
    the token was altered (Fernet cannot tell these apart)."""
    if key is None:
        raise SecretError("no camera key")
    try:
        return Fernet(key).decrypt(value.strip().removeprefix(PREFIX).encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretError("cannot be decrypted") from None
