"""Payloads from outside (HTTP JSON, Socket.IO events, query strings) validated into typed
objects: the base model every schema shares, the one way a validation error becomes a message,
and text constraints shared by every schema.

A schema is defined once, next to the service that uses it (``workcards.schemas``,
``accounts.schemas``...), and used by both the route and the service, so each field has one limit.
"""
from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from common.errors import ServiceError

# Text without control characters (NUL and the like), which PostgreSQL refuses and pages cannot show.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
PrintableText = Annotated[str, StringConstraints(pattern=PRINTABLE)]

Model = TypeVar("Model", bound=BaseModel)


class Payload(BaseModel):
    """Base of every payload schema: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class PayloadError(ServiceError):
    """A payload that does not fit its schema; the message names each field and its problem.

    ``problems``: each error as ``{"field", "code", "message", "params"}`` (``code`` is pydantic's
    error type, or a schema's own code from a ``PydanticCustomError``), for pages that explain
    it in the user's language."""

    def __init__(self, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.problems = problems or []


def problem(error: dict) -> str:
    """One pydantic error's message as the user reads it (a validator's own sentence as is)."""
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return error["msg"].removeprefix("Value error, ")


def explain(exc: ValidationError) -> str:
    """A validation error as one line: ``invalid payload (field: problem; ...)``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        parts.append(f"{where}: {problem(error)}")
    return "invalid payload (" + "; ".join(parts) + ")"


def _simple(params: dict | None) -> dict:
    return {k: v for k, v in (params or {}).items() if isinstance(v, str | int | float | bool) or v is None}


def validate(model: type[Model], data: object) -> Model:
    """``data`` validated into ``model``, or :class:`PayloadError` with :func:`explain`'s message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "code": e["type"], "message": problem(e),
                     "params": _simple(e.get("ctx"))} for e in exc.errors()]
        raise PayloadError(explain(exc), problems) from None
