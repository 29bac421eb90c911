"""Processing interrupted by a stop is its own state, ``cancelled`` (it was ``failed`` with a
message starting with "cancelled"): a restart takes such takes up again.

Revision ID: 0004_processing_cancelled
Revises: 0003_security
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_processing_cancelled"
down_revision = "0003_security"
branch_labels = None
depends_on = None

OLD = ("none", "queued", "running", "done", "failed")
NEW = (*OLD, "cancelled")


def _processing(values):
    return sa.Enum(*values, name="processing", native_enum=False, create_constraint=True, length=16)


def upgrade():
    with op.batch_alter_table("takes") as batch:
        batch.alter_column("processing", existing_type=_processing(OLD), type_=_processing(NEW),
                           existing_nullable=False)
    op.execute("UPDATE takes SET processing = 'cancelled' "
               "WHERE processing = 'failed' AND processing_message LIKE 'cancelled%'")


def downgrade():
    op.execute("UPDATE takes SET processing = 'failed' WHERE processing = 'cancelled'")
    with op.batch_alter_table("takes") as batch:
        batch.alter_column("processing", existing_type=_processing(NEW), type_=_processing(OLD),
                           existing_nullable=False)
