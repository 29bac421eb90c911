"""The payloads of live work: the live pose switch and the calibration wizard's events."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from common.payloads import Payload
from config.schema import MAX_CAMERAS

MAX_NOTE = 200


class Strict(Payload):
    model_config = ConfigDict(extra="forbid", strict=True)


class LivePoseToggle(Strict):
    enabled: bool


class Empty(Strict):
    pass


class CameraRef(Strict):
    camera: int = Field(ge=0, le=MAX_CAMERAS - 1)


class Focus(Strict):
    step: Literal["camera", "extrinsics", "floor", "result"]
    camera: int | None = Field(default=None, ge=0, le=MAX_CAMERAS - 1)


class Auto(Strict):
    enabled: bool


class Solve(Strict):
    refine_intrinsics: bool = False


class Save(Strict):
    note: str = Field(default="", max_length=MAX_NOTE)
