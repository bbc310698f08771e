"""inbox: conversations waiting for a human, and canned replies per language

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_OPEN = sa.text("state IN ('waiting', 'taken')")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "member_id", sa.Integer(), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("assigned_to", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("unread", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column(
            "last_message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("opened_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "uq_conversations_open",
        "conversations",
        ["member_id", "group_id"],
        unique=True,
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    op.create_index("ix_conversations_group_state", "conversations", ["group_id", "state"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("language", sa.String(2), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("body", sa.String(480), nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("canned_replies")
    op.drop_index("ix_conversations_group_state", table_name="conversations")
    op.drop_index("uq_conversations_open", table_name="conversations")
    op.drop_table("conversations")
