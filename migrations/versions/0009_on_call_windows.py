"""on_call_windows: when each rota place is on call (weekly shifts, dated cover and absence)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import checkin.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows are written: a rota place without windows is on call always, as before.
    op.create_table(
        "on_call_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("days", sa.String(length=7), nullable=True),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("end_minute", sa.Integer(), nullable=True),
        sa.Column("span_days", sa.Integer(), nullable=True),
        sa.Column("starts_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id", "staff_id"], ["group_staff.group_id", "group_staff.staff_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_on_call_windows_link", "on_call_windows", ["group_id", "staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_on_call_windows_link", table_name="on_call_windows")
    op.drop_table("on_call_windows")
