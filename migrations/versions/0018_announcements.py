"""announcements: one message to every active member of a group, sent through the outbox

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

import checkin.crypto
import checkin.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_key", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("text_en", checkin.crypto.EncryptedText(), nullable=False),
        sa.Column("text_es", checkin.crypto.EncryptedText(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("announcements")
