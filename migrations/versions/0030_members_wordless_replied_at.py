"""members.wordless_replied_at: when a text with no words from the member was last answered ("your text
reached us empty" / "we can only read words"), said again at most once per
checkin.auto_replies.REPEAT_AFTER: two auto-responders, or a phone sending blanks, cannot ping-pong with
it. A nullable column with no default: added without rewriting the table; NULL reads as "never".

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "members", sa.Column("wordless_replied_at", checkin.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("wordless_replied_at")
