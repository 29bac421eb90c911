"""Secrets never shown: URL passwords masked in every log line, page, event and API answer."""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from config import secretbox

# scheme://user:password@host -> scheme://user:***@host (also a user with no password).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s'\"]*)(?P<pw>:[^/\s]*)?@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|pass|token|key)=([^&\s'\"]+)")
_SEALED = re.compile(re.escape(secretbox.PREFIX) + r"[A-Za-z0-9_=-]+")
_known_secrets: set[str] = set()


def mask_secrets(text: str) -> str:
    """Return ``text`` with credentials replaced by ``***``: URL passwords, ``password=`` query
    parameters, encrypted camera URLs, and every camera password registered with :func:`register_secrets`."""
    text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["pw"] else f"{m['scheme']}***@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m[1]}=***", text)
    text = _SEALED.sub(secretbox.PREFIX + "***", text)
    for secret in _known_secrets:
        text = text.replace(secret, "***")
    return text


def register_urls(urls) -> None:
    """Remember the passwords in ``urls`` (camera, job broker and backend URLs), so they are
    masked even where no URL surrounds them."""
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
