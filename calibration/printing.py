"""Printable calibration boards at true scale (SVG and PDF), and a picture of what "9 x 6" counts.

A sheet holds the printed squares (``cols + 1`` x ``rows + 1`` of them for ``cols`` x ``rows``
inner corners, the first one black, as :mod:`calibration.boards` defines), a line saying
what the board is, and a check square of a round size to measure with a ruler once printed
(a printer set to "fit to page" shrinks everything; the board's true size is what counts).

Lengths are millimetres, with the origin at the paper's top-left corner and y downwards.
The SVG's user unit is the millimetre (``width="210mm"``, ``viewBox="0 0 210 297"``); the PDF
is drawn by ReportLab in points (1 mm = 72 / 25.4 pt). Pure; thread-safe.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from xml.sax.saxutils import escape

import cv2
import numpy as np

from calibration.boards import BoardError, CharucoBoard, check_board

logger = logging.getLogger(__name__)

PAPERS_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
MARGIN_MM = 10.0  # what most printers cannot print, and a white border the detectors need
FOOTER_GAP_MM = 8.0
TEXT_MM = 5.0  # caption height
MM_TO_PT = 72.0 / 25.4
CHECK_FALLBACKS_MM = (30.0, 20.0)  # smaller check squares, when the asked one leaves no room


class BoardPrintError(ValueError):
    """The board cannot be printed as asked; the message says why and what to do. ``code`` and
    ``params`` let a page say it in its own language (``too_big``: the largest square ``best`` mm)."""

    def __init__(self, message: str, code: str = "print", params: dict | None = None):
        super().__init__(message)
        self.code, self.params = code, dict(params or {})


@dataclass(frozen=True)
class Sheet:
    """Where everything goes on the paper (mm): paper size (width, height), the printed squares'
    top-left corner and size, the check square's top-left corner and side, the caption."""

    paper_mm: tuple[float, float]
    board_origin_mm: tuple[float, float]
    board_size_mm: tuple[float, float]
    check_origin_mm: tuple[float, float]
    check_mm: float
    caption: str
    text_mm: float = TEXT_MM

    @property
    def caption_lines(self) -> list[tuple[float, float, str]]:
        """(x, baseline y, text) mm of each caption line, right of the check square, ending at its bottom."""
        lines = self.caption.split("\n")
        x = self.check_origin_mm[0] + self.check_mm + FOOTER_GAP_MM
        bottom = self.check_origin_mm[1] + self.check_mm
        return [(x, bottom - (len(lines) - 1 - k) * 1.4 * self.text_mm, line) for k, line in enumerate(lines)]


def describe(board) -> str:
    """The caption: what a technician reads on the sheet and types in the board settings."""
    text = f"{board.cols} x {board.rows} inner corners, squares {board.square_mm:g} mm"
    if isinstance(board, CharucoBoard):
        marker = board.marker_mm or 0.75 * board.square_mm
        text += f"\nChArUco markers {marker:g} mm (dictionary 5x5, 100 markers)"
    return text


def _paper(paper) -> tuple[float, float]:
    if isinstance(paper, str):
        if paper.upper() not in PAPERS_MM:
            raise BoardPrintError(f"unknown paper {paper!r}: A4, A3, or a custom size (width, height) in mm")
        return PAPERS_MM[paper.upper()]
    width, height = (float(v) for v in paper)
    if not (50 <= width <= 5000 and 50 <= height <= 5000):
        raise BoardPrintError(f"paper {width:g} x {height:g} mm: each side must be between 50 and 5000 mm")
    return width, height


def _check_orientable(board) -> None:
    try:
        check_board(board)
    except BoardError as exc:
        raise BoardPrintError(str(exc), exc.code, exc.params) from None


