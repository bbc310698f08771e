"""members can be erased: phone may be NULL, a keyed hash of it kept; provider_deletions for Twilio's copies

Revision ID: 0015
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0015"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.alter_column("phone", existing_type=sa.String(20), nullable=True)
        batch.add_column(sa.Column("erased_at", checkin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("phone_digest", sa.String(64), nullable=True))
        batch.create_index("ix_members_phone_digest", ["phone_digest"])
    op.create_table(
        "provider_deletions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("sid", sa.String(64), nullable=False, unique=True),
        sa.Column("member_id", sa.Integer(), nullable=True, index=True),
        sa.Column("requested_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(255), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("provider_deletions")
    with op.batch_alter_table("members") as batch:
        batch.drop_index("ix_members_phone_digest")
        batch.drop_column("phone_digest")
        batch.drop_column("erased_at")
        batch.alter_column("phone", existing_type=sa.String(20), nullable=False)
