"""Reading typed form values: each failure is a one-line reason that names the field."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from checkin.directory import ValidationError
from checkin.phones import InvalidPhone, normalize_phone


def sentence(message: str, label: str | None = None) -> str:
    """A domain message as a sentence shown next to its field: a leading "field: " label (the field is
    named by where the message sits) dropped, the field's own `label` whatever its length or a short one,
    and a capital first letter."""
    text = message.strip()
    head, sep, rest = text.partition(": ")
    if sep and rest and (head == label or (len(head.split()) <= 4 and "'" not in head and '"' not in head)):
        text = rest
    return text[:1].upper() + text[1:]


class Problems:
    """All of a form's mistakes at once, each kept for its field (the input's id): the page shows a
    summary at the top and each sentence next to its field, rather than the first mistake only."""

    def __init__(self, labels: dict[str, str] | None = None) -> None:
        self.fields: dict[str, str] = {}
        self.labels = labels or {}  # field -> the label its messages start with ("Time: ..."), dropped

    def add(self, field: str, message: str, *, named: bool = False) -> None:
        """Keep `message` for `field` (the first one given); `named`: it names what it is about in its
        own words ("Spanish meeting reminder: ..."), which the summary needs, so it is kept whole."""
        text = (
            message.strip()[:1].upper() + message.strip()[1:]
            if named
            else sentence(message, self.labels.get(field))
        )
        self.fields.setdefault(field, text)

    def check(self, field: str, read, *args, **kwargs):
        """read(*args, **kwargs), or None with its ValidationError kept for `field`."""
        try:
            return read(*args, **kwargs)
        except ValidationError as exc:
            self.add(field, str(exc))
            return None

    def phone(self, field: str, raw: str) -> str | None:
        """The E.164 form of a typed number (parsed once), or None with its advice kept for `field`."""
        try:
            return normalize_phone(raw)
        except InvalidPhone as exc:
            self.add(field, exc.advice)
            return None

    def __bool__(self) -> bool:
        return bool(self.fields)

    def __str__(self) -> str:
        return " ".join(self.fields.values())


def name(value: str | None, *, max_len: int, what: str = "a name") -> str:
    """A person's or group's name: typed, not only spaces, and not too long."""
    raw = value or ""
    text = raw.strip()
    if not text:
        if raw:
            raise ValidationError(f"The name can't be only spaces: type {what}.")
        raise ValidationError(f"Type {what}.")
    if len(text) > max_len:
        raise ValidationError(f"The name can be at most {max_len} characters (this one has {len(text)}).")
    return text


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
    if not value:
        raise ValidationError(f"{label}: choose a time of day")
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValidationError(f"{label}: a time of day as HH:MM, e.g. 18:30")
    return time(int(match[1]), int(match[2]))


def day(form, name: str, label: str) -> date:
    value = (form.get(name) or "").strip()
    if not value:
        raise ValidationError(f"{label}: choose a date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{label}: a date as YYYY-MM-DD") from None


def local_datetime(form, name: str, label: str) -> datetime:
    """A naive wall-clock time, as <input type=datetime-local> sends it (YYYY-MM-DDTHH:MM)."""
    try:
        value = datetime.fromisoformat((form.get(name) or "").strip())
    except ValueError:
        raise ValidationError(f"{label}: type a date and time like 10 March 2026, 6:30 pm") from None
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
