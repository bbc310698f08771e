"""console_planning

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import checkin.db
import checkin.crypto


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("rotated_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id"),
        sa.UniqueConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
