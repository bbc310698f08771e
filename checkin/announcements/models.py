"""An announcement: one message from a coordinator to every active member of a group."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from checkin.crypto import EncryptedText
from checkin.db import Base, UTCDateTime, utcnow


class Announcement(Base):
    """What was announced, to which group, by whom; its sends are outbox rows `announce:{id}:{member}`.

    `request_key` is the form's (or the command's) idempotency key: pressing send twice finds this row
    instead of writing a second announcement."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    text_en: Mapped[str] = mapped_column(EncryptedText)
    text_es: Mapped[str | None] = mapped_column(EncryptedText)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # outbox rows written
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # opted out or paused when it was sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
