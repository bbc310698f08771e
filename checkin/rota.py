"""The rota: who is on call for a group at an instant. This is the one rule; escalation, the voice
"talk to a facilitator" option, the watch digest and the console all ask it.

A rota place (GroupStaff) is on call at instant T when
  1. its manual switch is on (OFFCALL turns it off whatever the rota says), and
  2. no dated absence ("away") covers T, and
  3. it has neither weekly shifts nor dated cover (then it is always on call, as before rotas
     existed), or one of them covers T.

Weekly shifts are wall-clock times in the group's zone: "Mon-Fri 09:00-17:00" is 09:00 local on
either side of a DST change. Each candidate start and end is placed in the zone with zoneinfo and
compared in UTC, so an overnight shift across a DST change lasts what the wall clock says (an
hour less or more). A start or end that falls in the spring-forward gap is read with the offset
before the change (02:30 becomes 03:30); one in the autumn's repeated hour is its first pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin.errors import ValidationError
from checkin.models import Group, GroupStaff, OnCallWindow, StaffUser

UTC = UTC
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # ISO weekday 1..7
TIER_ORDER = {"primary": 0, "backup": 1}
MAX_SPAN_DAYS = 6  # a weekly shift ends at most 6 days after the day it starts (under a week long)
MINUTES_PER_DAY = 24 * 60


# --- the rule ----------------------------------------------------------------------------------


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


def _span(window: OnCallWindow) -> int:
    """Days from a weekly shift's start day to its end day; a same-day end at or before the start is the next day."""
    span = window.span_days or 0
    return 1 if span == 0 and window.end_minute <= window.start_minute else span


def contains(window: OnCallWindow, zone: ZoneInfo, at: datetime) -> bool:
    """Whether the window covers the instant `at` (aware)."""
    if window.kind != "weekly":
        return window.starts_at <= at < window.ends_at
    today = at.astimezone(zone).date()
    span = _span(window)
    # A shift covering `at` started on one of the last span+1 local days: look at just those.
    for back in range(span + 1):
        day = today - timedelta(days=back)
        if str(day.isoweekday()) in window.days:
            start = _instant(day, window.start_minute, zone)
            end = _instant(day + timedelta(days=span), window.end_minute, zone)
            if start <= at < end:
                return True
    return False


def is_on_call(link: GroupStaff, windows: list[OnCallWindow], zone: ZoneInfo, at: datetime) -> bool:
    if not link.on_call:
        return False
    if any(w.kind == "away" and contains(w, zone, at) for w in windows):
        return False
    shifts = [w for w in windows if w.kind != "away"]
    return not shifts or any(contains(w, zone, at) for w in shifts)


@dataclass(frozen=True)
class Place:
    """One person's place in a group's rota, with its windows and whether it is on call at the instant asked."""

    link: GroupStaff
    staff: StaffUser
    windows: list[OnCallWindow]
    on_call: bool

    @property
    def reachable(self) -> bool:
        return bool(self.staff.active and self.staff.phone)


def places(session: Session, group: Group, at: datetime) -> list[Place]:
    """Everyone in the group's rota, primaries first, then backups, then by id."""
    zone = ZoneInfo(group.timezone)
    rows = session.execute(
        select(GroupStaff, StaffUser)
        .join(StaffUser, StaffUser.id == GroupStaff.staff_id)
        .where(GroupStaff.group_id == group.id)
    ).all()
    windows: dict[int, list[OnCallWindow]] = {}
    for window in session.scalars(
        select(OnCallWindow).where(OnCallWindow.group_id == group.id).order_by(OnCallWindow.id)
    ):
        windows.setdefault(window.staff_id, []).append(window)
    out = [
        Place(link, staff, windows.get(staff.id, []), is_on_call(link, windows.get(staff.id, []), zone, at))
        for link, staff in rows
    ]
    return sorted(out, key=lambda p: (TIER_ORDER.get(p.link.tier, len(TIER_ORDER)), p.staff.id))


def on_call_places(session: Session, group_id: int | None, at: datetime) -> list[Place]:
    """The places on call for the group at `at` whose person can be reached (active, with a phone), by tier."""
    group = session.get(Group, group_id) if group_id is not None else None
    if group is None:
        return []
    return [p for p in places(session, group, at) if p.on_call and p.reachable]


