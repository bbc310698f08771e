"""Reminder, prompt, nudge and change texts, in the member's language and the meeting's local time (its
zone named when the member's is another: ZONE_TIME)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_location

from checkin.schedules.plan import NEAR_DATE, TEMPLATE_FIELDS, PlanConfig
from checkin.schedules.recurrence import Occurrence
from checkin.templates import GSM7_BASIC, MAX_SEGMENTS, segments
from checkin.timezones import city

# CLDR writes "6:30 p. m." and "6:30 PM" with no-break spaces (U+00A0, U+202F): outside GSM-7, one of
# them would turn a whole SMS into UCS-2 (70 characters a segment instead of 160). A plain space reads
# the same on every phone.
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


# Formatted dates and times, by everything the text depends on: a tick words the same meeting time for
# every group that meets then (Babel's formatting was a tenth of a tick's CPU). Emptied when it is full.
_WORDS: dict[tuple, str] = {}
_WORDS_MAX = 20_000


def _words(fmt: dict, local: datetime, pattern: str) -> str:
    """`local` in a CLDR pattern (config/plan.toml's [format.<language>]), names in the member's language."""
    # Not `local` itself as the key: aware datetimes at one instant are equal whatever their zone.
    key = (
        local.replace(tzinfo=None),
        local.fold,
        local.utcoffset(),
        str(local.tzinfo),
        pattern,
        fmt["locale"],
    )
    found = _WORDS.get(key)
    if found is None:
        if len(_WORDS) >= _WORDS_MAX:
            _WORDS.clear()
        found = _WORDS[key] = format_datetime(
            local, pattern, tzinfo=local.tzinfo, locale=fmt["locale"]
        ).translate(_SPACES)
    return found


def _date(fmt: dict, local: datetime) -> str:
    """The meeting's date as members of this language write it: "Tue, Dec 8", "martes 8 de diciembre"."""
    return _words(fmt, local, fmt["date"])


def _time(fmt: dict, local: datetime) -> str:
    """12-hour time in the member's words: "6:30 pm", "6:30 p. m." (RAE; US Spanish usage)."""
    return _words(fmt, local, fmt["time"]).lower()


def _weekday(fmt: dict, local: datetime) -> str:
    """The full weekday name: "Tuesday", "martes"."""
    return _words(fmt, local, "EEEE")


# A member whose zone is not the meeting's reads a clock with its place named: "6:30 pm Chicago time" is
# right wherever they are, while "7:30 pm" (their clock, unnamed) sends someone who travelled, or set the
# wrong zone, to a room an hour early or late.
ZONE_TIME = {"en": "{time} {city} time", "es": "{time} hora de {city}"}


def zone_city(zone: str, language: str) -> str:
    """The zone's city as the member's language names it ("Nueva York"), or its plain name when that
    would take a character outside GSM-7 (one accent would make the whole text UCS-2)."""
    name = get_timezone_location(zone, "es" if language == "es" else "en_US", return_city=True)
    return name if all(c in GSM7_BASIC for c in name) else city(zone)


def labelled(language: str, time: str, zone: str) -> str:
    return ZONE_TIME.get(language, ZONE_TIME["en"]).format(time=time, city=zone_city(zone, language))


def meeting_zone(occ: Occurrence) -> str:
    return str(occ.local_start.tzinfo)


# "6:30 p. m." at the end of a sentence takes no second period (RAE): "...a las 6:30 p. m." not "p. m..".
_DOUBLE_PERIOD = re.compile(r"(?<=\b[ap]\. m\.)\.")


def _one_period(text: str) -> str:
    return _DOUBLE_PERIOD.sub("", text)


def places(config: PlanConfig, language: str, location: str | None, dial_in: str | None) -> list[str]:
    """The {where} lines for a meeting, the fullest first: with an address and a dial-in, both (members
    who come in person need the one, members who join by phone the other), then the address alone for
    a text that has no room for both; with one of them, that one; with neither, nothing."""
    address = config.template(language, "where_address").format(address=location) if location else ""
    phone = config.template(language, "where_dial_in").format(dial_in=dial_in) if dial_in else ""
    if address and phone:
        return [address + phone, address]
    return [address or phone]


def fitting(fill, lines: list[str]) -> str:
    """fill(line) with the first of `lines` whose text fits MAX_SEGMENTS (the last one if none does):
    the dial-in goes in wherever the text has room for it, and never makes a reminder three texts."""
    for line in lines[:-1]:
        text = fill(line)
        if segments(text)[2] <= MAX_SEGMENTS:
            return text
    return fill(lines[-1])


# The kinds whose text may name the member ({name}, as TEMPLATE_FIELDS offers it): rendered per member.
NAMED_KINDS = frozenset(k for k, fields in TEMPLATE_FIELDS.items() if "name" in fields)


def render(
    config: PlanConfig,
    kind: str,
    language: str,
    zone: str,
    occ: Occurrence,
    group_name: str,
    send_at: datetime,
    member_name: str = "",
) -> str:
    """The text for one send. `kind` is reminder | prompt | nudge | change (cancelled or moved by occ.status)."""
    return _one_period(_render(config, kind, language, zone, occ, group_name, send_at, member_name))


def _render(
    config: PlanConfig,
    kind: str,
    language: str,
    zone: str,
    occ: Occurrence,
    group_name: str,
    send_at: datetime,
    member_name: str = "",
) -> str:
    fmt = config.format(language)
    if kind in ("prompt", "nudge"):
        return config.template(language, kind).format(name=member_name, group=group_name)
    # Named when the member's zone is not the meeting's (ZONE_TIME): a meeting in a room by the room's
    # clock; one joined only by phone by the member's own, since that is where they will be.
    there = meeting_zone(occ) if occ.location else zone
    tz = ZoneInfo(there)

    def clock(local: datetime) -> str:
        if zone == meeting_zone(occ):
            return _time(fmt, local)
        return labelled(language, _time(fmt, local), there)

    if kind == "reminder":
        local = occ.starts_at.astimezone(tz)
        days = (local.date() - send_at.astimezone(tz).date()).days
        when = fmt["today"] if days == 0 else fmt["tomorrow"] if days == 1 else ""
        template = config.template(language, "reminder")
        near = fmt.get(NEAR_DATE) if when else None  # "mañana, 8 de diciembre": the weekday goes unsaid
        values = dict(
            name=member_name,
            group=group_name,
            when=when,
            date=_words(fmt, local, near) if near else _date(fmt, local),
            time=clock(local),
            weekday=_weekday(fmt, local),
        )
        return fitting(
            lambda where: _one_period(template.format(**values, where=where)),
            places(config, language, occ.location, occ.dial_in),
        )
    original = occ.original_start.astimezone(tz)
    values = dict(
        name=member_name,
        group=group_name,
        date=_date(fmt, original),
        time=clock(original),
        weekday=_weekday(fmt, original),
    )
    if occ.status == "cancelled":
        return config.template(language, "cancelled").format(**values)
    new = occ.starts_at.astimezone(tz)
    template = config.template(language, "moved")
    values.update(new_date=_date(fmt, new), new_time=clock(new))
    return fitting(
        lambda where: _one_period(template.format(**values, where=where)),
        places(config, language, occ.location, occ.dial_in),
    )
