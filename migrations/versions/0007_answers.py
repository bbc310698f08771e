"""answers

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import checkin.db
import checkin.crypto


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rsvps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_key', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', checkin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', 'occurrence_key', name='uq_rsvps_member_occurrence')
    )
    op.create_index(op.f('ix_rsvps_group_id'), 'rsvps', ['group_id'], unique=False)
    op.create_table('checkin_clarifications',
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('asked_at', checkin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkins.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('checkin_id')
    )


def downgrade() -> None:
    op.drop_table('checkin_clarifications')
    op.drop_index(op.f('ix_rsvps_group_id'), table_name='rsvps')
    op.drop_table('rsvps')
