"""Named columns of per-frame values, the shape of both the joint angles and the posture scores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.inputs import ErgonomicsError


@dataclass(frozen=True, eq=False)
class Table:
    """``values`` (F, K) float64 (NaN where unknown), one column per name of ``names`` (K,).

    ``table["name"]`` gives a column (F,). Immutable: the array is copied and made read-only, so
    an instance can be shared by threads.
    """

    values: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.names):
            raise ErgonomicsError(f"values must have shape (F, {len(self.names)}), got {values.shape}")
        values.flags.writeable = False
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "names", tuple(self.names))

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.values[:, self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    @property
    def n_frames(self) -> int:
        """F, the number of frames."""
        return int(self.values.shape[0])

    def _cell(self, value: float):
        return float(value)

    def frame(self, f: int) -> dict:
        """Frame ``f`` as ``{name: value}`` (None where unknown): JSON-ready."""
        return {n: (None if not np.isfinite(v) else self._cell(v)) for n, v in zip(self.names, self.values[f])}
