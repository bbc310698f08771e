"""number_opt_outs: a STOP from a number that is not a member's, kept as the number's keyed hash, so the
number is added opted out if it becomes a member's later. A new, empty table.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "number_opt_outs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("number_opt_outs")
