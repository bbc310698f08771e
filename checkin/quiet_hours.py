"""Quiet hours: no automated message in a member's night.

The window is the member's local wall-clock hours in which automated messages may go out
(default 08:00-21:00). Replies to a member and crisis handling never pass through here.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_START = time(8, 0)
DEFAULT_END = time(21, 0)


def allowed(when: datetime, tz: str, start: time = DEFAULT_START, end: time = DEFAULT_END) -> bool:
    """True if `when` (aware) falls inside the allowed window in time zone `tz`."""
    local = when.astimezone(ZoneInfo(tz)).time()
    return start <= local < end


def next_allowed(when: datetime, tz: str, start: time = DEFAULT_START, end: time = DEFAULT_END) -> datetime:
    """`when` itself if allowed, else the next start of the window, as an aware UTC datetime.

    Computed on the local calendar, so the morning after a DST change is still 08:00 local.
    """
    if allowed(when, tz, start, end):
        return when
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    candidate = datetime.combine(day, start, tzinfo=zone)
    # A start time inside a spring-forward gap does not exist; fold it to the real instant after it.
    return candidate.astimezone(ZoneInfo("UTC")).astimezone(when.tzinfo or ZoneInfo("UTC"))


def wait_for_window(at: time, start: time = DEFAULT_START, end: time = DEFAULT_END) -> timedelta | None:
    """How long a send due at wall-clock `at` waits for the window to open (as next_allowed moves it, on
    an ordinary day), or None if `at` is inside the window: what a plan form tells a coordinator who
    picks a time in members' night."""
    if start <= at < end:
        return None
    minutes = (start.hour * 60 + start.minute) - (at.hour * 60 + at.minute)
    return timedelta(minutes=minutes if minutes > 0 else minutes + 24 * 60)
