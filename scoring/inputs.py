"""What the expert enters per work-card step: the things a camera cannot see.

A step is ``{"name", "start_s", "end_s"}`` on the take's timeline (seconds), the same as
``compare --steps``, extended with the optional fields of :class:`StepInputs` (load, coupling,
static posture, repetition, lift frequency...). Both are pydantic models, frozen and strict
about unknown keys, so a web route can validate its JSON payload with the very same schema.
Pure: pydantic and the standard library; thread-safe (instances are immutable).
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

logger = logging.getLogger(__name__)

Coupling = Literal["good", "fair", "poor", "unacceptable"]


class ErgonomicsError(ValueError):
    """Bad input to the ergonomics code (steps, inputs, points); the message is one line."""


class StepInputs(BaseModel):
    """Inputs of a step that the 3D skeleton does not show, with the worksheets' meaning.

    - ``load_kg`` (kg, >= 0): load handled or force exerted. RULA force/load score: 0 below
      2 kg; 1 for 2-10 kg intermittent; 2 for 2-10 kg static or repeated, or 10 kg or more
      intermittent; 3 for 10 kg or more static or repeated, or with ``shock``. REBA load: 0 below
      5 kg, 1 for 5-10 kg, 2 above 10 kg, +1 with ``shock``. NIOSH: the load lifted.
    - ``shock``: shock or forces with a rapid build-up.
    - ``static_posture``: the posture is mainly static (held longer than 1 min): RULA muscle use
      +1, REBA activity +1. It also makes RULA's load "static".
    - ``repeated``: the action is repeated 4 times a minute or more: RULA muscle use +1, REBA
      activity +1 (small-range actions). It also makes RULA's load "repeated".
    - ``rapid_changes``: rapid large changes in posture or an unstable base: REBA activity +1.
    - ``coupling``: hand hold, REBA coupling 0 good, 1 fair, 2 poor, 3 unacceptable; NIOSH
      coupling multiplier (unacceptable counts as poor).
    - ``wrist_twist``: ``mid`` (mainly in the mid-range of forearm twist) or ``end`` (at or
      near the end of the range): RULA wrist twist 1 or 2, REBA wrist +1 for ``end``.
    - ``arm_supported``: the arm is supported or the person leans on it: upper arm -1.
    - ``sitting``: seated (legs score 1 in both methods, no REBA knee adjustment).
    - ``lift``: the step is a lift (or a lowering) to assess with the NIOSH equation.
    - ``frequency_per_min`` (lifts/min, default 0.2): NIOSH lifting frequency.
    - ``duration_h`` (h, 0-8, default 1): NIOSH lifting duration (<= 1 h short, <= 2 h
      moderate, <= 8 h long).
    - ``control_at_destination``: the load must be placed with care (NIOSH: the RWL is also
      computed at the destination and the lower one counts).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    load_kg: float = Field(0.0, ge=0.0, le=1000.0)
    shock: bool = False
    static_posture: bool = False
    repeated: bool = False
    rapid_changes: bool = False
    coupling: Coupling = "good"
    wrist_twist: Literal["mid", "end"] = "mid"
    arm_supported: bool = False
    sitting: bool = False
    lift: bool = False
    frequency_per_min: float = Field(0.2, ge=0.0, le=60.0)
    duration_h: float = Field(1.0, gt=0.0, le=8.0)
    control_at_destination: bool = False


INPUT_FIELDS: tuple[str, ...] = tuple(StepInputs.model_fields)


