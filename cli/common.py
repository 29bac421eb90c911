"""What the commands share: loading the configuration, the data folder, progress bars."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from config.edit import seal_config
from config.loader import load_settings
from config.schema import ConfigError, Settings


def load(config: str, seal: bool = False) -> Settings:
    """The settings in ``config``; with ``seal`` (a server start), camera URLs with passwords are
    first encrypted in the file (:func:`config.edit.seal_config`)."""
    try:
        if seal:
            seal_config(config)
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def user_data_dir() -> Path:
    """Where VSION keeps what it makes (database, takes, calibrations, the demo): ``$VSION_DATA``;
    else, for the delivered executable, the per-user data folder (``$XDG_DATA_HOME/vsion``, by
    default ``~/.local/share/vsion``; ``%LOCALAPPDATA%\\VSION`` on Windows), which an upgrade
    of the executable's folder leaves alone; else ``data`` in the working folder."""
    if os.environ.get("VSION_DATA"):
        return Path(os.environ["VSION_DATA"]).resolve()
    if not getattr(sys, "frozen", False):
        return Path("data").resolve()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "VSION"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "VSION"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vsion"


class Progress:
    """The one progress callback signature, ``progress(done, total, stage)``, as a tqdm bar on
    standard error: the stage named ``counted`` moves the bar, the others name it."""

    def __init__(self, desc: str, counted: str = "detection", unit: str = "view"):
        from tqdm import tqdm

        self.counted = counted
        self.bar = tqdm(desc=desc, unit=unit, leave=False, disable=None)

    def __call__(self, done, total, stage):
        if stage == self.counted:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()
        else:
            self.bar.set_description(stage)

    def close(self):
        self.bar.close()


def options(*decorators):
    """One decorator applying ``decorators`` (click options) in order, first on top."""

    def apply(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply
