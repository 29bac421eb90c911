"""``calibrate``: intrinsics, extrinsics (bundle adjustment), or a calibration made elsewhere."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import click

from calibration.boards import make_board, parse_board
from calibration.camera import CameraGroup
from calibration.health import board_health
from calibration.intrinsics import CalibrationError
from calibration.io import CalibrationFileError, load_calibration, load_toml, save_toml
from calibration.pipeline import (
    detect_views,
    extrinsics_from_frames,
    frame_views,
    intrinsics_from_source,
    positions_from_frames,
)
from calibration.printing import board_pdf, board_svg
from calibration.recording import extrinsics_from_take, intrinsics_from_take
from cli.common import Progress, options
from common.files import write_bytes
from config.schema import CAMERA_NAME


@click.group("calibrate")
def calibrate_group():
    """Calibrate the cameras, or import a calibration made elsewhere."""


def _board(spec: str, square_mm: float, charuco: bool = False):
    try:
        return make_board(*parse_board(spec), square_mm, "charuco" if charuco else "checkerboard")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _run_calibration(fn, desc):
    """Run ``fn(progress)``; calibration and file errors become one-line command errors."""
    progress = Progress(desc)
    try:
        return fn(progress)
    except (CalibrationError, CalibrationFileError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()


def _existing_group(path: Path):
    return load_toml(path) if path.is_file() else CameraGroup(())


board_options = options(
    click.option("--board", "board_spec", default="9x6", show_default=True, help="Inner corners, COLSxROWS."),
    click.option("--square-mm", default=115.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Square side in millimetres."),
    click.option("--charuco", is_flag=True, help="The board is a ChArUco board (DICT_5X5_100, markers 75 % of a square)."),
)


@calibrate_group.command("intrinsics")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", "name", required=True, help="Camera name, as in config.yaml.")
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
def calibrate_intrinsics_cmd(source, name, board_spec, square_mm, charuco, out):
    """Intrinsics of one camera from a folder of images or a video; adds or replaces it in --out."""
    if not re.match(CAMERA_NAME, name):
        raise click.BadParameter("letters, digits, '_' or '-' (at most 32)", param_hint="--camera")
    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        group = _existing_group(out)  # a malformed file is refused before the long work
        result = intrinsics_from_source(source, name, board, progress)
        meta = dict(group.metadata)
        meta.setdefault("intrinsics", {})[name] = result.summary()
        save_toml(replace(group.replace_camera(result.camera), metadata=meta), out)
        return result

    result = _run_calibration(run, f"{name}: detecting the board")
    s = result.summary()
    click.echo(f"{name}: {s['used']} of {s['views']} views used (board found in {s['found']}), RMS {s['rms_px']:.3f} px, "
               f"coverage {s['coverage']:.0%}, fx {s['fx']:.1f} fy {s['fy']:.1f} cx {s['cx']:.1f} cy {s['cy']:.1f} px")
    if s["rejected"]:
        click.echo(f"{name}: rejected views (error far above the others): {', '.join(s['rejected'])}")
    click.echo(f"saved {out}")


@calibrate_group.command("extrinsics")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--intrinsics", "intrinsics_path", required=True, type=click.Path(exists=True, dir_okay=False,
                                                                                path_type=Path))
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--floor", default=None, help="Name of the view where the board lies on the floor (default: 'floor').")
@click.option("--refine-intrinsics", is_flag=True, help="Also refine every camera's intrinsics.")
def calibrate_extrinsics_cmd(frames_dir, intrinsics_path, board_spec, square_mm, charuco, out, floor,
                             refine_intrinsics):
    """All cameras' poses together (bundle adjustment) from synchronized views of the board.

    FRAMES_DIR holds one sub-folder per camera (named like the camera) with synchronized
    images sharing file names, or one video per camera <camera>.<ext>.
    """
    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        intrinsics = load_toml(intrinsics_path)
        result = extrinsics_from_frames(frames_dir, intrinsics, board, floor, refine_intrinsics, progress)
        save_toml(result.group, out)
        return result

    result = _run_calibration(run, "detecting the board")
    _echo_rig(result, out)


@calibrate_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
def calibrate_import_cmd(source, out):
    """Convert a Qualisys .qca.txt or an anipose / Pose2Sim / FreeMoCap TOML into VSION's TOML."""
    group = _run_calibration(lambda progress: load_calibration(source, strict_metadata=True), "reading")
    save_toml(group, out)
    click.echo(f"imported {len(group)} camera(s) ({', '.join(group.names)}) from {source}; saved {out}")


def _echo_rig(result, out) -> None:
    for name in result.group.names:
        click.echo(f"{name}: {result.views[name]} views, reprojection median {result.errors_px[name]:.3f} px, "
                   f"RMS {result.rms_px[name]:.3f} px")
    click.echo(f"{len(result.board_poses)} board moments, {result.outliers} outlier corners removed, "
               f"{result.seconds:.1f} s; saved {out}")