class ErgoStep(StepInputs):
    """A step: ``name``, ``start_s`` < ``end_s`` (s, on the take's timeline) and its inputs.

    ``position`` and ``instructions`` are accepted (and ignored) so that a work card step's
    dictionary can be given as it is.
    """

    name: str = Field(min_length=1, max_length=120)
    start_s: float = Field(ge=0.0)
    end_s: float
    position: int | None = None
    instructions: str = ""

    @model_validator(mode="after")
    def _times(self) -> ErgoStep:
        if not self.end_s > self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must come after start_s ({self.start_s:g})")
        return self

    @property
    def inputs(self) -> StepInputs:
        """The step's :class:`StepInputs`."""
        return StepInputs(**{k: getattr(self, k) for k in INPUT_FIELDS})


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def parse_inputs(data: Any) -> StepInputs:
    """:class:`StepInputs` from a dict (None gives the defaults); :class:`ErgonomicsError` if invalid."""
    if data is None:
        return StepInputs()
    if isinstance(data, StepInputs):
        return data
    try:
        return StepInputs.model_validate(data)
    except ValidationError as exc:
        raise ErgonomicsError(f"inputs: {_one_line(exc)}") from None


def parse_steps(data: Any, where: str = "steps") -> list[ErgoStep]:
    """Steps from a list of dicts (or ``{"steps": [...]}``), checked; raises :class:`ErgonomicsError`
    with a one-line message naming ``where`` and the step number."""
    items = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ErgonomicsError(f"{where}: expected a list of steps")
    steps = []
    for k, item in enumerate(items, start=1):
        if isinstance(item, ErgoStep):
            steps.append(item)
            continue
        try:
            steps.append(ErgoStep.model_validate(item))
        except ValidationError as exc:
            raise ErgonomicsError(f"{where}: step {k}: {_one_line(exc)}") from None
    return steps


def load_steps(path: str | os.PathLike) -> list[ErgoStep]:
    """Steps from a JSON file (see :func:`parse_steps`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ErgonomicsError(f"{path}: not a readable steps file ({' '.join(str(exc).split())})") from None
    return parse_steps(data, str(path))


class InputArrays:
    """Step inputs spread over frames: one (F,) array per field of :class:`StepInputs`.

    Built with :meth:`broadcast` (one set for every frame), :meth:`per_frame` (a sequence of F)
    or :meth:`for_steps` (each frame takes the inputs of the step it falls in, else the
    default). Attribute access gives the array, e.g. ``arrays.load_kg``. Read-only after
    construction.
    """

    def __init__(self, per_frame: Sequence[StepInputs]):
        if not per_frame:
            raise ErgonomicsError("no frames to spread the inputs over")
        self._arrays: dict[str, np.ndarray] = {}
        for name in INPUT_FIELDS:
            arr = np.array([getattr(i, name) for i in per_frame])
            arr.flags.writeable = False
            self._arrays[name] = arr

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self._arrays["load_kg"])

    @classmethod
    def broadcast(cls, n_frames: int, inputs: StepInputs | None = None) -> InputArrays:
        return cls([inputs or StepInputs()] * n_frames)

    @classmethod
    def per_frame(cls, inputs: Sequence[StepInputs]) -> InputArrays:
        return cls(list(inputs))

    @classmethod
    def for_steps(cls, times: np.ndarray, steps: Sequence[ErgoStep], default: StepInputs | None = None) -> InputArrays:
        """Frame f (at ``times[f]`` s) gets the inputs of the last step with start_s <= t <= end_s."""
        chosen = [default or StepInputs()] * len(times)
        for step in steps:
            inputs = step.inputs
            for f in np.flatnonzero((times >= step.start_s) & (times <= step.end_s)):
                chosen[f] = inputs
        return cls(chosen)


def coerce_inputs(inputs: StepInputs | Sequence[StepInputs] | InputArrays | None, n_frames: int) -> InputArrays:
    """Any accepted form of inputs as :class:`InputArrays` of ``n_frames``."""
    if isinstance(inputs, InputArrays):
        if len(inputs) != n_frames:
            raise ErgonomicsError(f"inputs cover {len(inputs)} frames, angles {n_frames}")
        return inputs
    if inputs is None or isinstance(inputs, StepInputs):
        return InputArrays.broadcast(n_frames, inputs)
    if len(inputs) != n_frames:
        raise ErgonomicsError(f"{len(inputs)} inputs for {n_frames} frames")
    return InputArrays.per_frame(inputs)
