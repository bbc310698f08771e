"""messages/outbox addresses sized for what a provider sends: 'whatsapp:+1...', 'client:name', SIP

A `To` such as 'whatsapp:+12025550100' is 21 characters: on PostgreSQL the 20-character column
refused it with a 500 and the member's text was lost. Members' and staff numbers stay E.164.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {"messages": ("from_number", "to_number"), "outbox": ("to_number", "from_number")}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(128), existing_type=sa.String(20))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(20), existing_type=sa.String(128))
