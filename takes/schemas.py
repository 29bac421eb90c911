"""The payloads of recording (Socket.IO ``start recording`` / ``stop recording``)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from common.payloads import PRINTABLE, Payload

MAX_LABEL = 120
TakeId = Annotated[str, Field(pattern=r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")]
# The original VSION client sends {"data": "start record!"} (and "stop record!"): accepted, ignored.
LegacyText = Annotated[str, StringConstraints(max_length=200)] | None


class StartRecording(Payload):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    label: Annotated[str, StringConstraints(max_length=MAX_LABEL, pattern=PRINTABLE)] | None = None
    work_card_id: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)
    kind: Literal["reference", "attempt", "free"] | None = None
    data: LegacyText = None


class StopRecording(Payload):
    take_id: TakeId | None = None
    data: LegacyText = None
