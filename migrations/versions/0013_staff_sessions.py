"""staff_sessions: console sessions kept on the server, so signing out ends a copied cookie too

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.String(24), nullable=True),
        sa.Column("device", sa.String(120), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("staff_sessions")
