"""open check-ins: a partial index for the cron tick's search for expired prompts

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checkins_open_prompted", "checkins", ["prompted_at"], unique=False,
                    postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    # Prompts already past the answer window become missed at the next cron tick.


def downgrade() -> None:
    op.drop_index("ix_checkins_open_prompted", table_name="checkins")
