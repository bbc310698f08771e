"""Reading typed form values: each failure is a one-line reason that names the field."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from checkin.directory import ValidationError


def text(form, name: str, label: str, *, max_len: int, required: bool = False) -> str | None:
    value = (form.get(name) or "").strip()
    if not value:
        if required:
            raise ValidationError(f"{label}: required")
        return None
    if len(value) > max_len:
        raise ValidationError(f"{label}: at most {max_len} characters")
    return value


def clock(form, name: str, label: str) -> time:
    value = (form.get(name) or "").strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValidationError(f"{label}: a time of day as HH:MM, e.g. 18:30")
    return time(int(match[1]), int(match[2]))


def day(form, name: str, label: str) -> date:
    try:
        return date.fromisoformat((form.get(name) or "").strip())
    except ValueError:
        raise ValidationError(f"{label}: a date as YYYY-MM-DD") from None


def local_datetime(form, name: str, label: str) -> datetime:
    """A naive wall-clock time, as <input type=datetime-local> sends it (YYYY-MM-DDTHH:MM)."""
    try:
        value = datetime.fromisoformat((form.get(name) or "").strip())
    except ValueError:
        raise ValidationError(f"{label}: a date and time, e.g. 2026-03-10T18:30") from None
    return value.replace(tzinfo=None, second=0, microsecond=0)


def whole(form, name: str, label: str, low: int, high: int) -> int:
    value = (form.get(name) or "").strip()
    if not re.fullmatch(r"[0-9]{1,10}", value) or not low <= int(value) <= high:
        raise ValidationError(f"{label}: a whole number from {low} to {high}")
    return int(value)


def number(form, name: str, label: str, low: float, high: float) -> float:
    value = (form.get(name) or "").strip()
    try:
        parsed = float(value)
    except ValueError:
        parsed = None
    if parsed is None or not low <= parsed <= high:
        raise ValidationError(f"{label}: a number from {low:g} to {high:g}")
    return parsed
