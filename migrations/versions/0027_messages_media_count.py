"""messages.media_count: how many pictures or files an inbound text carried (Twilio's NumMedia), so a
picture sent without words is answered as one ("we can only read words") rather than as an empty text.
A nullable column with no default: added without rewriting the table.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("media_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("media_count")
