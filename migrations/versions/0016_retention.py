"""retention_runs and retained_counts: what the nightly retention run removed, and the counts it keeps

Revision ID: 0016
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("provider_deleted", sa.Integer(), nullable=False),
        sa.Column("provider_failed", sa.Integer(), nullable=False),
        sa.Column("audit_first_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
    )
    op.create_table(
        "retained_counts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("kind", "month", "group_id", "label", name="uq_retained_counts_key"),
    )


def downgrade() -> None:
    op.drop_table("retained_counts")
    op.drop_table("retention_runs")