def on_call(
    session: Session, group_id: int | None, at: datetime, *, tier: str | None = None
) -> list[StaffUser]:
    """The staff who can be reached on call for the group at `at`: primaries first, then backups."""
    return [p.staff for p in on_call_places(session, group_id, at) if tier is None or p.link.tier == tier]


# --- in words ------------------------------------------------------------------------------------


def _clock(minute: int) -> str:
    """The console's one English clock: 540 -> '9:00 am', 1080 -> '6:00 pm', 0 -> '12:00 am'."""
    hour = minute // 60 % 24
    return f"{hour % 12 or 12}:{minute % 60:02d} {'am' if hour < 12 else 'pm'}"


def _when(instant) -> str:
    """'Thu, Dec 24, 2026, 9:00 am' (an instant already in the group's zone)."""
    return f"{instant:%a, %b} {instant.day}, {instant.year}, {_clock(instant.hour * 60 + instant.minute)}"


def days_in_words(days: str) -> str:
    """ "12345" -> "Mon–Fri"; "135" -> "Mon, Wed, Fri"; all seven -> "Every day"."""
    numbers = sorted({int(d) for d in days})
    if len(numbers) == 7:
        return "Every day"
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(
        DAY_NAMES[r[0] - 1] if len(r) < 3 else f"{DAY_NAMES[r[0] - 1]}–{DAY_NAMES[r[-1] - 1]}" for r in runs
    )


def describe(window: OnCallWindow, zone: ZoneInfo) -> str:
    """The window as a person reads it, times in the group's zone."""
    if window.kind != "weekly":
        what = "Cover" if window.kind == "cover" else "Away"
        return (
            f"{what}: {_when(window.starts_at.astimezone(zone))} to {_when(window.ends_at.astimezone(zone))}"
        )
    start, end, span = _clock(window.start_minute), _clock(window.end_minute), _span(window)
    if span == 0:
        return f"{days_in_words(window.days)} {start}–{end}"
    if len(window.days) == 1:
        end_day = DAY_NAMES[(int(window.days) - 1 + span) % 7]
        return f"{days_in_words(window.days)} {start} to {end_day} {end}"
    later = "the next day" if span == 1 else f"{span} days later"
    return f"{days_in_words(window.days)} {start} to {end} {later}"


# --- changing it ----------------------------------------------------------------------------------


def add_weekly(
    session: Session, link: GroupStaff, days: list[int], start: time, end: time, span_days: int = 0
) -> OnCallWindow:
    """A weekly shift starting on each of `days` (ISO 1-7) at `start`, ending `span_days` later at
    `end` (0: the same day, or the next morning when `end` is not after `start`)."""
    if not days or any(d not in range(1, 8) for d in days):
        raise ValidationError("starts on: tick at least one day")  # named as the form's "Starts on"
    if span_days not in range(MAX_SPAN_DAYS + 1):
        raise ValidationError(f"ends: the same day up to {MAX_SPAN_DAYS} days later")
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if span_days == 0 and last <= first:
        span_days = 1  # 22:00-06:00: overnight
    window = OnCallWindow(
        group_id=link.group_id,
        staff_id=link.staff_id,
        kind="weekly",
        days="".join(str(d) for d in sorted(set(days))),
        start_minute=first,
        end_minute=last,
        span_days=span_days,
    )
    session.add(window)
    return window


def add_dated(
    session: Session,
    link: GroupStaff,
    kind: str,
    starts: datetime,
    ends: datetime,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> OnCallWindow:
    """A one-off cover (on call) or absence (away) between two wall-clock times in the group's zone.
    With `now`, one that is already over is refused (it would change nobody's rota); one that began
    earlier and is still running is taken (it counts from now)."""
    if kind not in ("cover", "away"):
        raise ValidationError("kind: cover or away")
    starts_at = starts.replace(tzinfo=zone).astimezone(UTC)
    ends_at = ends.replace(tzinfo=zone).astimezone(UTC)
    if ends_at <= starts_at:
        raise ValidationError("to: must be after from")
    if now is not None and ends_at <= now:
        raise ValidationError(
            "to: that time has passed, so this would change nothing: choose an end still to come"
        )
    window = OnCallWindow(
        group_id=link.group_id, staff_id=link.staff_id, kind=kind, starts_at=starts_at, ends_at=ends_at
    )
    session.add(window)
    return window
