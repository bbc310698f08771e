"""The schedule builder's common cases <-> an RFC 5545 RRULE.

Coordinators pick "every week", "every other week" or "the nth weekday of the month"; dateutil.rrule
writes the rule and finds the first meeting on or after the chosen date. Reading a stored rule back
(to fill the form for editing) uses icalendar's RRULE parser; a rule the builder cannot express
(written with the CLI, say) comes back as None and is shown in words (console.words.rule_words).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from dateutil import rrule as du
from icalendar import vRecur

PATTERNS = {
    "weekly": "Every week",
    "biweekly": "Every other week",
    "monthly": "Once a month, on a given weekday (the 2nd Tuesday, say)",
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NTHS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}


class RecurrenceError(ValueError):
    """The builder's input does not make a schedule; the message names the field, and `field` is the
    builder's input it is about (repeat, weekday or nth)."""

    @property
    def field(self) -> str:
        head = str(self).partition(":")[0]
        return {"weekday": "weekday", "week of the month": "nth"}.get(head, "repeat")


@dataclass(frozen=True)
class Recurrence:
    pattern: str  # weekly | biweekly | monthly
    weekday: str  # MO .. SU
    nth: int | None = None  # monthly only: 1-4 or -1 (last)

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise RecurrenceError(f"repeat: choose one of {', '.join(PATTERNS)}")
        if self.weekday not in WEEKDAYS:
            raise RecurrenceError(f"weekday: choose one of {', '.join(WEEKDAYS)}")
        if self.pattern == "monthly" and self.nth not in NTHS:
            raise RecurrenceError("week of the month: choose 1st, 2nd, 3rd, 4th or last")
        if self.pattern != "monthly" and self.nth is not None:
            object.__setattr__(self, "nth", None)

    def _rule(self, dtstart: datetime, interval: int | None = None) -> du.rrule:
        day = du.weekday(WEEKDAYS.index(self.weekday))
        if self.pattern == "monthly":
            return du.rrule(du.MONTHLY, byweekday=day(self.nth), dtstart=dtstart)
        if interval is None:
            interval = 2 if self.pattern == "biweekly" else 1
        return du.rrule(du.WEEKLY, interval=interval, byweekday=day, dtstart=dtstart)

    def rrule(self) -> str:
        """The RRULE value (no "RRULE:" prefix, no DTSTART: the start is stored beside it)."""
        text = str(self._rule(datetime(2000, 1, 1)))  # noqa: DTZ001 - a placeholder start; only the RRULE line is kept
        return next(line for line in text.splitlines() if line.startswith("RRULE:"))[len("RRULE:") :]

    def first_on_or_after(self, day: date, at: time) -> datetime:
        """The first meeting (naive, group-local) on or after `day`, at `at`. It becomes the rule's
        start, so "every other week" counts its fortnights from the first meeting itself (an
        interval-2 rule from `day` would skip the first week when `day` falls late in a week)."""
        return self._rule(datetime.combine(day, at), interval=1)[0]

    def describe(self) -> str:
        name = WEEKDAY_NAMES[WEEKDAYS.index(self.weekday)]
        if self.pattern == "weekly":
            return f"Every {name}"
        if self.pattern == "biweekly":
            return f"Every other {name}"
        return f"The {NTHS[self.nth]} {name} of each month"


def parse(rrule_text: str | None) -> Recurrence | None:
    """The builder's view of a stored rule, or None when the rule is not one of its common cases."""
    if not rrule_text:
        return None
    text = rrule_text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    try:
        parts = vRecur.from_ical(text)
    except ValueError:
        return None
    known = {"FREQ", "INTERVAL", "BYDAY", "WKST"}
    if set(parts) - known or len(parts.get("BYDAY", ())) != 1:
        return None
    freq = parts["FREQ"][0]
    interval = int(parts.get("INTERVAL", [1])[0])
    byday = parts["BYDAY"][0]
    weekday, prefix = byday[-2:], byday[:-2]
    try:
        if freq == "WEEKLY" and not prefix and interval in (1, 2):
            return Recurrence("biweekly" if interval == 2 else "weekly", weekday)
        if freq == "MONTHLY" and prefix and interval == 1:
            return Recurrence("monthly", weekday, int(prefix))
    except (RecurrenceError, ValueError):
        return None
    return None


def from_form(form) -> Recurrence:
    """A Recurrence from the builder's fields (`repeat`, `weekday`, `nth`)."""
    pattern = (form.get("repeat") or "").strip()
    nth_raw = (form.get("nth") or "").strip()
    nth = None
    if pattern == "monthly":
        try:
            nth = int(nth_raw)
        except ValueError:
            raise RecurrenceError("week of the month: choose 1st, 2nd, 3rd, 4th or last") from None
    return Recurrence(pattern, (form.get("weekday") or "").strip().upper(), nth)
