"""voice

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import checkin.db
import checkin.crypto


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voice_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answered_by', sa.String(length=24), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.Column('recording_url', sa.String(length=500), nullable=True),
    sa.Column('created_at', checkin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', checkin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', checkin.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkins.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_sid')
    )
    op.create_index('ix_voice_calls_member_id', 'voice_calls', ['member_id'], unique=False)
    op.create_index('ix_voice_calls_outbox_id', 'voice_calls', ['outbox_id'], unique=False)
    op.create_table('voice_group_options',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('ask_phq9_item9', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id')
    )


def downgrade() -> None:
    op.drop_table('voice_group_options')
    op.drop_index('ix_voice_calls_outbox_id', table_name='voice_calls')
    op.drop_index('ix_voice_calls_member_id', table_name='voice_calls')
    op.drop_table('voice_calls')
