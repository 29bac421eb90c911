"""Files shipped with VSION (templates, static assets, migrations, translations)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def resource(name: str) -> Path:
    """``name`` next to ``app.py``, or in the delivered folder's ``_internal`` (``sys._MEIPASS``)
    when VSION runs as the built executable."""
    return Path(getattr(sys, "_MEIPASS", ROOT)) / name
