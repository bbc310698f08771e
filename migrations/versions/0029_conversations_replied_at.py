"""conversations.replied_at: when the member was last sent the inbox's automatic answer ("Nobody reads
texts to this number" / "A facilitator will read your message within ..."), repeated at most once per
checkin.auto_replies.REPEAT_AFTER: an auto-responder cannot ping-pong with it, and a person writing again
later is answered again. A nullable column with no default: added without rewriting the table; NULL reads
as "never", so the next free text is answered.

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("replied_at", checkin.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("replied_at")
