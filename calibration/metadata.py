"""What VSION keeps from a calibration's ``[metadata]`` table and a set's ``meta.json``: typed.

Outside files carry free-form metadata; code that reads a known key (the web page reads
``reprojection_rms_px``, the database mirror reads ``rms_px``...) must be able to trust its
type. The rules, shared by the TOML reader and writer and by the set store:

* **Known keys are typed** (:class:`CalibrationMetadata`, :class:`SetRecord`). A known key of
  another type is refused when a file is imported or written (``strict=True``: one-line
  :class:`MetadataError` naming the key) and dropped with a warning when a file VSION stored
  earlier is read back (``strict=False``), so a set saved by an older version stays usable.
* **Unknown keys are kept only when they are plain scalars**: text (at most
  :data:`MAX_TEXT` characters, no control characters), a boolean, a finite float, an integer
  within +-2**53. Tables, arrays, dates and anything else are dropped (strict or not) with a
  warning naming them; a writer given one refuses it, so what is saved is what is read back.
* **Text** (notes, file names, camera names, every string kept): control characters (C0, DEL,
  C1, tab and newline included), lone surrogates, line / paragraph separators and
  bidirectional overrides are refused, never stripped; the caller shows the message.

Pure (pydantic and the standard library); every function is thread-safe.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

logger = logging.getLogger(__name__)

MAX_TEXT = 200  # characters of a note, a method, any kept string
MAX_NAME = 64  # characters of a camera name
MAX_FILE_NAME = 255  # characters of a file name as the user knows it
MAX_CAMERAS = 64
MAX_INT = 2**53  # larger integers lose precision as floats: no calibration value is that large
SET_ID = re.compile(r"[0-9]{8}-[0-9]{6}(-[0-9]{1,3})?", re.ASCII)

# C0 and C1 controls and DEL, lone surrogates, line / paragraph separators, bidi embeddings,
# overrides and isolates (they reorder what a reader sees: "\u202e" spoofs file names).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class MetadataError(ValueError):
    """Metadata, a note or a name that VSION refuses; the message is one line naming the key."""


def text_problem(text: Any, what: str, max_length: int = MAX_TEXT, allow_empty: bool = True) -> str | None:
    """Why ``text`` cannot be kept as ``what`` (one line), or None when it can."""
    if not isinstance(text, str):
        return f"{what} must be text, got {type(text).__name__}"
    if not text.strip() and not allow_empty:
        return f"{what} is empty"
    if len(text) > max_length:
        return f"{what} is longer than {max_length} characters ({len(text)})"
    bad = _FORBIDDEN.search(text)
    if bad:
        return (f"{what} contains the control character U+{ord(bad.group()):04X} at position {bad.start() + 1}; "
                "use printable characters only")
    return None


def check_text(text: Any, what: str, max_length: int = MAX_TEXT, allow_empty: bool = True) -> str:
    """``text`` itself, or :class:`MetadataError` saying why it is refused (see :func:`text_problem`)."""
    problem = text_problem(text, what, max_length, allow_empty)
    if problem:
        raise MetadataError(problem)
    return text


def _printable(text: str) -> str:
    problem = text_problem(text, "text", max_length=len(text))
    if problem:
        raise ValueError(problem.removeprefix("text "))
    return text


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_printable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_printable)]
FileName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILE_NAME), AfterValidator(_printable)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
PerCameraFloat = Annotated[dict[Name, Finite], Field(max_length=MAX_CAMERAS)]
PerCameraCount = Annotated[dict[Name, Count], Field(max_length=MAX_CAMERAS)]
# Every annotation below is one of these names: the compiled build (Cython) keeps annotations as
# text, which pydantic evaluates in this module, and cannot render an expression such as f"...".
Size = Annotated[list[Count], Field(min_length=2, max_length=2)]
Labels = Annotated[list[Text], Field(max_length=10_000)]
Distortions = Annotated[list[Finite], Field(max_length=14)]
CameraNames = Annotated[list[Name], Field(max_length=MAX_CAMERAS)]
SetId = Annotated[str, StringConstraints(pattern="^" + SET_ID.pattern + "$")]
FloorRectangle = Annotated[list[Finite], Field(min_length=4, max_length=4)]

Shift = Annotated[float, Field(allow_inf_nan=False, ge=0)]

WORK_AREA_KEY = "work_area"  # a calibration's work area: [x0, y0, x1, y1] m on the floor of its world frame


class _Typed(BaseModel):
    # strict: no "1" -> 1, no True -> 1.0; numbers, text and tables must already be of their type
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class IntrinsicsSummary(_Typed):
    """One camera's intrinsic calibration as the wizard and ``calibrate intrinsics`` record it (px)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    camera: Name | None = None
    size: Size | None = None
    rms_px: Finite | None = None
    views: Count | None = None
    found: Count | None = None
    used: Count | None = None
    rejected: Labels | None = None
    coverage: Finite | None = None
    fx: Finite | None = None
    fy: Finite | None = None
    cx: Finite | None = None
    cy: Finite | None = None
    distortions: Distortions | None = None


