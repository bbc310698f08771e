"""Inbox tables. Imported by `checkin.models` so Alembic and the app see them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class ConversationState(StrEnum):
    WAITING = "waiting"  # nobody has taken it
    TAKEN = "taken"  # a staff member said "I have it"
    DONE = "done"  # answered or nothing to answer; the next free text opens a new one


OPEN_STATES = (ConversationState.WAITING.value, ConversationState.TAKEN.value)
OPEN_SQL = text("state IN ('waiting', 'taken')")


class Conversation(Base):
    """A member's free-text messages to one group that the service could not answer by itself,
    waiting for a person. At most one open conversation per member and group: later texts join it."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "uq_conversations_open",
            "member_id",
            "group_id",
            unique=True,
            postgresql_where=OPEN_SQL,
            sqlite_where=OPEN_SQL,
        ),
        Index("ix_conversations_group_state", "group_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(8), default=ConversationState.WAITING.value)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # Messages from the member nobody has read since they came (shown as the inbox's unread count).
    unread: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    last_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the member was last sent the automatic answer (who reads this, or that nobody does): said
    # again to a later text at most once per checkin.auto_replies.REPEAT_AFTER.
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CannedReply(Base):
    """A coordinator's ready-made reply in one language; the file config/replies.toml gives the
    defaults until a coordinator saves that language's list in the console."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(2), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(String(480))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
