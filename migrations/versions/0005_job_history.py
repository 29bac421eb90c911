"""The takes library and the job history: a take's label and notes, the ``jobs`` table (every
background job on a take, kept across restarts), and the site's and users' flags (the
onboarding checklist).

The label a take was given at its start (``take.json``, ``label``) is copied into the new
column for the takes registered before.

Revision ID: 0005_job_history
Revises: 0004_processing_cancelled
Create Date: 2026-12-03
"""
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005_job_history"
down_revision = "0004_processing_cancelled"
branch_labels = None
depends_on = None

MAX_LABEL = 120


def _utc():
    return sa.DateTime(timezone=True)


def _choice(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _jobs_table():
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("take_id", sa.String(length=32), nullable=False),
        sa.Column("status", _choice("job_status", "queued", "running", "done", "failed", "cancelled"), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("failure", _choice("job_failure", "input", "crash", "cancelled"), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("queued_by_id", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["take_id"], ["takes.id"], name=op.f("fk_jobs_take_id_takes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["queued_by_id"], ["users.id"], name=op.f("fk_jobs_queued_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    for column in ("take_id", "status", "created_at", "queued_by_id"):
        op.create_index(op.f(f"ix_jobs_{column}"), "jobs", [column], unique=False)


def _flag_tables():
    op.create_table(
        "site_flags",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_site_flags_updated_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_flags")),
    )
    op.create_index(op.f("ix_site_flags_updated_by_id"), "site_flags", ["updated_by_id"], unique=False)
    op.create_table(
        "user_flags",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_flags_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_user_flags")),
    )


def _label_of(folder: str, data_dir: Path | None) -> str | None:
    """The label in a take's ``take.json`` (None when it cannot be read)."""
    path = Path(folder)
    if not path.is_absolute():
        if data_dir is None:
            return None
        path = data_dir / path
    try:
        label = json.loads((path / "take.json").read_text(encoding="utf-8")).get("label")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(label, str):
        return None
    return label.strip()[:MAX_LABEL] or None


def _copy_labels():
    """Labels of the takes already registered, from their take.json (SQLite: the data folder is
    the database's; elsewhere only takes stored with an absolute folder can be read)."""
    bind = op.get_bind()
    database = bind.engine.url.database if bind.dialect.name == "sqlite" else None
    data_dir = Path(database).parent if database and database != ":memory:" else None
    takes = sa.table("takes", sa.column("id", sa.String), sa.column("folder", sa.String),
                     sa.column("label", sa.String))
    for take_id, folder in bind.execute(sa.select(takes.c.id, takes.c.folder)).all():
        label = _label_of(folder, data_dir)
        if label:
            bind.execute(sa.update(takes).where(takes.c.id == take_id).values(label=label))


def upgrade():
    with op.batch_alter_table("takes") as batch:
        batch.add_column(sa.Column("label", sa.String(length=MAX_LABEL), nullable=True))
        batch.add_column(sa.Column("notes", sa.Text(), server_default="", nullable=False))
    op.create_index(op.f("ix_takes_created_at"), "takes", ["created_at"], unique=False)
    _copy_labels()
    _jobs_table()
    _flag_tables()


def downgrade():
    op.drop_table("user_flags")
    op.drop_index(op.f("ix_site_flags_updated_by_id"), table_name="site_flags")
    op.drop_table("site_flags")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_takes_created_at"), table_name="takes")
    with op.batch_alter_table("takes") as batch:
        batch.drop_column("notes")
        batch.drop_column("label")
