"""Expanding a recurring schedule into meetings, in wall-clock time.

The RRULE is expanded on naive local date-times (the rule's DTSTART is the first day at the
meeting's local start) and each result is then placed in the group's zone. So "Tuesdays at 18:00"
is 18:00 local on either side of a DST change: its UTC instant moves, the meeting does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr

UTC = UTC
KEY_FORMAT = "%Y%m%dT%H%MZ"  # ISO 8601 basic form: no ':' so keys split cleanly on ':'
ALLOWED_FREQ = {DAILY: "DAILY", WEEKLY: "WEEKLY", MONTHLY: "MONTHLY", YEARLY: "YEARLY"}


@dataclass(frozen=True)
class Occurrence:
    group_id: int
    starts_at: datetime  # aware UTC
    ends_at: datetime  # aware UTC
    local_start: datetime  # aware, group zone
    status: str  # scheduled | moved | cancelled
    original_start: datetime  # aware UTC
    location: str | None
    dial_in: str | None
    key: str  # the original UTC start, e.g. 20261208T2300Z
    version: int = 0  # how many times this occurrence was changed (0: as scheduled)


@dataclass(frozen=True)
class ScheduleSpec:
    """What expansion needs of a schedule; built from the Schedule row and the group's zone."""

    group_id: int
    zone: str
    rrule: str
    starts_on: date
    start_local: time
    duration_minutes: int
    location: str | None = None
    dial_in: str | None = None


@dataclass(frozen=True)
class OverrideSpec:
    occurrence_key: str
    status: str  # cancelled | moved
    new_start_local: datetime | None  # naive, group zone
    version: int
    updated_at: datetime


def occurrence_key(original_start: datetime) -> str:
    return original_start.astimezone(UTC).strftime(KEY_FORMAT)


def parse_key(key: str) -> datetime:
    """The original UTC start an occurrence key names. Raises ValueError for anything else."""
    return datetime.strptime(key, KEY_FORMAT).replace(tzinfo=UTC)


def to_utc(local_naive: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` as UTC. A time skipped by spring-forward lands just after the gap."""
    return local_naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


@lru_cache(maxsize=4096)
def _rule(text: str, starts_on: date, start_local: time):
    return rrulestr(f"RRULE:{text}", dtstart=datetime.combine(starts_on, start_local))


def validate_rrule(text: str, starts_on: date, start_local: time) -> str:
    """The rule, normalised (no 'RRULE:' prefix, upper case). Raises ValueError saying what is wrong."""
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    # Expansion runs on naive local times, so a UTC UNTIL is read as local (a day's bound either way).
    text = re.sub(r"(UNTIL=\d{8}(?:T\d{6})?)Z", r"\1", text.upper())
    if not text:
        raise ValueError("the RRULE is empty (e.g. FREQ=WEEKLY;BYDAY=TU)")
    if "DTSTART" in text or "\n" in text:
        raise ValueError(
            "give only the RRULE (e.g. FREQ=WEEKLY;BYDAY=TU); the first day and time are separate options"
        )
    for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if part in text:
            raise ValueError(f"{part} is not allowed: the meeting's time is its start time")
    try:
        rule = _rule(text, starts_on, start_local)
    except (ValueError, TypeError) as exc:
        detail = str(exc) if "unpack" not in str(exc) else "expected NAME=VALUE parts joined by ';'"
        raise ValueError(f"not a valid RRULE ({detail})") from None
    if rule._freq not in ALLOWED_FREQ:
        raise ValueError("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if rule.after(datetime.combine(starts_on, start_local), inc=True) is None:
        raise ValueError("the RRULE produces no meeting at all")
    return text


def expand(
    spec: ScheduleSpec, overrides: dict[str, OverrideSpec], start: datetime, end: datetime
) -> list[Occurrence]:
    """Every occurrence whose (possibly moved) start is in [start, end), cancelled ones included."""
    zone = ZoneInfo(spec.zone)
    duration = timedelta(minutes=spec.duration_minutes)
    rule = _rule(spec.rrule, spec.starts_on, spec.start_local)
    # A day of slack each side covers every UTC offset; the exact filter is on UTC below.
    lo = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    hi = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)

    def make(original: datetime, local_naive: datetime, status: str, version: int) -> Occurrence:
        starts = to_utc(local_naive, spec.zone)
        return Occurrence(
            spec.group_id,
            starts,
            starts + duration,
            starts.astimezone(zone),
            status,
            original,
            spec.location,
            spec.dial_in,
            occurrence_key(original),
            version,
        )

    found: list[Occurrence] = []
    for local in rule.between(lo, hi, inc=True):
        original = to_utc(local, spec.zone)
        if not start <= original < end:
            continue
        override = overrides.get(occurrence_key(original))
        if override is None:
            found.append(make(original, local, "scheduled", 0))
        elif override.status == "cancelled":
            found.append(make(original, local, "cancelled", override.version))
    for override in overrides.values():
        if override.status == "moved" and override.new_start_local is not None:
            occ = make(
                parse_key(override.occurrence_key), override.new_start_local, "moved", override.version
            )
            if start <= occ.starts_at < end:
                found.append(occ)
    found.sort(key=lambda o: (o.starts_at, o.key))
    return found


def is_rule_occurrence(spec: ScheduleSpec, key: str) -> bool:
    """True if the rule (ignoring overrides) has a meeting starting at the instant `key` names."""
    when = parse_key(key)
    return any(o.key == key for o in expand(spec, {}, when, when + timedelta(minutes=1)))
