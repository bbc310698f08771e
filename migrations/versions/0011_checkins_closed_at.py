"""checkins.closed_at: when a prompt stopped being open, so the digest can tell a run of misses that grew

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa
import checkin.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("checkins", sa.Column("closed_at", checkin.db.UTCDateTime(timezone=True), nullable=True))
    # Answered check-ins closed when they were answered; earlier misses have no known time (left empty).
    op.execute("UPDATE checkins SET closed_at = answered_at WHERE state = 'answered'")


def downgrade() -> None:
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("closed_at")
