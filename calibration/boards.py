"""Calibration boards: a checkerboard (default) or a ChArUco board.

Board frame (metres): corner ``(i, j)`` (column i < cols, row j < rows, inner corners) sits at
``(i * s, j * s, 0)`` with ``s`` the square side; corners are listed row by row, as OpenCV
does for ``patternSize = (cols, rows)``: index ``j * cols + i``.

Square colours fix the board's orientation: the square spanning ``[i*s, (i+1)*s] x
[j*s, (j+1)*s]`` (``i`` in -1..cols-1, ``j`` in -1..rows-1) is **black** when ``i + j`` is
even, so the square inside the first four corners is black. When ``cols + rows`` is odd
(the studio's 9 x 6 board, Pose2Sim's 4 x 7) a half-turn of the board changes that colour,
so the corner order can be told apart from its reverse in every image.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np


def parse_board(text: str) -> tuple[int, int]:
    """``"9x6"`` -> (9, 6): inner corners, columns x rows. ValueError with a clear message."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m:
        raise ValueError(f"board {text!r}: expected COLSxROWS inner corners, for example 9x6")
    cols, rows = int(m.group(1)), int(m.group(2))
    if cols < 2 or rows < 2 or cols > 64 or rows > 64:
        raise ValueError(f"board {text!r}: columns and rows must be between 2 and 64")
    return cols, rows


class _CornerGrid:
    """What every board shares: ``cols`` x ``rows`` inner corners ``square_mm`` apart."""

    cols: int
    rows: int
    square_mm: float

    @property
    def square_m(self) -> float:
        return self.square_mm / 1000.0

    @property
    def pattern_size(self) -> tuple[int, int]:
        return (self.cols, self.rows)

    @property
    def n_corners(self) -> int:
        return self.cols * self.rows

    def object_points(self) -> np.ndarray:
        """Corner positions in the board frame, (cols*rows, 3) m, row by row."""
        j, i = np.mgrid[0:self.rows, 0:self.cols]
        return np.stack([i.ravel(), j.ravel(), np.zeros(i.size)], axis=1) * self.square_m


@dataclass(frozen=True)
class Checkerboard(_CornerGrid):
    """A checkerboard with ``cols`` x ``rows`` inner corners and squares of ``square_mm``."""

    cols: int = 9
    rows: int = 6
    square_mm: float = 115.0

    def __post_init__(self):
        if self.cols < 2 or self.rows < 2:
            raise ValueError("a checkerboard needs at least 2 x 2 inner corners")
        if not self.square_mm > 0:
            raise ValueError("the square size must be positive")

    @property
    def orientable(self) -> bool:
        """True when the colours tell the corner order from its half-turn (cols + rows odd)."""
        return (self.cols + self.rows) % 2 == 1

    @property
    def size_m(self) -> tuple[float, float]:
        """Outer size of the printed squares (cols+1, rows+1 squares), metres."""
        return ((self.cols + 1) * self.square_m, (self.rows + 1) * self.square_m)

    def is_black(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colour at board-frame points (m): True where black, False where white or outside."""
        i = np.floor(np.asarray(x) / self.square_m)
        j = np.floor(np.asarray(y) / self.square_m)
        inside = (i >= -1) & (i <= self.cols - 1) & (j >= -1) & (j <= self.rows - 1)
        return inside & ((i + j) % 2 == 0)

    def describe(self) -> str:
        return f"{self.cols}x{self.rows} checkerboard, {self.square_mm:g} mm squares"


@dataclass(frozen=True)
class CharucoBoard(_CornerGrid):
    """A ChArUco board: ``cols`` x ``rows`` inner corners, ArUco markers in the white squares.

    Its corners are identified by the markers, so partial views are usable and the order
    never flips. ``marker_mm`` defaults to 75 % of the square.
    """

    cols: int = 9
    rows: int = 6
    square_mm: float = 115.0
    marker_mm: float | None = None
    dictionary: int = cv2.aruco.DICT_5X5_100

    orientable = True

    def opencv_board(self) -> cv2.aruco.CharucoBoard:
        marker = (self.marker_mm or 0.75 * self.square_mm) / 1000.0
        dictionary = cv2.aruco.getPredefinedDictionary(self.dictionary)
        return cv2.aruco.CharucoBoard((self.cols + 1, self.rows + 1), self.square_m, marker, dictionary)

    def describe(self) -> str:
        return f"{self.cols}x{self.rows} ChArUco board, {self.square_mm:g} mm squares"


def make_board(cols: int, rows: int, square_mm: float, kind: str = "checkerboard", marker_mm: float | None = None):
    """The board object for ``kind`` ``"checkerboard"`` or ``"charuco"`` (ValueError otherwise)."""
    if kind == "checkerboard":
        return Checkerboard(cols, rows, square_mm)
    if kind == "charuco":
        return CharucoBoard(cols, rows, square_mm, marker_mm)
    raise ValueError(f"unknown board type {kind!r}: checkerboard or charuco")


class BoardError(ValueError):
    """A board VSION cannot calibrate with; the message says why and what to choose instead.
    ``code`` (``half_turn``, ``marker_size``, ``markers``) and ``params`` let a page say it in
    its own language."""

    def __init__(self, message: str, code: str = "board", params: dict | None = None):
        super().__init__(message)
        self.code, self.params = code, dict(params or {})


def half_turn_problem(board) -> str | None:
    """Why ``board`` cannot be told from its half-turn (None when it can): the sentence the
    board settings, the print and the solve show."""
    if getattr(board, "orientable", True):
        return None
    return (f"a {board.cols} x {board.rows} checkerboard looks the same turned by half a turn (columns + rows is "
            f"even), so the cameras could not tell its first corner from its last: use {board.cols + 1} x "
            f"{board.rows} or {board.cols} x {board.rows + 1} inner corners, or a ChArUco board")


def check_board(board) -> None:
    """Raise :class:`BoardError` for a board the detectors cannot use: a checkerboard whose halves
    look the same, ChArUco markers not smaller than the squares, or more ChArUco markers than its
    dictionary holds."""
    problem = half_turn_problem(board)
    if problem:
        raise BoardError(problem, "half_turn", {"cols": board.cols, "rows": board.rows, "cols1": board.cols + 1,
                                                "rows1": board.rows + 1})
    if isinstance(board, CharucoBoard):
        marker = board.marker_mm or 0.75 * board.square_mm
        if marker >= board.square_mm:
            raise BoardError(f"ChArUco markers of {marker:g} mm do not fit in squares of {board.square_mm:g} mm: "
                             f"make the markers smaller than the squares (about 75 %)", "marker_size",
                             {"marker": f"{marker:g}", "square": f"{board.square_mm:g}"})
        markers = ((board.cols + 1) * (board.rows + 1)) // 2
        size = cv2.aruco.getPredefinedDictionary(board.dictionary).bytesList.shape[0]
        if markers > size:
            raise BoardError(f"a {board.cols} x {board.rows} ChArUco board needs {markers} markers and its dictionary "
                             f"has {size}: use fewer corners", "markers", {"markers": markers, "size": size})
