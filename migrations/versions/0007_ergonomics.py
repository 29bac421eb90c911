"""Ergonomics: the inputs the cameras cannot see, per work card step (load, coupling, a lift's
frequency...), and the safety part of an attempt's comparison (score and coaching messages).

Revision ID: 0007_ergonomics
Revises: 0005_job_history
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_ergonomics"
down_revision = "0005_job_history"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("work_card_steps") as batch:
        batch.add_column(sa.Column("ergonomics", sa.JSON(), nullable=True))
    with op.batch_alter_table("comparisons") as batch:
        batch.add_column(sa.Column("safety_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("feedback", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("comparisons") as batch:
        batch.drop_column("feedback")
        batch.drop_column("safety_score")
    with op.batch_alter_table("work_card_steps") as batch:
        batch.drop_column("ergonomics")