@calibrate_group.command("redo-positions")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calibration", "calibration_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The calibration whose intrinsics are kept.")
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--floor", default=None, help="Name of the view where the board lies on the floor (default: 'floor').")
def calibrate_redo_positions_cmd(frames_dir, calibration_path, board_spec, square_mm, charuco, out, floor):
    """Cameras moved: every camera's position again from new board views, the intrinsics kept.

    FRAMES_DIR is laid out as for ``calibrate extrinsics``.
    """
    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        result = positions_from_frames(frames_dir, load_calibration(calibration_path), board, floor, progress)
        save_toml(result.group, out)
        return result

    result = _run_calibration(run, "detecting the board")
    for change in result.group.metadata["position_changes"]:
        click.echo(f"{change['name']}: moved {change['centre_shift_mm']:.1f} mm, turned {change['rotation_deg']:.2f} deg")
    _echo_rig(result, out)


def _floor_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        start, end = (float(v) for v in text.split(":"))
    except ValueError:
        raise click.BadParameter("START:END in seconds from the start of the take, for example 40:45") from None
    if not 0 <= start < end:
        raise click.BadParameter("START:END with 0 <= START < END")
    return start, end


@calibrate_group.command("take")
@click.argument("take_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@board_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
@click.option("--intrinsics", "intrinsics_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Solve the positions (all cameras together) with these intrinsics; without it, each camera's "
                   "intrinsics (the board shown to one camera at a time), added to --out.")
@click.option("--floor-s", "floor_s", default=None, help="START:END seconds of the take where the board lies on the floor.")
@click.option("--camera", "cameras", multiple=True, help="Only these cameras (intrinsics; repeat the option).")
def calibrate_take_cmd(take_dir, board_spec, square_mm, charuco, out, intrinsics_path, floor_s, cameras):
    """Calibrate from a recorded take in which the board was shown (still, sharp views at new positions)."""
    board = _board(board_spec, square_mm, charuco)
    window = _floor_window(floor_s)

    def run(progress):
        if intrinsics_path is not None:
            result = extrinsics_from_take(take_dir, load_toml(intrinsics_path), board, window, progress=progress)
            save_toml(result.group, out)
            return result
        group = _existing_group(out)  # a malformed file is refused before the long work
        results = intrinsics_from_take(take_dir, board, list(cameras) or None, progress=progress)
        meta = dict(group.metadata)
        for name, found in results.items():
            group = group.replace_camera(found.camera)
            meta.setdefault("intrinsics", {})[name] = found.summary()
        save_toml(replace(group, metadata=meta), out)
        return results

    result = _run_calibration(run, "looking for the board")
    if intrinsics_path is not None:
        _echo_rig(result, out)
        return
    for name, found in result.items():
        click.echo(f"{name}: {found.used} views used, RMS {found.rms_px:.3f} px, coverage {found.coverage:.0%}")
    click.echo(f"saved {out}")


@calibrate_group.command("check")
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calibration", "calibration_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The calibration in force.")
@board_options
def calibrate_check_cmd(frames_dir, calibration_path, board_spec, square_mm, charuco):
    """Calibration health: is the calibration still right for board views shown now?

    FRAMES_DIR is laid out as for ``calibrate extrinsics`` (one sub-folder per camera, a shared
    name per instant). Prints each camera's leave-one-out reprojection error and whether it
    seems to have moved.
    """
    board = _board(board_spec, square_mm, charuco)

    def run(progress):
        group = load_calibration(calibration_path)
        found, _ = detect_views(frame_views(frames_dir, group.names, board), str(frames_dir), progress)
        labels = sorted({label for views in found.values() for label in views})
        shows = [{n: found[n][label] for n in found if found[n].get(label) is not None} for label in labels]
        return board_health(group, shows, board)

    report = _run_calibration(run, "detecting the board")
    for cam in report.cameras:
        error = "no views" if cam.error_px is None else f"{cam.error_px:.2f} px (limit {cam.limit_px:.2f} px)"
        click.echo(f"{cam.name}: {error}{': seems to have moved' if cam.moved else ''}")


@calibrate_group.command("print")
@click.option("--board", "board_spec", default="9x6", show_default=True, help="Inner corners, COLSxROWS.")
@click.option("--square-mm", default=115.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--charuco", is_flag=True, help="A ChArUco board (DICT_5X5_100).")
@click.option("--marker-mm", type=click.FloatRange(min=0, min_open=True), help="ChArUco marker side (default 75 %).")
@click.option("--paper", default="A4", show_default=True, help="A4, A3 or WIDTHxHEIGHT in millimetres.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="board.pdf or board.svg")
def calibrate_print_cmd(board_spec, square_mm, charuco, marker_mm, paper, out):
    """A printable board at true scale, with its size and a check square to measure."""
    if out.suffix.lower() not in (".pdf", ".svg"):
        raise click.BadParameter("the file must end in .pdf or .svg", param_hint="--out")
    custom = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[xX]\s*(\d+(?:\.\d+)?)\s*", paper)
    if paper.upper() not in ("A4", "A3") and not custom:
        raise click.BadParameter("A4, A3 or WIDTHxHEIGHT in millimetres, for example 1200x900", param_hint="--paper")
    try:
        board = make_board(*parse_board(board_spec), square_mm, "charuco" if charuco else "checkerboard", marker_mm)
        size = (float(custom.group(1)), float(custom.group(2))) if custom else paper
        data = board_pdf(board, size) if out.suffix.lower() == ".pdf" else board_svg(board, size).encode()
        write_bytes(out, data)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"saved {out} ({board.cols} x {board.rows} inner corners, squares {square_mm:g} mm): print it at 100 %")