PerCameraIntrinsics = Annotated[dict[Name, IntrinsicsSummary], Field(max_length=MAX_CAMERAS)]


class PositionChange(_Typed):
    """One camera's move found by a "redo positions" solve: how far its centre went (mm) and how
    much it turned (degrees) since the calibration it started from."""

    name: Name
    centre_shift_mm: Shift
    rotation_deg: Shift


PositionChanges = Annotated[list[PositionChange], Field(max_length=MAX_CAMERAS)]


class CalibrationMetadata(_Typed):
    """The known keys of a calibration's ``[metadata]`` (all optional); per-camera tables are
    keyed by camera name. Errors in px, residuals in mm, counts of views / moments / corners."""

    method: Text | None = None
    board: Text | None = None
    world_origin: Text | None = None
    session: Text | None = None
    source_file: FileName | None = None
    reprojection_median_px: PerCameraFloat | None = None
    reprojection_rms_px: PerCameraFloat | None = None
    views: PerCameraCount | None = None
    moments: Count | None = None
    outliers_removed: Count | None = None
    intrinsics: PerCameraIntrinsics | None = None
    qualisys_avg_residual_mm: PerCameraFloat | None = None
    error: Finite | None = None  # anipose, Pose2Sim and FreeMoCap: the calibration's mean error (px)
    adjusted: bool | None = None  # anipose: bundle-adjusted or not
    work_area: FloorRectangle | None = None  # where the worker stands: x0, y0, x1, y1 (m), set on the Calibration page
    position_changes: PositionChanges | None = None  # "redo positions": each camera's move since the last calibration


class SetRecord(_Typed):
    """A calibration set's ``meta.json``: id (``YYYYmmdd-HHMMSS[-N]``, UTC), creation time
    (ISO 8601), the user's note, camera names in order, per-camera reprojection RMS (px), and
    where it came from (imported file name, wizard session, creator's user name)."""

    id: SetId
    created_at: Text = ""
    note: Text = ""
    cameras: CameraNames = []
    rms_px: PerCameraFloat = {}
    imported_from: FileName | None = None
    session: Text | None = None
    created_by: Text | None = None


def scalar_problem(value: Any) -> str | None:
    """Why ``value`` is not a plain scalar VSION keeps under an unknown key, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INT else f"an integer beyond +-2**53 ({value.bit_length()} bits)"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, str):
        return text_problem(value, "the text")
    kind = {dict: "a table", list: "an array", tuple: "an array"}.get(type(value), f"a {type(value).__name__}")
    return f"{kind}, not a plain value (text, number or boolean)"


def _where(loc: tuple) -> str:
    """A pydantic error location as one bounded line: ``views['cam 1']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)[:40]!r}]"
    return out


def _message(error: dict) -> str:
    text = error["msg"].removeprefix("Value error, ")
    return f"'{_where(error['loc'])}': {text[:1].lower()}{text[1:]}"


def typed(model: type[_Typed], data: dict, strict: bool, what: str) -> tuple[_Typed, dict, list[str]]:
    """Validate ``data`` into ``model``: (the model, the plain scalars kept under unknown keys,
    one line per key dropped).

    Known keys: a wrong type raises :class:`MetadataError` (``what`` and the key) when
    ``strict``, else the key is dropped (its default applies). Unknown keys: kept if plain
    scalars (:func:`scalar_problem`), else dropped. Required fields that are wrong always raise.
    """
    if not isinstance(data, dict):
        raise MetadataError(f"{what} must be a table, got {scalar_problem(data) or type(data).__name__}")
    known, extra, dropped = {}, {}, []
    for key, value in data.items():
        key_problem = text_problem(key, "the key", MAX_NAME, allow_empty=False)
        if key in model.model_fields:
            known[key] = value
        elif key_problem or scalar_problem(value):
            shown = f"{key[:40]!r}" if isinstance(key, str) else f"a {type(key).__name__} key"
            dropped.append(f"{shown}: {key_problem or scalar_problem(value)}")
        else:
            extra[key] = value
    while True:
        try:
            return model.model_validate(known), extra, dropped
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            if strict or any(model.model_fields[e["loc"][0]].is_required() for e in errors):
                raise MetadataError(f"{what} {_message(errors[0])}") from None
            for error in errors:
                if known.pop(error["loc"][0], None) is not None:
                    dropped.append(_message(error))


def check_metadata(raw: Any, mode: Literal["read", "import", "write"], what: str = "metadata") -> dict:
    """Calibration metadata as VSION keeps it: the typed known keys, then unknown plain scalars.

    ``mode``: ``"read"`` (a file VSION stored) drops a known key of the wrong type; ``"import"``
    (an outside file) refuses it with :class:`MetadataError`; both drop unknown keys that are
    not plain scalars, logged as one warning line. ``"write"`` refuses both, so that what is
    saved is what is read back.
    """
    model, extra, dropped = typed(CalibrationMetadata, raw, mode != "read", what)
    if dropped and mode == "write":
        raise MetadataError(f"{what} {dropped[0]}")
    if dropped:
        logger.warning("%s: dropped %s", what, "; ".join(dropped)[:500])
    return {**model.model_dump(exclude_none=True), **extra}
