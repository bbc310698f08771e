"""routine texts the SMS webhook stored undecided (checkin.intake, issue 18): the cron sweeper looks for
those no worker decided every sweep interval; a partial index keeps that a few buffers however many
messages are kept (it holds only the undecided ones, a handful at any moment). Built CONCURRENTLY on
PostgreSQL, so that building it does not hold a live service's inbound writes.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A failed or cancelled CONCURRENTLY build leaves an INVALID index behind: start clean (see 0024).
        op.drop_index(
            "ix_messages_undecided", table_name="messages", if_exists=True, postgresql_concurrently=True
        )
        op.create_index(
            "ix_messages_undecided",
            "messages",
            ["created_at"],
            postgresql_where=sa.text("status = 'undecided'"),
            sqlite_where=sa.text("status = 'undecided'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_messages_undecided", table_name="messages", if_exists=True, postgresql_concurrently=True
        )
