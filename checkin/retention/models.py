"""Retention tables: what each run removed, and the counts kept of rows it deleted.
Imported by `checkin.models` so Alembic and the app see them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow


class RetentionRun(Base):
    """One retention run: counts only (what was removed, per kind and table), never what it said."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"message_bodies.messages": 120, ...}: rows cleared or deleted per kind and table.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    provider_deleted: Mapped[int] = mapped_column(Integer, default=0)
    # Provider deletions that failed: their rows are kept and tried again by the next run.
    provider_failed: Mapped[int] = mapped_column(Integer, default=0)
    # With an audit period: the first audit row kept (the chain now starts there).
    audit_first_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))


class RetainedCount(Base):
    """How many rows of a kind were written in a month in a group, kept when the rows themselves expire
    (call records by direction, assessments by level). group_id 0: no group."""

    __tablename__ = "retained_counts"
    __table_args__ = (UniqueConstraint("kind", "month", "group_id", "label", name="uq_retained_counts_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM (UTC)
    group_id: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)
