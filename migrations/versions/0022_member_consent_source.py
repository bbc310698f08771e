"""members.consent_source and consent_date: where and when a member agreed to be contacted

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain nullable columns: add_column works on SQLite without a table rebuild.
    op.add_column("members", sa.Column("consent_source", sa.String(80), nullable=True))
    op.add_column("members", sa.Column("consent_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("consent_date")
        batch.drop_column("consent_source")
