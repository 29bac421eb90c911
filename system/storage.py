"""What VSION keeps is private to the account that runs it: the data folder and every take folder
0700, the database, the session key, the camera key and TLS keys 0600. New files are made so
(``serve`` runs with umask 077); :func:`make_private` fixes an existing installation at start."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from common.takefolder import TAKES_DIR
from config.secretbox import KEY_FILE

logger = logging.getLogger(__name__)

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
# Files of the data folder that hold secrets or personal data (the SQLite database and its journals).
SECRET_FILES = ("vsion.db", "vsion.db-journal", "vsion.db-wal", "vsion.db-shm", "secret_key", KEY_FILE,
                "demo-logins.txt")
TLS_DIR = "tls"


def _restrict(path: Path, mode: int) -> bool:
    """Give ``path`` at most ``mode``; whether it changed (a path that vanished or is not ours: no)."""
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink() or current & ~mode == 0:
            return False
        os.chmod(path, current & mode)
        return True
    except OSError as exc:
        logger.warning("cannot make %s private: %s", path, exc.strerror)
        return False


def make_private(data_dir: Path) -> int:
    """Restrict the data folder, the take folders and the secret files to their owner; the number
    of paths changed (logged once). Idempotent; never fails a start."""
    data_dir = Path(data_dir)
    paths = [(data_dir, PRIVATE_DIR)]
    takes = data_dir / TAKES_DIR
    if takes.is_dir():
        paths.append((takes, PRIVATE_DIR))
        paths += [(folder, PRIVATE_DIR) for folder in takes.iterdir() if folder.is_dir()]
    paths += [(data_dir / name, PRIVATE_FILE) for name in SECRET_FILES if (data_dir / name).exists()]
    tls = data_dir / TLS_DIR
    if tls.is_dir():
        paths.append((tls, PRIVATE_DIR))
        paths += [(key, PRIVATE_FILE) for key in tls.glob("*key*.pem")]
    changed = sum(_restrict(path, mode) for path, mode in paths)
    if changed:
        logger.info("made %d file(s) and folder(s) of %s private to this account", changed, data_dir)
    return changed
