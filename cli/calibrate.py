"""``calibrate``: intrinsics, extrinsics (bundle adjustment), or a calibration made elsewhere."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import click

from calibration.boards import make_board, parse_board
from calibration.camera import CameraGroup
from calibration.intrinsics import CalibrationError
from calibration.io import CalibrationFileError, load_calibration, load_toml, save_toml
from calibration.pipeline import extrinsics_from_frames, intrinsics_from_source
from cli.common import Progress, options
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
    for name in result.group.names:
        click.echo(f"{name}: {result.views[name]} views, reprojection median {result.errors_px[name]:.3f} px, "
                   f"RMS {result.rms_px[name]:.3f} px")
    click.echo(f"{len(result.board_poses)} board moments, {result.outliers} outlier corners removed, "
               f"{result.seconds:.1f} s; saved {out}")


@calibrate_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration TOML.")
def calibrate_import_cmd(source, out):
    """Convert a Qualisys .qca.txt or an anipose / Pose2Sim / FreeMoCap TOML into VSION's TOML."""
    group = _run_calibration(lambda progress: load_calibration(source, strict_metadata=True), "reading")
    save_toml(group, out)
    click.echo(f"imported {len(group)} camera(s) ({', '.join(group.names)}) from {source}; saved {out}")
