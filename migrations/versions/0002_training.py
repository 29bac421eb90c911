"""Training data: calibration sets, work cards with steps and published versions, takes, comparisons.

Revision ID: 0002_training
Revises: 0001_users
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_training"
down_revision = "0001_users"
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def _choice(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _indexes(table, *columns):
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade():
    op.create_table(
        "calibration_sets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("rms", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_calibration_sets_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sets")),
    )
    _indexes("calibration_sets", "created_by_id")

    # work_cards and takes reference each other. SQLite accepts a key to a table made later (and
    # cannot add one to an existing table without rebuilding it); PostgreSQL adds it once takes exists.
    sqlite = op.get_bind().dialect.name == "sqlite"
    reference_key = sa.ForeignKeyConstraint(["reference_take_id"], ["takes.id"], ondelete="SET NULL",
                                            name=op.f("fk_work_cards_reference_take_id_takes"))
    op.create_table(
        "work_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("status", _choice("card_status", "draft", "published"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reference_take_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("published_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_work_cards_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_cards")),
        *([reference_key] if sqlite else []),
    )
    _indexes("work_cards", "author_id", "reference_take_id")

    op.create_table(
        "takes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("work_card_id", sa.Integer(), nullable=True),
        sa.Column("work_card_version", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", _choice("take_kind", "reference", "attempt", "free"), nullable=False),
        sa.Column("calibration_set_id", sa.String(length=32), nullable=True),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("status", _choice("take_status", "recording", "complete", "incomplete", "interrupted"),
                  nullable=False),
        sa.Column("processing", _choice("processing", "none", "queued", "running", "done", "failed"), nullable=False),
        sa.Column("processing_message", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint("kind = 'free' OR work_card_id IS NOT NULL", name=op.f("ck_takes_card_for_kind")),
        sa.ForeignKeyConstraint(["calibration_set_id"], ["calibration_sets.id"],
                                name=op.f("fk_takes_calibration_set_id_calibration_sets"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_takes_user_id_users")),
        sa.ForeignKeyConstraint(["work_card_id"], ["work_cards.id"], name=op.f("fk_takes_work_card_id_work_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takes")),
    )
    _indexes("takes", "calibration_set_id", "user_id", "work_card_id")

    if not sqlite:
        op.create_foreign_key(op.f("fk_work_cards_reference_take_id_takes"), "work_cards", "takes",
                              ["reference_take_id"], ["id"], ondelete="SET NULL")

    op.create_table(
        "work_card_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_card_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.CheckConstraint("start_s >= 0 AND end_s > start_s", name=op.f("ck_work_card_steps_times")),
        sa.ForeignKeyConstraint(["work_card_id"], ["work_cards.id"],
                                name=op.f("fk_work_card_steps_work_card_id_work_cards"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_card_steps")),
        sa.UniqueConstraint("work_card_id", "position", name=op.f("uq_work_card_steps_work_card_id_position")),
    )
    _indexes("work_card_steps", "work_card_id")

    op.create_table(
        "work_card_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_card_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("reference_take_id", sa.String(length=32), nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["published_by_id"], ["users.id"],
                                name=op.f("fk_work_card_versions_published_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["reference_take_id"], ["takes.id"],
                                name=op.f("fk_work_card_versions_reference_take_id_takes")),
        sa.ForeignKeyConstraint(["work_card_id"], ["work_cards.id"],
                                name=op.f("fk_work_card_versions_work_card_id_work_cards"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_card_versions")),
        sa.UniqueConstraint("work_card_id", "version", name=op.f("uq_work_card_versions_work_card_id_version")),
    )
    _indexes("work_card_versions", "published_by_id", "reference_take_id", "work_card_id")

    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=32), nullable=False),
        sa.Column("work_card_version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("per_step", sa.JSON(), nullable=False),
        sa.Column("per_joint", sa.JSON(), nullable=False),
        sa.Column("worst", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["takes.id"], name=op.f("fk_comparisons_attempt_id_takes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reference_id"], ["takes.id"], name=op.f("fk_comparisons_reference_id_takes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    _indexes("comparisons", "attempt_id", "reference_id")


def downgrade():
    op.drop_table("comparisons")
    op.drop_table("work_card_versions")
    op.drop_table("work_card_steps")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_work_cards_reference_take_id_takes"), "work_cards", type_="foreignkey")
    op.drop_table("takes")
    op.drop_table("work_cards")
    op.drop_table("calibration_sets")
