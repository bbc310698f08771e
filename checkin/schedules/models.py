"""Tables for this part of the domain. Imported by `checkin.models` so Alembic and the app see them.

A schedule's times are wall-clock times in the group's zone (the zone lives on the group), so a
meeting at 18:00 stays at 18:00 across DST changes. Occurrences are not stored: they are expanded
from the RRULE when needed; only exceptions to the rule (cancelled, moved) are rows.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class Schedule(Base):
    """A group's recurring meeting: one per group."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    # RFC 5545 RRULE without DTSTART, e.g. "FREQ=WEEKLY;BYDAY=TU" or "FREQ=MONTHLY;BYDAY=+2TU".
    rrule: Mapped[str] = mapped_column(String(500))
    # The rule's first day (DTSTART's date): anchors "every other week" and the like.
    starts_on: Mapped[date] = mapped_column(Date)
    start_local: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(200))
    dial_in: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OccurrenceOverride(Base):
    """One occurrence cancelled or moved. `version` counts the changes, so each is announced once."""

    __tablename__ = "occurrence_overrides"
    __table_args__ = (UniqueConstraint("group_id", "occurrence_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    # The occurrence's original start in UTC, ISO form (Occurrence.key).
    occurrence_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))  # cancelled | moved
    # For a moved occurrence: its new wall-clock start in the group's zone (naive on purpose).
    new_start_local: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReminderPlan(Base):
    """A group's departures from the default plan in config/plan.toml (only the keys it overrides),
    and its own texts under overrides["templates"] = {language: {template: text}}."""

    __tablename__ = "reminder_plans"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    overrides: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
