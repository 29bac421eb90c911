"""User names compared without regard to case or Unicode form (``users.username_key``, unique),
and wrong passwords throttled per account and client address (``login_throttles``) instead of an
account lock anyone could trigger (``users.failed_logins`` and ``users.locked_until`` go).

An existing database with two names equal but for case keeps both accounts: the newer one's key
gets a suffix (``#<id>``), and it still signs in with its exact name.

Revision ID: 0008_login_throttles
Revises: 0007_ergonomics
Create Date: 2026-12-02
"""
import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008_login_throttles"
down_revision = "0007_ergonomics"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")


def _utc():
    return sa.DateTime(timezone=True)


def name_key(name: str) -> str:
    """Kept equal to accounts.users.name_key (a migration must not change when the code does)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _fill_keys() -> None:
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_key", sa.String))
    seen: set[str] = set()
    for user_id, username in bind.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all():
        key = name_key(username)[:64]
        if key in seen:
            logger.warning("user names %r and another differ only by case: %r keeps signing in with its exact name",
                           username, username)
            key = f"{key[:50]}#{user_id}"
        seen.add(key)
        bind.execute(users.update().where(users.c.id == user_id).values(username_key=key))


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_key", sa.String(length=64), nullable=True))
    _fill_keys()
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_users_username_key"), ["username_key"])
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _utc(), nullable=False),
        sa.Column("blocked_until", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_login_throttles_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("user_id", "address", name="uq_login_throttles_user_id_address"),
    )
    op.create_index(op.f("ix_login_throttles_user_id"), "login_throttles", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_login_throttles_user_id"), table_name="login_throttles")
    op.drop_table("login_throttles")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("locked_until", _utc(), nullable=True))
        batch.drop_constraint(op.f("uq_users_username_key"), type_="unique")
        batch.drop_column("username_key")
