"""``process``, ``triangulate`` and ``compare``: from a take's videos to its 3D motion and its score."""
from __future__ import annotations

from pathlib import Path

import click

from calibration.io import CalibrationFileError, load_calibration
from cli.common import Progress, options
from common.files import write_json as write_plain_json
from reconstruction.exports import ExportError, write_json
from reconstruction.pipeline import Options, ProcessError, process_take, triangulate_file
from scoring.exports import analyse_folder
from scoring.inputs import ErgonomicsError
from scoring.inputs import load_steps as load_ergonomic_steps
from scoring.motion import ComparisonError, compare_folders, load_steps

process_options = options(
    click.option("--calibration", "calibration", required=True,
                 type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Calibration TOML."),
    click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."),
    click.option("--cutoff", default=6.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                 help="Low-pass filter cutoff (Hz)."),
    click.option("--no-filter", is_flag=True, help="Do not low-pass filter the 3D trajectories (gaps are still filled)."),
)


def _run_reconstruction(fn, calibration: Path):
    """Load the calibration and run ``fn(group, progress)``; input errors become one-line command errors."""
    progress = Progress("2d pose", counted="2d pose", unit="frame")
    try:
        return fn(load_calibration(calibration), progress)
    except (ProcessError, CalibrationFileError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()


def _summary(report: dict, out: Path) -> None:
    median = report["median_reprojection_px"]
    cv = report["mean_segment_cv_pct"]
    click.echo(f"{report['frames']} frames from {len(report['cameras'])} cameras: "
               f"{report['reconstructed_pct']:.1f} % of joints reconstructed, median reprojection error "
               f"{'-' if median is None else f'{median:.1f} px'}, limb length variation "
               f"{'-' if cv is None else f'{cv:.1f} %'}; outputs in {out}")


@click.command("process")
@click.argument("take_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@process_options
@click.option("--sync", "sync_method", type=click.Choice(["auto", "timestamps", "none"]), default=None,
              help="How to align the cameras [default: timestamps if the take has them, else auto].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="2D pose processes [default: one per core].")
def process_cmd(take_dir, calibration, out, cutoff, no_filter, sync_method, workers):
    """2D pose, synchronization, triangulation, filtering and exports of a take, then the person of
    interest's joint angles (angles.mot), RULA and REBA (ergonomics.csv) and BVH skeleton."""
    options = Options(sync=sync_method, cutoff_hz=None if no_filter else cutoff, workers=workers)
    report = _run_reconstruction(lambda group, progress: process_take(take_dir, group, out, options, progress),
                                 calibration)
    try:
        analyse_folder(out)
    except ErgonomicsError as exc:  # the 3D outputs stand: say why the ergonomics are missing
        click.echo(f"no ergonomics outputs: {exc}", err=True)
    if report["sync"]["method"] == "auto":
        offsets = ", ".join(f"{n} {o:+d}" for n, o in report["sync"]["offsets"].items())
        click.echo(f"synchronization offsets (frames): {offsets}")
    _summary(report, out)


@click.command("triangulate")
@click.argument("keypoints", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@process_options
def triangulate_cmd(keypoints, calibration, out, cutoff, no_filter):
    """3D reconstruction from 2D keypoints alone (a keypoints2d.npz)."""
    options = Options(cutoff_hz=None if no_filter else cutoff)
    report = _run_reconstruction(lambda group, progress: triangulate_file(keypoints, group, out, options, progress),
                                 calibration)
    _summary(report, out)


@click.command("compare")
@click.argument("attempt_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Result JSON file.")
@click.option("--steps", "steps_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Steps JSON [default: steps.json in REFERENCE_DIR, if any].")
def compare_cmd(attempt_dir, reference_dir, out, steps_file):
    """Score a processed take against a reference (both folders hold pose3d.csv)."""
    try:
        steps = load_steps(steps_file) if steps_file else None
        result = compare_folders(attempt_dir, reference_dir, steps)
        write_json(out, result)
    except (ComparisonError, ExportError) as exc:
        raise click.ClickException(str(exc)) from None
    worst = ", ".join(f"{m['joint']} at {m['reference_s']:.1f} s" for m in result["worst"])
    click.echo(f"score {result['score']:.1f} / 100 (mean angle difference {result['difference_deg']:.1f} deg, "
               f"speed x{result['speed_ratio']}); worst: {worst or '-'}; saved {out}")


@click.command("ergonomics")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Report JSON file.")
@click.option("--steps", "steps_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Steps JSON: name, start_s, end_s and optional inputs [default: steps.json in OUT_DIR, if any].")
def ergonomics_cmd(out_dir, out, steps_file):
    """Joint angles, RULA, REBA and NIOSH of a processed take (OUT_DIR holds pose3d.csv).

    Writes the report to --out, and angles.mot, ergonomics.csv, ergonomics_steps.csv (with steps)
    and pose3d.bvh into OUT_DIR."""
    steps_file = steps_file or (out_dir / "steps.json" if (out_dir / "steps.json").is_file() else None)
    if not out.parent.is_dir():
        raise click.ClickException(f"{out.parent}: no such folder")
    try:
        report = analyse_folder(out_dir, load_ergonomic_steps(steps_file) if steps_file else None)
        write_plain_json(out, report)
    except (ErgonomicsError, OSError) as exc:
        raise click.ClickException(" ".join(str(exc).split())) from None
    whole = report["whole"]
    click.echo(f"{report['frames']} frames: worst RULA {whole['rula']['max']} (action level "
               f"{whole['rula']['action_level']}), worst REBA {whole['reba']['max']}, {whole['high_risk_s']:.1f} s "
               f"at high risk; {len(report['niosh'])} lift(s); saved {out} and {', '.join(report['outputs'])}")
    for warning in report["warnings"]:
        click.echo(warning["text"]["en"])
