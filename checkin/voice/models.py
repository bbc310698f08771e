"""Voice tables: one row per phone call (unique on CallSid), and the per-group voice options.

Imported by `checkin.models` so Alembic and the app see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class VoiceCall(Base):
    """A member's (or an unknown caller's) call, in or out. The CallSid is stored once: a retried
    webhook finds this row and carries on from it."""

    __tablename__ = "voice_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    # What an outbound call was for: reminder | prompt | nudge | change (the outbox purpose).
    kind: Mapped[str | None] = mapped_column(String(16))
    # The language the caller hears now (key 8 switches it for the rest of the call).
    language: Mapped[str] = mapped_column(String(2), default="en")
    # Twilio's CallStatus as last reported (queued ... completed | busy | no-answer | failed | canceled).
    status: Mapped[str] = mapped_column(String(16), default="in-progress")
    answered_by: Mapped[str | None] = mapped_column(String(24))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id", ondelete="SET NULL"))
    # The caller's message (a check-in's words, a message for a facilitator or the coordinator).
    recording_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VoiceGroupOptions(Base):
    """Voice options a coordinator switches per group; no row means the defaults."""

    __tablename__ = "voice_group_options"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    # Ask the PHQ-9 item 9 style question after the check-in score (any answer >= 1 is urgent).
    ask_phq9_item9: Mapped[bool] = mapped_column(Boolean, default=False)
