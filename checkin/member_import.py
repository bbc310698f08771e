"""Importing members from a CSV file: every row checked by the directory's rules, all or nothing.

Columns (header row required, any order, case-insensitive): group, phone, name, and optionally
language (English, Spanish, español, en, es...), channel (sms|voice), timezone (a city such as
Chicago, or IANA; empty = the group's). A file with any bad
row imports nothing; the report names each bad row and every reason, so it can be fixed in one go.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import languages, timezones
from checkin.directory import ValidationError
from checkin.models import CHANNELS, ConsentEvent, Group, Member
from checkin.phones import InvalidPhone, normalize_phone

REQUIRED = ("group", "phone", "name")
OPTIONAL = ("language", "channel", "timezone")
MAX_ROWS = 20_000
PROGRESS_EVERY = 25


@dataclass
class RowProblem:
    line: int  # the line in the file (the header is line 1)
    reasons: list[str] = field(default_factory=list)


def parse(data: bytes) -> list[dict[str, str]]:
    """The file's rows as dicts of the known columns; ValidationError for a file that is not such a CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            "the file is not UTF-8 text (save it from your spreadsheet as 'CSV UTF-8')"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValidationError("the file is empty") from None
    except csv.Error as exc:
        raise ValidationError(f"the file is not a CSV file ({exc})") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError(
            f"the header row must name the columns {', '.join(REQUIRED)} "
            f"(missing: {', '.join(missing)}); optional: {', '.join(OPTIONAL)}"
        )
    unknown = [h for h in header if h and h not in REQUIRED + OPTIONAL]
    if unknown:
        raise ValidationError(
            f"unknown column(s): {', '.join(unknown)} (known: {', '.join(REQUIRED + OPTIONAL)})"
        )
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                rows.append({})  # a blank line: kept so line numbers stay right, skipped on import
                continue
            rows.append(
                {
                    name: (values[i].strip() if i < len(values) else "")
                    for i, name in enumerate(header)
                    if name
                }
            )
            if len(rows) > MAX_ROWS:
                raise ValidationError(f"the file has more than {MAX_ROWS} rows; split it")
    except csv.Error as exc:
        raise ValidationError(f"line {reader.line_num}: {exc}") from None
    if not any(rows):
        raise ValidationError("the file has a header row but no members")
    return rows


def import_rows(
    session: Session,
    rows: list[dict[str, str]],
    *,
    consent_source: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[RowProblem]]:
    """Check every row, then add them all in `session`; returns (members added, problems).

    Nothing is added when any row has a problem. The caller commits only when there are none and
    rolls back otherwise, so a rejected file leaves nothing behind. Rows are checked with the
    directory's own rules, against groups and phone numbers read once (not a query per row).
    """
    groups = {g.name: g for g in session.scalars(select(Group))}
    phones: list[str | None] = []
    for row in rows:
        try:
            phones.append(normalize_phone(row["phone"]) if row else None)
        except InvalidPhone:
            phones.append(None)
    known = set()
    wanted = sorted({p for p in phones if p})
    for i in range(0, len(wanted), 1000):
        known.update(session.scalars(select(Member.phone).where(Member.phone.in_(wanted[i : i + 1000]))))

    zones: dict[str, tuple[str | None, str | None]] = {}
    problems: list[RowProblem] = []
    valid: list[tuple[dict[str, str], str, Group]] = []
    first_line_of: dict[str, int] = {}
    for index, (row, phone) in enumerate(zip(rows, phones)):
        if progress and index % PROGRESS_EVERY == 0:
            progress(index)
        if not row:
            continue
        line, reasons = index + 2, []
        if phone is None:
            try:
                normalize_phone(row["phone"])
            except InvalidPhone as exc:
                reasons.append(f"phone: {exc}")
        elif phone in first_line_of:
            reasons.append(f"phone: the same number as line {first_line_of[phone]}")
        elif phone in known:
            reasons.append("phone: already a member (duplicate)")
        if phone:
            first_line_of.setdefault(phone, line)
        group = groups.get(row["group"])
        if group is None:
            reasons.append(f"unknown group: {row['group']!r}")
        reasons += _field_problems(row, zones)
        if reasons:
            problems.append(RowProblem(line, reasons))
        else:
            valid.append((row, phone, group))
    if progress:
        progress(len(rows))
    if problems:
        return 0, problems
    for row, phone, group in valid:
        member = Member(
            phone=phone,
            display_name=row["name"],
            language=row.get("language") or "en",
            timezone=row.get("timezone") or None,
            channel=row.get("channel") or "sms",
            status="active",
        )
        member.groups.append(group)
        # Being imported is recorded as the member's opt-in, with who imported them.
        member.consent_events.append(ConsentEvent(kind="opt_in", source=consent_source))
        session.add(member)
    session.flush()
    return len(valid), []


def _field_problems(row: dict[str, str], zones: dict[str, tuple[str | None, str | None]]) -> list[str]:
    reasons = []
    name = row.get("name", "")
    if not name or len(name) > 80:
        reasons.append("name must be 1-80 characters")
    try:  # "Spanish", "español", "es": the row keeps the code
        row["language"] = languages.code(row.get("language"), default="en")
    except ValidationError as exc:
        reasons.append(str(exc))
    value = row.get("channel") or "sms"
    if value not in CHANNELS:
        reasons.append(f"channel must be one of {', '.join(CHANNELS)}, not {value!r}")
    zone = row.get("timezone")
    if zone:
        if zone not in zones:  # resolving a zone reads the zone database: once per distinct name
            try:
                zones[zone] = (timezones.resolve(zone), None)
            except ValidationError as exc:
                zones[zone] = (None, str(exc))
        resolved, problem = zones[zone]
        if problem:
            reasons.append(problem)
        else:
            row["timezone"] = resolved  # "Chicago" is stored as America/Chicago
    return reasons
