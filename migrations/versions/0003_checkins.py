"""checkins

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import checkin.db
import checkin.crypto


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('prompt_key', sa.String(length=160), nullable=True),
    sa.Column('prompted_at', checkin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('nudged_at', checkin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', checkin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('words', checkin.crypto.EncryptedText(), nullable=True),
    sa.Column('recording_url', sa.String(length=500), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('call_sid', sa.String(length=64), nullable=True),
    sa.Column('created_at', checkin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_key')
    )
    op.create_index('ix_checkins_member_prompted', 'checkins', ['member_id', 'prompted_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_checkins_member_prompted', table_name='checkins')
    op.drop_table('checkins')
