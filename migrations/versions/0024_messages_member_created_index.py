"""messages by member and time: the planner reads whether each member of a job's groups texted in the
last 2 hours as one range of this index per member (it read every inbound message of the network, a
year of texts, in every planning job). It replaces the index on member_id alone, a prefix of it, so
the webhook's insert maintains no more indexes than before. Built CONCURRENTLY on PostgreSQL: a plain
CREATE INDEX would hold every inbound text's INSERT for as long as a year of messages takes to index.

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A CONCURRENTLY build that failed or was cancelled leaves an INVALID index of that name behind, and
        # a run stopped between the two steps leaves both: start clean so that running it again just works.
        op.drop_index(
            "ix_messages_member_created", table_name="messages", if_exists=True, postgresql_concurrently=True
        )
        op.create_index(
            "ix_messages_member_created",
            "messages",
            ["member_id", "created_at"],
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_messages_member_id", table_name="messages", if_exists=True, postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_messages_member_id", table_name="messages", if_exists=True, postgresql_concurrently=True
        )
        op.create_index("ix_messages_member_id", "messages", ["member_id"], postgresql_concurrently=True)
        op.drop_index(
            "ix_messages_member_created", table_name="messages", if_exists=True, postgresql_concurrently=True
        )
