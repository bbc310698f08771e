"""checkins by group and prompt time: the weekly reports count a group's prompts week by week and
read its members' runs of missed check-ins from this index instead of every check-in

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checkins_group_prompted", "checkins", ["group_id", "prompted_at"])


def downgrade() -> None:
    op.drop_index("ix_checkins_group_prompted", table_name="checkins")
