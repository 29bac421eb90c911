"""Printable boards: true scale in the SVG and the PDF (read back from the files), boards that are
refused, and the printed geometry detected by OpenCV once drawn at a known resolution."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from calibration.boards import CharucoBoard, Checkerboard
from calibration.detect import detect_board
from calibration.printing import (
    MM_TO_PT,
    BoardPrintError,
    board_cells,
    board_pdf,
    board_svg,
    inner_corners_svg,
    sheet_layout,
)
from tests.helpers.paths import ROOT

SVG = "{http://www.w3.org/2000/svg}"


def test_svg_is_true_scale():
    board = Checkerboard(6, 5, 25)  # 175 x 150 mm of squares: A4 upright
    root = ET.fromstring(board_svg(board, "A4"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")
    squares = root.findall(f".//{SVG}rect[@class='square']")
    assert len(squares) == 7 * 6 // 2
    assert {(float(r.get("width")), float(r.get("height"))) for r in squares} == {(25.0, 25.0)}
    xs = sorted({float(r.get("x")) for r in squares})
    assert np.allclose(np.diff(xs), 25.0) and len(xs) == 7  # squares side by side
    check = root.find(f".//{SVG}rect[@class='check']")
    assert float(check.get("width")) == float(check.get("height")) == 50.0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "6 x 5 inner corners, squares 25 mm" in texts and "50 mm" in texts


def test_pdf_is_true_scale():
    pdf = board_pdf(Checkerboard(6, 5, 25), "A4")
    assert pdf.startswith(b"%PDF")
    box = [float(v) for v in re.search(rb"/MediaBox \[\s*([\d.\s]+)\]", pdf).group(1).split()]
    assert box[2] == pytest.approx(210 * MM_TO_PT, abs=0.01) and box[3] == pytest.approx(297 * MM_TO_PT, abs=0.01)
    rects = [tuple(map(float, m)) for m in re.findall(rb"([\d.-]+) ([\d.-]+) ([\d.-]+) ([\d.-]+) re", pdf)]
    sizes = sorted({(round(w, 2), round(h, 2)) for _, _, w, h in rects})
    assert (round(25 * MM_TO_PT, 2), round(25 * MM_TO_PT, 2)) in sizes  # 70.87 pt: the 25 mm squares
    assert (round(50 * MM_TO_PT, 2), round(50 * MM_TO_PT, 2)) in sizes  # the check square
    assert b"6 x 5 inner corners, squares 25 mm" in pdf


def test_custom_paper_and_landscape():
    studio = Checkerboard(9, 6, 115)  # 1150 x 805 mm of squares
    sheet = sheet_layout(studio, (900, 1300))
    assert sheet.paper_mm == (1300, 900)  # turned to fit
    assert sheet.board_size_mm == (1150, 805)
    wide = sheet_layout(Checkerboard(9, 6, 20), "A4")  # 200 x 140 mm
    assert wide.paper_mm == (297, 210) and wide.check_mm == 30  # a smaller check square leaves room


def test_boards_that_cannot_be_printed_are_refused():
    with pytest.raises(BoardPrintError, match=r"1150 x 805 mm and does not fit on 297 x 420 mm paper.*at most 35 mm"):
        board_svg(Checkerboard(9, 6, 115), "A3")
    assert sheet_layout(Checkerboard(9, 6, 35), "A3").check_mm == 20  # the size suggested fits
    with pytest.raises(BoardPrintError, match=r"8 x 6 checkerboard looks the same turned by half a turn \(columns \+ rows "
                                              r"is even\).*use 9 x 6 or 8 x 7"):
        board_pdf(Checkerboard(8, 6, 20), "A4")
    with pytest.raises(BoardPrintError, match="unknown paper"):
        board_svg(Checkerboard(9, 6, 20), "letter")
    with pytest.raises(BoardPrintError, match="between 50 and 5000 mm"):
        board_svg(Checkerboard(9, 6, 20), (10, 5000))


@pytest.mark.parametrize("board", [Checkerboard(9, 6, 20), CharucoBoard(7, 5, 25)], ids=["checkerboard", "charuco"])
def test_printed_geometry_is_the_board_the_detector_expects(board):
    """The sheet's black cells drawn at 8 px/mm (a perfect print photographed face on) are found by
    the detectors with the corners where the board frame puts them (first square black)."""
    sheet = sheet_layout(board, "A4")
    scale = 8.0
    w, h = (int(v * scale) for v in sheet.paper_mm)
    image = np.full((h, w), 255, np.uint8)
    for x, y, a, b in board_cells(board, sheet):
        cv2.rectangle(image, (round(x * scale), round(y * scale)), (round((x + a) * scale) - 1, round((y + b) * scale) - 1),
                      0, -1)
    det = detect_board(image, board)
    assert det is not None and len(det.ids) == board.n_corners
    x0, y0 = sheet.board_origin_mm
    expected = (board.object_points()[det.ids, :2] * 1000 + (x0 + board.square_mm, y0 + board.square_mm)) * scale
    assert np.abs(det.corners + 0.5 - expected).max() < 1.0  # pixel centres at +0.5


def test_inner_corners_picture_counts_the_corners():
    root = ET.fromstring(inner_corners_svg(9, 6))
    assert len(root.findall(f".//{SVG}circle")) == 54
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "9 inner corners across" in texts and "6 down" in texts and "(10 x 7 squares)" in texts
    translated = ET.fromstring(inner_corners_svg(4, 7, across="{cols} coins intérieurs en largeur"))
    assert "4 coins intérieurs en largeur" in [t.text for t in translated.iter(f"{SVG}text")]


def test_print_command(tmp_path):
    def vsion(*args):
        return subprocess.run([sys.executable, str(ROOT / "app.py"), "calibrate", "print", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    proc = vsion("--board", "9x6", "--square-mm", "20", "--paper", "A4", "--out", tmp_path / "board.pdf")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "board.pdf").read_bytes().startswith(b"%PDF") and "100 %" in proc.stdout
    proc = vsion("--board", "9x6", "--square-mm", "115", "--paper", "1300x900", "--out", tmp_path / "big.svg")
    assert proc.returncode == 0, proc.stderr
    assert ET.parse(tmp_path / "big.svg").getroot().get("width") == "1300mm"
    proc = vsion("--board", "8x6", "--square-mm", "20", "--out", tmp_path / "bad.pdf")
    assert proc.returncode != 0 and "half a turn" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "bad.pdf").exists()
    proc = vsion("--paper", "B5", "--out", tmp_path / "x.pdf")
    assert proc.returncode != 0 and "WIDTHxHEIGHT" in proc.stderr
