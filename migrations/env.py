"""Alembic environment for VSION: runs inside the Flask app context on the app's own engine.

Logging is left to VSION (no ``fileConfig``). On PostgreSQL an advisory lock makes several
processes starting at once (web server, job workers) upgrade one after the other. On SQLite
foreign keys are off while a migration runs, as batch operations rebuild tables.
"""
import logging

from alembic import context
from flask import current_app
from sqlalchemy import text

logger = logging.getLogger("alembic.env")
config = context.config
target = current_app.extensions["migrate"]
MIGRATION_LOCK = 0x5653494F4E  # an arbitrary, fixed advisory lock key for VSION migrations


def skip_empty(context, revision, directives):
    """No empty revision when autogenerate finds nothing to change."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("no changes in the schema")


def run_offline():
    context.configure(url=target.db.engine.url.render_as_string(hide_password=False),
                      target_metadata=target.db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online():
    args = dict(target.configure_args)
    args.setdefault("process_revision_directives", skip_empty)
    with target.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # else Alembic takes the open transaction for the caller's and never commits
        try:
            context.configure(connection=connection, target_metadata=target.db.metadata, **args)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                context.run_migrations()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
