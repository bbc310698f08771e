"""open check-in prompts by member: the inbound path finds the member's newest open prompt with every
text they send (in the statement that stores it); by prompt time alone (ix_checkins_open_prompted) it
walked every member's open prompts newer than theirs, and the answered ones' dead entries too. Built
CONCURRENTLY on PostgreSQL, so that building it does not hold the check-in writes of a live service.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A failed or cancelled CONCURRENTLY build leaves an INVALID index behind: start clean (see 0024).
        op.drop_index(
            "ix_checkins_open_member", table_name="checkins", if_exists=True, postgresql_concurrently=True
        )
        op.create_index(
            "ix_checkins_open_member",
            "checkins",
            ["member_id", "prompted_at"],
            postgresql_where=sa.text("state = 'open'"),
            sqlite_where=sa.text("state = 'open'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_checkins_open_member", table_name="checkins", if_exists=True, postgresql_concurrently=True
        )
