"""The payloads of takes: recording (Socket.IO ``start recording`` / ``stop recording``), the takes
library (``GET /api/takes`` query, ``PATCH /api/takes/<id>``, ``POST .../process`` and
``.../promote``) and the job history (``GET /api/jobs`` query)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from common.payloads import PRINTABLE, Payload
from database.models import JOB_STATUSES, MAX_LABEL, MAX_NOTES, PROCESSING, TAKE_KINDS, TAKE_STATUSES

TakeId = Annotated[str, Field(pattern=r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")]
Label = Annotated[str, StringConstraints(max_length=MAX_LABEL, pattern=PRINTABLE)]
Notes = Annotated[str, StringConstraints(max_length=MAX_NOTES, pattern=PRINTABLE)]
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]
MAX_PER_PAGE = 200
SORTS = ("created_at", "label", "owner", "kind", "status", "processing", "duration_s", "work_card")
# The original VSION client sends {"data": "start record!"} (and "stop record!"): accepted, ignored.
LegacyText = Annotated[str, StringConstraints(max_length=200)] | None


class StartRecording(Payload):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    label: Label | None = None
    work_card_id: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)
    kind: Literal["reference", "attempt", "free"] | None = None
    data: LegacyText = None


class StopRecording(Payload):
    take_id: TakeId | None = None
    data: LegacyText = None


class TakeChanges(Payload):
    """``PATCH /api/takes/<id>``: a new label (empty or null: none) and/or notes, at least one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    label: Label | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change: give label or notes")
        return self


class ProcessTake(Payload):
    """``POST /api/takes/<id>/process``: no options (``{}`` or no body)."""


class ChoosePerson(Payload):
    """``POST /api/takes/<id>/person``: the person of the take's ``people.json`` who is its worker;
    null: the work area decides again."""

    person_id: DbId | None = Field(strict=True)


class PromoteTake(Payload):
    """``POST /api/takes/<id>/promote``: the draft work card whose reference take it becomes."""

    work_card_id: DbId = Field(strict=True)


def _moment(value: object, end: bool) -> datetime | None:
    """An ISO date or date-time as an aware UTC time; a bare date is its day's start (``end``:
    the next day's start, so ``until=2026-12-01`` keeps that whole day)."""
    if value is None or isinstance(value, datetime):
        moment = value
    else:
        try:
            if not isinstance(value, str) or len(value) > 40:
                raise ValueError
            if len(value) == 10:
                moment = datetime.combine(date.fromisoformat(value) + timedelta(days=1 if end else 0), time(), UTC)
            else:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise ValueError("give a date (2026-12-01) or a date and time (2026-12-01T08:30:00Z)") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class _Page(Payload):
    # Other parameters (``lang``, a cache buster) are ignored, as by the audit log's API.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value):
        return _moment(value, end=False)

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value):
        return _moment(value, end=True)


class TakeQuery(_Page):
    """``GET /api/takes``: filters (take status, processing state, kind, work card, owner's user
    name, created between ``since`` and ``until``, text in the label, notes or id), sorting, page."""

    status: Literal[TAKE_STATUSES] | None = None
    processing: Literal[PROCESSING] | None = None
    kind: Literal[TAKE_KINDS] | None = None
    work_card: DbId | None = None
    owner: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    q: str | None = Field(default=None, max_length=MAX_LABEL, pattern=r"^[^\x00-\x1f\x7f]*$")
    sort: Literal[SORTS] = "created_at"
    order: Literal["asc", "desc"] = "desc"


class JobQuery(_Page):
    """``GET /api/jobs``: filters (status, take, kind, created since / until), newest first, page."""

    status: Literal[JOB_STATUSES] | None = None
    take: str | None = Field(default=None, max_length=32, pattern=r"^\d{8}-\d{6}(-[0-9A-Za-z]{1,8})?$")
    kind: str | None = Field(default=None, max_length=32, pattern=r"^[a-z_]+$")
