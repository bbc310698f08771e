"""escalation_policy_overrides: a group's escalation policy set in the console, over config/escalation.toml

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_policy_overrides",
        sa.Column(
            "group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("escalation_policy_overrides")
