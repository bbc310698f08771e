"""groups.next_due_at and plan_seq: the planner's next-due index, so an idle tick reads nothing;
and a partial index of cancelled prompt rows, so closing unsent check-ins does not read every open one

Revision ID: 0019
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: not planned yet (every existing group), so the first tick after the upgrade plans them all.
    op.add_column("groups", sa.Column("next_due_at", checkin.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("groups", sa.Column("plan_seq", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_groups_next_due_at", "groups", ["next_due_at"])
    # Each tick closes the check-ins of prompts cancelled lately: read from these few rows, not every open prompt.
    op.create_index(
        "ix_outbox_cancelled_prompts",
        "outbox",
        ["created_at"],
        postgresql_where=sa.text("state = 'cancelled' AND purpose = 'prompt'"),
        sqlite_where=sa.text("state = 'cancelled' AND purpose = 'prompt'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_cancelled_prompts", table_name="outbox")
    op.drop_index("ix_groups_next_due_at", table_name="groups")
    op.drop_column("groups", "plan_seq")
    op.drop_column("groups", "next_due_at")
