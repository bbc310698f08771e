"""Tables for a member's data. Imported by `checkin.models` so Alembic and the app see them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class ProviderDeletion(Base):
    """A record the provider keeps (a message, a call, a recording with its transcriptions) that an
    erasure asked to delete. Written in the erasure's transaction, so an outage at Twilio delays the
    deletion but never forgets it; done when the provider says it is gone (or never had it).
    Only the provider's SID is kept: no number, no words."""

    __tablename__ = "provider_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # message | call | recording
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    # Whose erasure asked for it (an id only: the member row is anonymous by then).
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
