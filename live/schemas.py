"""The payloads of live work: the live pose switch and the calibration wizard's events."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

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


# --------------------------------------------------------------------------- sessions and the driver
class SessionStart(Strict):
    """``calibration session``: ``new`` (a whole calibration from nothing) or ``positions``
    (cameras moved: the intrinsics in force kept)."""

    mode: Literal["new", "positions"]


class DriverChange(Strict):
    """``calibration driver``: ``take`` the wizard (when nobody drives it), ``release`` it, or
    ``hand_over`` it ``to`` a user present on the calibration page."""

    action: Literal["take", "release", "hand_over"]
    to: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")

    @model_validator(mode="after")
    def _target(self):
        if (self.action == "hand_over") != (self.to is not None):
            raise ValueError("'to' names the user to hand the wizard over to, and only for hand_over")
        return self


class AdoptIntrinsics(Strict):
    """``calibration adopt``: use the intrinsics a finished ``calibrate`` job found in a recording."""

    job_id: str = Field(pattern=r"^[0-9a-f]{6,32}$")


# --------------------------------------------------------------------------- the board
class BoardForm(Payload):
    """``PUT /api/calibration/board``: the board the cameras are calibrated with (inner corners
    ``cols`` x ``rows``, squares ``square_mm``; ChArUco markers ``marker_mm``, default 75 % of the
    square). The same limits as ``board:`` in config.yaml; a board whose halves look the same is
    refused by the service (:func:`calibration.boards.check_board`)."""

    type: Literal["checkerboard", "charuco"] = "checkerboard"
    cols: int = Field(ge=2, le=64)
    rows: int = Field(ge=2, le=64)
    square_mm: float = Field(gt=0, le=1000, allow_inf_nan=False)
    marker_mm: float | None = Field(default=None, gt=0, le=1000, allow_inf_nan=False)


class BoardPrint(Payload):
    """``GET /api/calibration/board/print``: the board in force as a ``pdf`` or ``svg`` file at true
    scale on ``A4``, ``A3`` or a ``custom`` paper of ``width_mm`` x ``height_mm``."""

    format: Literal["pdf", "svg"] = "pdf"
    paper: Literal["A4", "A3", "custom"] = "A4"
    width_mm: float | None = Field(default=None, ge=50, le=5000, allow_inf_nan=False)
    height_mm: float | None = Field(default=None, ge=50, le=5000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _custom(self):
        if (self.paper == "custom") != (self.width_mm is not None and self.height_mm is not None):
            raise ValueError("width_mm and height_mm give a custom paper's size, and only for paper=custom")
        return self


class CornersPicture(Payload):
    """``GET /api/calibration/board/corners.svg``: the picture of what ``cols`` x ``rows`` counts."""

    cols: int = Field(default=9, ge=2, le=64)
    rows: int = Field(default=6, ge=2, le=64)


# --------------------------------------------------------------------------- from a recording, health
class FromTake(Payload):
    """``POST /api/calibration/from-take``: calibrate from a recorded take: the ``intrinsics`` of
    ``camera`` (the board shown to it alone), or every camera's ``positions`` (the board shown to
    several cameras together; ``floor_start_s``..``floor_end_s``: when the board lay on the floor,
    s from the start of the take)."""

    take_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    mode: Literal["intrinsics", "positions"]
    camera: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    floor_start_s: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)
    floor_end_s: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)

    @model_validator(mode="after")
    def _fields(self):
        if (self.mode == "intrinsics") != (self.camera is not None):
            raise ValueError("camera names the camera whose intrinsics are calibrated, and only for intrinsics")
        if (self.floor_start_s is None) != (self.floor_end_s is None):
            raise ValueError("give both floor_start_s and floor_end_s, or neither")
        if self.floor_start_s is not None and (self.mode != "positions" or self.floor_end_s <= self.floor_start_s):
            raise ValueError("the floor window is for positions, and ends after it starts")
        return self


class HealthCheck(Payload):
    """``POST /api/calibration/health``: measure the calibration in force from a ``board`` shown now
    or from the live ``skeleton`` (``seconds`` of it)."""

    source: Literal["board", "skeleton"] = "board"
    seconds: float = Field(default=3.0, ge=1.0, le=20.0, allow_inf_nan=False)
