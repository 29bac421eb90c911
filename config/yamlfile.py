"""``config.yaml`` as a file: read it, and edit it in place with ruamel.yaml's round trip.

Every edit keeps the file's comments, key order, quoting, flow style and indentation: only the
values asked for change. The new text is written atomically, with the file's own mode.
"""
from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from common.files import write_text
from config.schema import ConfigError

_QUOTED = (SingleQuotedScalarString, DoubleQuotedScalarString)


def _yaml_error(path: Path, exc: YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark else ""
    return ConfigError(f"{path}: not valid YAML{where}")


def read_text(path: Path) -> str:
    """The text of ``path`` (line endings kept), or :class:`ConfigError` saying why not."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None


def parse_yaml(path: Path, text: str) -> object:
    """``text`` (the content of ``path``, or what it would become) as plain dicts and lists, or
    :class:`ConfigError`."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise _yaml_error(path, exc) from None


def read_yaml(path: Path) -> tuple[str, object]:
    """The text of ``path`` and its YAML data as plain dicts and lists, or :class:`ConfigError`."""
    text = read_text(path)
    return text, parse_yaml(path, text)


def _mapping_indent(text: str) -> int:
    """The indentation of nested block mappings in ``text`` (2 when it has none)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for above, line in zip(lines, lines[1:]):
        if above.rstrip().endswith(":") and not line.lstrip().startswith("-"):
            step = (len(line) - len(line.lstrip())) - (len(above) - len(above.lstrip()))
            if step > 0:
                return step
    return 2


def _round_trip(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long value (an encrypted URL) onto two lines
    _, sequence, offset = load_yaml_guess_indent(text)
    yaml.indent(mapping=_mapping_indent(text), sequence=sequence or 2, offset=offset or 0)
    return yaml


def _rendered_length(value) -> int:
    return len(str(value)) + (2 if isinstance(value, _QUOTED) else 0)


def replace_scalar(parent: CommentedMap, key: str, value) -> None:
    """Set ``parent[key]`` to ``value`` keeping the old value's quoting and the gap before its
    end-of-line comment (``url: "..."   # north pillar`` stays so with a longer value)."""
    old = parent.get(key)
    if isinstance(value, str) and isinstance(old, _QUOTED):
        value = type(old)(value)
    comment = parent.ca.items.get(key)
    token = comment[2] if comment and len(comment) > 2 else None
    if token is not None and key in parent and hasattr(parent, "lc"):
        _, column = parent.lc.value(key)
        gap = max(1, token.column - (column + _rendered_length(old)))
        token.column = column + _rendered_length(value) + gap
    parent[key] = value


def edit_yaml(path: Path, edit: Callable[[object], None]) -> str:
    """The text of ``path`` after ``edit(document)`` changed its round-trip document in place
    (comments, order and layout kept). Nothing is written: see :func:`write_config`."""
    text = read_text(path)
    yaml = _round_trip(text)
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        raise _yaml_error(path, exc) from None
    edit(document)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def write_config(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step (a crash leaves the old file or the new one),
    keeping its mode. OSError propagates."""
    target = path.resolve()
    write_text(target, text, mode=stat.S_IMODE(target.stat().st_mode))


def dump_yaml(data: object) -> str:
    """``data`` (plain dicts and lists) as a new YAML document."""
    out = io.StringIO()
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(data, out)
    return out.getvalue()


def writable(path: Path) -> bool:
    """Whether ``path`` may be rewritten: no write bit counts as read-only, even for root
    (who may write anywhere, but the file was meant to stay as it is)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)

