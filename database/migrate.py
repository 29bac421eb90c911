"""The schema's migrations (Alembic through Flask-Migrate): applied by ``serve`` and ``demo`` at start.

The migrations live in ``migrations/``; :func:`make_revision` writes a new one for developers.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from flask import Flask

from database import models  # noqa: F401 - every table, for autogenerate
from database.base import db, migrate

logger = logging.getLogger(__name__)

# The first revision: the ``users`` table exactly as ``create_all`` made it before migrations existed.
USERS_REVISION = "0001_users"


def upgrade_database(app: Flask, directory: Path | str) -> None:
    """Bring the app's database to the newest schema with the migrations in ``directory``.

    An installation from before migrations (a ``users`` table, no ``alembic_version``) is
    stamped at :data:`USERS_REVISION` first, so its users are kept. Errors propagate (no
    ``sys.exit`` as ``flask_migrate.upgrade`` would do). Call once at start, before serving.
    """
    directory = str(directory)
    migrate.init_app(app, db, directory=directory)
    with app.app_context():
        config = migrate.get_config(directory)
        tables = set(sa.inspect(db.engine).get_table_names())
        if "users" in tables and "alembic_version" not in tables:
            logger.info("database from before migrations: marking its users table as revision %s", USERS_REVISION)
            command.stamp(config, USERS_REVISION)
        command.upgrade(config, "head")


def make_revision(message: str, directory: Path | str | None = None) -> None:
    """Write a new migration for the changes in the models (developers only).

    Autogenerates against a scratch SQLite database upgraded to the current head; read
    and test the file it writes in ``migrations/versions/``.
    """
    directory = str(directory or Path(__file__).resolve().parent.parent / "migrations")
    with tempfile.TemporaryDirectory() as tmp:
        app = Flask("vsion-migrations")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        db.init_app(app)
        upgrade_database(app, directory)
        with app.app_context():
            command.revision(migrate.get_config(directory, opts=["autogenerate"]), message=message, autogenerate=True)
            db.engine.dispose()
