"""The database handle shared by every model (Flask-SQLAlchemy, bound by ``create_app``) and its migrations.

SQLite in ``data_dir`` is the embedded default; PostgreSQL is used when ``DATABASE_URL``
is set. The schema is created and upgraded by the Alembic migrations in ``migrations/``
(Flask-Migrate), never by ``create_all``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

logger = logging.getLogger(__name__)

# Stable constraint names, so later migrations can find and alter them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# The first revision: the ``users`` table exactly as ``create_all`` made it before migrations existed.
USERS_REVISION = "0001_users"


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)


@sa.event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, connection_record) -> None:
    # SQLite ignores foreign keys unless asked, per connection; PostgreSQL always enforces them.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def normalize_url(url: str) -> str:
    """``DATABASE_URL`` as SQLAlchemy needs it: ``postgres://`` and ``postgresql://`` use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


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
    import tempfile

    import training.models  # noqa: F401  (the tables to compare with)

    directory = str(directory or Path(__file__).resolve().parent.parent / "migrations")
    with tempfile.TemporaryDirectory() as tmp:
        app = Flask("vsion-migrations")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        db.init_app(app)
        upgrade_database(app, directory)
        with app.app_context():
            command.revision(migrate.get_config(directory, opts=["autogenerate"]), message=message, autogenerate=True)
            db.engine.dispose()
