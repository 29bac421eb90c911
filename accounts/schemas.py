"""The payloads of user administration and of the audit log's queries."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, model_validator

from accounts.audit import MAX_PAGE
from accounts.passwords import MAX_PASSWORD, MIN_PASSWORD
from common.payloads import Payload
from database.models import ROLES


class NewUser(Payload):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=2, max_length=64)
    role: Literal[ROLES]
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class UserChange(Payload):
    """``PATCH /api/users/<id>``: any of these, at least one."""

    role: Literal[ROLES] | None = None
    active: StrictBool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)  # a reset
    unlock: Literal[True] | None = None  # let every address held back by wrong passwords try again now

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("give at least one of role, active, password, unlock")
        return self


class AuditQuery(Payload):
    """``/api/audit`` query parameters. Others (``lang``, a cache buster) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    action: str | None = Field(default=None, max_length=40, pattern=r"^[a-z_.]*$")
    user: str | None = Field(default=None, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")
