"""The payloads of live work: the live pose switch and the calibration wizard's events."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from common.payloads import Payload
from config.schema import MAX_CAMERAS
from reconstruction.interest import AREA_LIMIT_M

MAX_NOTE = 200
MAX_PERSON_ID = 10_000


class Strict(Payload):
    model_config = ConfigDict(extra="forbid", strict=True)


class LivePoseToggle(Strict):
    enabled: bool


class Empty(Strict):
    pass


class LivePerson(Strict):
    """``live person``: the person of the live view (an id of the ``pose3d`` people) who is the
    worker; null: the work area decides again."""

    person_id: int | None = Field(ge=1, le=MAX_PERSON_ID)


Corner = Annotated[float, Field(ge=-AREA_LIMIT_M, le=AREA_LIMIT_M, allow_inf_nan=False, strict=True)]


class WorkAreaBody(Payload):
    """``PUT /api/calibration/work-area``: the floor rectangle (m, world frame of the calibration in
    force) where the worker stands; x0 < x1 and y0 < y1 are checked by the service."""

    model_config = ConfigDict(extra="forbid")
    x0: Corner
    y0: Corner
    x1: Corner
    y1: Corner


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
