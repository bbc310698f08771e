"""A group's meetings as an iCalendar feed at a secret URL, for facilitators' own calendar apps.

The feed lists each meeting in a window (a month back, six months ahead) as its own VEVENT rather
than one RRULE with EXDATEs and RECURRENCE-ID overrides: subscribed calendars (Google, Outlook,
Apple) all show single events the same way, whereas their handling of overrides in a polled feed
differs and stale copies linger. Each event's UID is the occurrence's stable key, so a moved meeting
moves in the app, and a cancelled one stays visible as STATUS:CANCELLED instead of silently vanishing.
Times carry the group's TZID with a VTIMEZONE, so apps show the group's wall-clock time across DST.

The feed names the group and where it meets; it never carries a member's name or number.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from checkin.db import Base, UTCDateTime, utcnow

PRODID = "-//Checkin//Group meetings//EN"
WINDOW_BACK = timedelta(days=31)
WINDOW_AHEAD = timedelta(days=183)


class CalendarFeed(Base):
    """The secret token of a group's feed; rotating it breaks every copy of the old URL."""

    __tablename__ = "calendar_feeds"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def token_for(session: Session, group_id: int) -> str:
    """The group's feed token, made on first use."""
    feed = session.get(CalendarFeed, group_id)
    if feed is None:
        feed = CalendarFeed(group_id=group_id, token=_new_token(), rotated_at=utcnow())
        session.add(feed)
        session.flush()
    return feed.token


def rotate(session: Session, group_id: int) -> str:
    feed = session.get(CalendarFeed, group_id)
    if feed is None:
        return token_for(session, group_id)
    feed.token = _new_token()
    feed.rotated_at = utcnow()
    session.flush()
    return feed.token


def group_id_for(session: Session, token: str) -> int | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(CalendarFeed.group_id).where(CalendarFeed.token == token))


def window(now: datetime) -> tuple[datetime, datetime]:
    return now - WINDOW_BACK, now + WINDOW_AHEAD


def build(
    group_name: str, timezone: str, occurrences: Iterable, *, host: str, now: datetime | None = None
) -> bytes:
    """The feed's bytes for `occurrences` (checkin.schedules.Occurrence-like objects)."""
    zone = ZoneInfo(timezone)
    stamp = now or utcnow()
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", group_name)
    cal.add("x-wr-timezone", timezone)
    # Ask subscribing apps to poll hourly (Outlook/Apple read X-PUBLISHED-TTL; RFC 7986 REFRESH-INTERVAL).
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for occ in occurrences:
        event = Event()
        event.add("uid", f"{occ.group_id}-{occ.key}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", occ.starts_at.astimezone(zone))
        event.add("dtend", occ.ends_at.astimezone(zone))
        cancelled = occ.status == "cancelled"
        event.add("summary", f"Cancelled: {group_name}" if cancelled else group_name)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        if occ.location:
            event.add("location", occ.location)
        notes = []
        if occ.status == "moved":
            notes.append(f"Moved from {occ.original_start.astimezone(zone):%A %d %B %H:%M}.")
        if occ.dial_in:
            notes.append(f"Dial-in: {occ.dial_in}")
        if notes:
            event.add("description", "\n".join(notes))
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
