"""Reminder, prompt, nudge and change texts, in the member's language and the member's local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from checkin.schedules.plan import TEMPLATE_FIELDS, PlanConfig
from checkin.schedules.recurrence import Occurrence


def _date(fmt: dict, local: datetime) -> str:
    return f"{fmt['weekdays_short'][local.weekday()]} {local.day} {fmt['months_short'][local.month - 1]}"


def _time(fmt: dict, local: datetime) -> str:
    if fmt["clock"] == "24h":
        return local.strftime("%H:%M")
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _where(config: PlanConfig, language: str, occ: Occurrence) -> str:
    if occ.location:
        return config.template(language, "where_address").format(address=occ.location)
    if occ.dial_in:
        return config.template(language, "where_dial_in").format(dial_in=occ.dial_in)
    return ""


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
    fmt = config.format(language)
    tz = ZoneInfo(zone)
    if kind in ("prompt", "nudge"):
        return config.template(language, kind).format(name=member_name, group=group_name)
    if kind == "reminder":
        local = occ.starts_at.astimezone(tz)
        days = (local.date() - send_at.astimezone(tz).date()).days
        when = fmt["today"] if days == 0 else fmt["tomorrow"] if days == 1 else ""
        return config.template(language, "reminder").format(
            name=member_name,
            group=group_name,
            when=when,
            date=_date(fmt, local),
            time=_time(fmt, local),
            weekday=fmt["weekdays"][local.weekday()],
            where=_where(config, language, occ),
        )
    original = occ.original_start.astimezone(tz)
    values = dict(
        name=member_name,
        group=group_name,
        date=_date(fmt, original),
        time=_time(fmt, original),
        weekday=fmt["weekdays"][original.weekday()],
    )
    if occ.status == "cancelled":
        return config.template(language, "cancelled").format(**values)
    new = occ.starts_at.astimezone(tz)
    return config.template(language, "moved").format(
        **values, new_date=_date(fmt, new), new_time=_time(fmt, new), where=_where(config, language, occ)
    )
