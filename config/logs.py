"""Logging set-up: one format with the thread name, and secrets masked in every line."""
from __future__ import annotations

import logging

from config.masking import MaskSecretsFilter

LOG_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger: thread names in every line and URL credentials masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskSecretsFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("socketio.server", "engineio.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
