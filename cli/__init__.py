"""VSION's command line (``python app.py --help``; see ``../shared/CONTRACT.md``).

One module per family of commands: ``server`` (serve, demo), ``accounts`` (users, cameras),
``calibrate``, ``processing`` (process, triangulate, compare, ergonomics). Long work reports progress with
a tqdm bar (``progress``). Every command prints one clear line and exits non-zero on bad input.
"""
from __future__ import annotations

import logging
import sys

import click

from cli import accounts, calibrate, processing, server
from cli.common import user_data_dir
from config.logs import setup_logging


@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx, verbose):
    """VSION markerless motion capture. With no command, starts the server (like `serve`)."""
    setup_logging(logging.DEBUG if verbose else logging.INFO)
    if ctx.invoked_subcommand is None:
        ctx.invoke(server.serve_cmd)


for command in (server.serve_cmd, server.demo_cmd, accounts.users_group, accounts.cameras_group,
                calibrate.calibrate_group, processing.process_cmd, processing.triangulate_cmd, processing.compare_cmd,
                processing.ergonomics_cmd):
    cli.add_command(command)


def main() -> None:
    """``python app.py``: the command line (and the executable's). In the built executable, the
    pose worker processes (started with "spawn") run this same executable: ``freeze_support()``
    runs the worker and exits before the command line is parsed; the server then reads its
    configuration from the per-user data folder."""
    import multiprocessing

    multiprocessing.freeze_support()
    frozen_config = str(user_data_dir() / "config.yaml")
    cli(default_map={"serve": {"config": frozen_config}, "users": {"create": {"config": frozen_config}},
                     "cameras": {"list": {"config": frozen_config}, "set-url": {"config": frozen_config}}}
        if getattr(sys, "frozen", False) else None)
