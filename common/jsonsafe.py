"""JSON from outside, read within bounds: the one decoder of HTTP bodies and Socket.IO packets.

Python's ``json.loads`` accepts what a payload never needs and what costs a server dearly:
``NaN`` and ``Infinity``, ``1e999`` (read as infinity), integers thousands of digits long (slow
to convert, and refused only past 4300 digits), and nesting deep enough to overflow the stack.
:func:`loads` refuses all of them with a :class:`ValueError` that says which, so a caller
answers 400 or an error event; :func:`dumps` is the standard library's.
"""
from __future__ import annotations

import json
import math

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "JSONDecodeError", "dumps", "loads"]

MAX_DEPTH = 32          # arrays and objects inside one another
MAX_NUMBER_CHARS = 40   # characters of one number literal (2**63 has 19 digits)

dumps = json.dumps
JSONDecodeError = json.JSONDecodeError


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")


def _int(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(value, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text, max_depth: int = MAX_DEPTH, **kwargs):
    """``json.loads(text)`` within bounds; raises ValueError (``json.JSONDecodeError`` for broken
    JSON) for NaN or infinite numbers, number literals over :data:`MAX_NUMBER_CHARS` characters
    and nesting over ``max_depth``. Thread-safe. Extra ``kwargs`` go to ``json.loads``."""
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant, **kwargs)
    except RecursionError:
        raise ValueError(f"JSON nested too deeply (at most {max_depth} levels)") from None
    if _too_deep(value, max_depth):
        raise ValueError(f"JSON nested too deeply (at most {max_depth} levels)")
    return value
