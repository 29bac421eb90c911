"""VSION: the web app factory and the command line.

``python app.py`` starts the server (as the original VSION did); ``python app.py --help`` lists
the subcommands (see ``../shared/CONTRACT.md``). The factory lives in :mod:`web.factory`, the
commands in :mod:`cli`.
"""
from cli import cli, main
from common.resources import resource
from web.factory import create_app, prepare_app, start_app, stop_app

__all__ = ["cli", "create_app", "main", "prepare_app", "resource", "start_app", "stop_app"]

if __name__ == "__main__":
    main()