def sheet_layout(board, paper="A4", check_mm: float = 50.0, caption: str | None = None) -> Sheet:
    """Lay ``board`` out on ``paper`` ("A4", "A3" or (width, height) mm), turned to landscape
    when that is what fits, with a check square of ``check_mm`` (smaller, down to 20 mm, when
    only that fits). Raises :class:`BoardPrintError` for a board whose halves look the same,
    or one that does not fit (the message gives the largest square that would)."""
    _check_orientable(board)
    width, height = _paper(paper)
    squares = (board.cols + 1, board.rows + 1)
    size = (squares[0] * board.square_mm, squares[1] * board.square_mm)
    text = caption or describe(board)
    for check in sorted({check_mm, *(c for c in CHECK_FALLBACKS_MM if c < check_mm)}, reverse=True):
        footer = max(check, TEXT_MM) + FOOTER_GAP_MM
        for w, h in ((width, height), (height, width)):
            room = (w - 2 * MARGIN_MM, h - 2 * MARGIN_MM - footer)
            # Helvetica's letters average about 0.55 of the font size: the caption shrinks to fit.
            text_mm = min(TEXT_MM, (room[0] - check - FOOTER_GAP_MM) / (0.55 * max(map(len, text.split("\n")))))
            if size[0] <= room[0] and size[1] <= room[1] and text_mm >= 2.0:
                origin = ((w - size[0]) / 2, MARGIN_MM + (room[1] - size[1]) / 2)
                return Sheet((w, h), origin, size, (MARGIN_MM, h - MARGIN_MM - check), check, text, text_mm)
    footer = min(check_mm, min(CHECK_FALLBACKS_MM)) + FOOTER_GAP_MM
    best = max(min((w - 2 * MARGIN_MM) / squares[0], (h - 2 * MARGIN_MM - footer) / squares[1])
               for w, h in ((width, height), (height, width)))
    largest = max(np.floor(best), 0)
    raise BoardPrintError(
        f"a {board.cols} x {board.rows} board with {board.square_mm:g} mm squares is {size[0]:g} x {size[1]:g} mm "
        f"and does not fit on {width:g} x {height:g} mm paper (with {MARGIN_MM:g} mm margins and the check square): "
        f"use squares of at most {largest:g} mm, fewer corners, or a larger paper", "too_big",
        {"width": f"{size[0]:g}", "height": f"{size[1]:g}", "paper_width": f"{width:g}", "paper_height": f"{height:g}",
         "best": f"{largest:g}"})


def board_cells(board, sheet: Sheet) -> list[tuple[float, float, float, float]]:
    """Every black rectangle of the board (x, y, width, height) mm on the sheet: squares, and
    the ArUco markers' black cells for a ChArUco board."""
    x0, y0 = sheet.board_origin_mm
    s = board.square_mm
    if isinstance(board, CharucoBoard):
        return _charuco_cells(board, x0, y0)
    return [(x0 + i * s, y0 + j * s, s, s) for j in range(board.rows + 1) for i in range(board.cols + 1)
            if (i + j) % 2 == 0]


def _charuco_cells(board: CharucoBoard, x0: float, y0: float) -> list[tuple[float, float, float, float]]:
    """Black squares (those without a marker, the first black) and markers' black bits, mm."""
    cv_board = board.opencv_board()
    dictionary = cv_board.getDictionary()
    s = board.square_mm
    cells = [(x0 + i * s, y0 + j * s, s, s) for j in range(board.rows + 1) for i in range(board.cols + 1)
             if (i + j) % 2 == 0]
    bits = dictionary.markerSize + 2  # with the one-bit black border
    for marker_id, corners in zip(np.asarray(cv_board.getIds()).ravel(), cv_board.getObjPoints()):
        corners = np.asarray(corners).reshape(-1, 3) * 1000.0  # m -> mm, OpenCV's board frame: y down
        left, top = corners[:, 0].min(), corners[:, 1].min()
        cell = (corners[:, 0].max() - left) / bits
        image = cv2.aruco.generateImageMarker(dictionary, int(marker_id), bits, borderBits=1)
        for r, c in zip(*np.nonzero(image == 0)):
            cells.append((x0 + left + c * cell, y0 + top + r * cell, cell, cell))
    return cells


def _fmt(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")


def board_svg(board, paper="A4", check_mm: float = 50.0, caption: str | None = None,
              check_label: str = "{mm:g} mm") -> str:
    """The sheet as an SVG document at true scale (mm); see :func:`sheet_layout` for the errors.
    ``caption`` and ``check_label`` (``{mm}`` is the check square's side) let the page translate."""
    sheet = sheet_layout(board, paper, check_mm, caption)
    w, h = sheet.paper_mm
    cx, cy = sheet.check_origin_mm
    c = sheet.check_mm
    rects = "".join(f'<rect class="square" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(a)}" height="{_fmt(b)}"/>'
                    for x, y, a, b in board_cells(board, sheet))
    bx, by = sheet.board_origin_mm
    bw, bh = sheet.board_size_mm
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(w)}mm" height="{_fmt(h)}mm" '
            f'viewBox="0 0 {_fmt(w)} {_fmt(h)}">'
            f'<rect x="0" y="0" width="{_fmt(w)}" height="{_fmt(h)}" fill="#fff"/>'
            f'<g fill="#000" shape-rendering="crispEdges" data-square-mm="{_fmt(board.square_mm)}" '
            f'data-board="{_fmt(bx)} {_fmt(by)} {_fmt(bw)} {_fmt(bh)}">{rects}</g>'
            f'<rect class="check" x="{_fmt(cx)}" y="{_fmt(cy)}" width="{_fmt(c)}" height="{_fmt(c)}" fill="none" '
            f'stroke="#000" stroke-width="0.3"/>'
            f'<text x="{_fmt(cx + c / 2)}" y="{_fmt(cy + c / 2)}" font-family="sans-serif" font-size="4" '
            f'text-anchor="middle">{escape(check_label.format(mm=c))}</text>'
            + "".join(f'<text class="caption" x="{_fmt(x)}" y="{_fmt(y)}" font-family="sans-serif" '
                      f'font-size="{_fmt(sheet.text_mm)}">{escape(line)}</text>' for x, y, line in sheet.caption_lines)
            + "</svg>")


def board_pdf(board, paper="A4", check_mm: float = 50.0, caption: str | None = None,
              check_label: str = "{mm:g} mm") -> bytes:
    """The sheet as a one-page PDF at true scale (the page is the paper size); print it at 100 %."""
    from reportlab.pdfgen import canvas  # only needed to print

    sheet = sheet_layout(board, paper, check_mm, caption)
    w, h = sheet.paper_mm
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(w * MM_TO_PT, h * MM_TO_PT), pageCompression=0)
    pdf.setTitle(sheet.caption.replace("\n", ", "))

    def rect(x, y, a, b, fill):  # mm, y down -> points, y up
        pdf.rect(x * MM_TO_PT, (h - y - b) * MM_TO_PT, a * MM_TO_PT, b * MM_TO_PT, stroke=0 if fill else 1, fill=fill)

    for x, y, a, b in board_cells(board, sheet):
        rect(x, y, a, b, 1)
    cx, cy = sheet.check_origin_mm
    c = sheet.check_mm
    pdf.setLineWidth(0.3 * MM_TO_PT)
    rect(cx, cy, c, c, 0)
    pdf.setFont("Helvetica", 4 * MM_TO_PT)
    pdf.drawCentredString((cx + c / 2) * MM_TO_PT, (h - cy - c / 2) * MM_TO_PT, check_label.format(mm=c))
    pdf.setFont("Helvetica", sheet.text_mm * MM_TO_PT)
    for x, y, line in sheet.caption_lines:
        pdf.drawString(x * MM_TO_PT, (h - y) * MM_TO_PT, line)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def inner_corners_svg(cols: int = 9, rows: int = 6, square_px: float = 40.0,
                      across: str = "{cols} inner corners across", down: str = "{rows} down",
                      squares: str = "({sq_cols} x {sq_rows} squares)") -> str:
    """A picture (SVG, px) of what "9 x 6" counts: the inner corners, where four squares meet,
    marked with dots and counted along the top and the side; the squares' count under it.
    The labels are format strings (``{cols}``, ``{rows}``, ``{sq_cols}``, ``{sq_rows}``) for the
    page to translate."""
    s = square_px
    pad, side = 1.5 * s, 3.0 * s
    width, height = 2 * pad + (cols + 1) * s + side, 2 * pad + (rows + 1) * s + s
    names = {"cols": cols, "rows": rows, "sq_cols": cols + 1, "sq_rows": rows + 1}
    parts = [f'<rect x="{_fmt(pad + i * s)}" y="{_fmt(pad + j * s)}" width="{_fmt(s)}" height="{_fmt(s)}"/>'
             for j in range(rows + 1) for i in range(cols + 1) if (i + j) % 2 == 0]
    dots = [f'<circle cx="{_fmt(pad + i * s)}" cy="{_fmt(pad + j * s)}" r="{_fmt(s / 7)}"/>'
            for j in range(1, rows + 1) for i in range(1, cols + 1)]
    numbers = ([f'<text x="{_fmt(pad + i * s)}" y="{_fmt(pad - s / 4)}">{i}</text>' for i in range(1, cols + 1)]
               + [f'<text x="{_fmt(pad + (cols + 1) * s + s / 3)}" y="{_fmt(pad + j * s + s / 8)}" '
                  f'text-anchor="start">{j}</text>' for j in range(1, rows + 1)])
    font = _fmt(s * 0.38)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(width)}" height="{_fmt(height)}" '
            f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" font-family="sans-serif" font-size="{font}">'
            f'<rect width="{_fmt(width)}" height="{_fmt(height)}" fill="#fff"/>'
            f'<rect x="{_fmt(pad)}" y="{_fmt(pad)}" width="{_fmt((cols + 1) * s)}" height="{_fmt((rows + 1) * s)}" '
            f'fill="#fff" stroke="#999"/><g fill="#222">{"".join(parts)}</g>'
            f'<g fill="#e53935" stroke="#fff" stroke-width="{_fmt(s / 20)}">{"".join(dots)}</g>'
            f'<g fill="#e53935" text-anchor="middle" font-weight="bold">{"".join(numbers)}</g>'
            f'<text x="{_fmt(pad)}" y="{_fmt(pad - s * 0.75)}">{escape(across.format(**names))}</text>'
            f'<text x="{_fmt(pad + (cols + 1) * s + s)}" y="{_fmt(pad + (rows + 1) * s / 2)}">'
            f'{escape(down.format(**names))}</text>'
            f'<text x="{_fmt(pad)}" y="{_fmt(pad + (rows + 1) * s + s * 0.8)}">{escape(squares.format(**names))}</text>'
            f'</svg>')
