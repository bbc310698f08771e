"""Staff accounts done right: invitation and reset links (hashed, single use, expiring), a forced password
change, and the authenticator-app second factor with its recovery codes

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

import checkin.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "staff_users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.add_column("staff_users", sa.Column("totp_secret", sa.LargeBinary(), nullable=True))
    op.add_column("staff_users", sa.Column("totp_enabled_at", checkin.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("staff_users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", checkin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", checkin.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("staff_recovery_codes")
    op.drop_table("staff_invitations")
    op.drop_column("staff_users", "totp_last_step")
    op.drop_column("staff_users", "totp_enabled_at")
    op.drop_column("staff_users", "totp_secret")
    op.drop_column("staff_users", "must_change_password")
