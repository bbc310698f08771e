"""Tables for this part of the domain. Imported by `checkin.models` so Alembic and the app see them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class Rsvp(Base):
    """A member's answer to "Reply 1 if you're coming, 2 if not" for one meeting. The latest answer wins."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("member_id", "occurrence_key", name="uq_rsvps_member_occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    # The schedule's stable id of the meeting (checkin.schedules Occurrence.key).
    occurrence_key: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(3))  # yes | no
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Clarification(Base):
    """We asked once for a number 1-5 about this check-in: never ask twice."""

    __tablename__ = "checkin_clarifications"

    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
