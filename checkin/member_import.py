"""Importing a roster from a CSV file in update mode: match by phone, add new, update changed, list the rest.

Columns (header row required, any order, case-insensitive): group, phone, name, and optionally
language (English, Spanish, español, en, es...), channel (sms|voice), timezone (a city such as
Chicago, or IANA; empty = the group's), consent_source (where the
member agreed: "paper form at meeting"), consent_date (2026-11-30 or 11/30/2026) and welcome (yes or no:
send a new member the welcome text, as the console's add form does; empty = yes). The columns the
members export adds (status, last_check_in, missed_in_a_row, mood_trend) are read and ignored, so an
exported file imports as it is.

`plan` reads the file against the members there now and decides each row, writing nothing: a new
phone is added, a known one has its changed fields updated (and joins the row's group if not in it),
an identical one is unchanged, a row with a problem is an error with every reason. An empty optional
cell leaves the member's value as it is. `apply` then writes a plan in the caller's unit of work. An
import never changes a member's status: an opted-out member stays opted out, whatever the file says.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkin import consent, crypto, languages, timezones
from checkin.directory import ValidationError
from checkin.member_data.export import FORMULA_STARTS
from checkin.models import CHANNELS, ConsentEvent, Group, GroupMember, Member, MemberStatus, NumberOptOut
from checkin.phones import InvalidPhone, normalize_phone

REQUIRED = ("group", "phone", "name")
OPTIONAL = ("language", "channel", "timezone", "consent_source", "consent_date", "welcome")
# The welcome column: a new member gets the welcome text unless the cell says no (the console's add
# form is ticked the same way); a member already there is never welcomed again.
YES, NO = ("yes", "y", "1", "true", "x", "sí", "si"), ("no", "n", "0", "false")
# Written by the members export for reading only; an import skips them (it never changes a status).
EXPORT_ONLY = ("status", "last_check_in", "missed_in_a_row", "mood_trend")
MAX_ROWS = 20_000
PROGRESS_EVERY = 25
CONSENT_SOURCE_MAX = 80
# What the template's example row and the page suggest; any words up to 80 characters are taken.
CONSENT_SOURCES = ("paper form at meeting", "verbal on phone", "text START", "online form")
TEMPLATE_EXAMPLE = {
    "group": "Tuesday Group",
    "phone": "202-555-0143",
    "name": "Alex P.",
    "language": "en",
    "channel": "sms",
    "timezone": "",
    "consent_source": "paper form at meeting",
    "consent_date": "2026-11-30",
    "welcome": "yes",
}
# The fields an import compares and sets, in the order the report shows them.
FIELDS = ("name", "language", "channel", "timezone", "consent_source", "consent_date")
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")  # ISO, and what US spreadsheets save a date as
# A cell the members export guarded against formula injection ('=..., '+1202...): the quote is dropped.
FORMULA_START = FORMULA_STARTS


@dataclass
class RowProblem:
    line: int  # the line in the file (the header is line 1)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Change:
    field: str  # one of FIELDS, or "group" (joins the row's group)
    old: str
    new: str


@dataclass
class PlannedRow:
    line: int
    action: str  # add | update | unchanged | error
    name: str = ""
    phone: str | None = None
    group: str = ""
    group_id: int | None = None
    member_id: int | None = None
    values: dict[str, str] = field(default_factory=dict)  # add/update: the fields as they will be
    changes: list[Change] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # error: why
    opted_out: bool = False  # a known member who opted out: stays opted out
    stopped: bool = False  # add: the number texted STOP before, so added opted out, no welcome text
    warnings: list[str] = field(default_factory=list)  # add/update: worth a second look, still imported


@dataclass
class Plan:
    rows: list[PlannedRow]
    total: int  # rows in the file (blank lines excluded)
    # Members of the file's groups whom the file does not name: left as they are, listed for the record.
    not_in_file: list[tuple[int, str]] = field(default_factory=list)

    def of(self, action: str) -> list[PlannedRow]:
        return [r for r in self.rows if r.action == action]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("add", "update", "unchanged", "error"), 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    def fingerprint(self) -> str:
        """sha256 of what applying would write: a plan made again after the members changed differs."""
        what = [
            (r.line, r.action, r.member_id, r.phone, r.group_id, sorted(r.values.items()), r.stopped)
            for r in self.rows
            if r.action in ("add", "update")
        ]
        return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(
            {"rows": [asdict(r) for r in self.rows], "total": self.total, "not_in_file": self.not_in_file}
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        rows = []
        for r in data["rows"]:
            r["changes"] = [Change(**c) for c in r["changes"]]
            rows.append(PlannedRow(**r))
        return cls(rows, data["total"], [tuple(x) for x in data["not_in_file"]])


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes) -> list[dict[str, str]]:
    """The file's rows as dicts of the known columns; ValidationError for a file that is not such a CSV."""
    if data.startswith(b"PK\x03\x04"):
        raise ValidationError(
            "this is an Excel workbook, not a CSV file: in your spreadsheet choose Save As, 'CSV UTF-8'"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError("the file is UTF-16 text: save it from your spreadsheet as 'CSV UTF-8'")
    if b"\x00" in data[:4096]:
        raise ValidationError("this is not a text file; save it from your spreadsheet as 'CSV UTF-8'")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"the file is not UTF-8 text (line {line} has a character in another encoding): "
            "save it from your spreadsheet as 'CSV UTF-8'"
        ) from None
    # One physical line is one row: a roster's cells never hold a line break, so a quote left open
    # is that line's problem alone (read strictly), not a cell that swallows the lines after it.
    lines = iter(io.StringIO(text, newline=""))
    try:
        raw_header = [h.strip() for h in next(csv.reader([next(lines)], strict=True))]
        header = [h.lower().replace(" ", "_") for h in raw_header]
    except StopIteration:
        raise ValidationError("the file is empty") from None
    except csv.Error as exc:
        raise ValidationError(f"the file is not a CSV file ({exc})") from None
    if len(header) == 1 and ";" in raw_header[0]:
        raise ValidationError(
            "the columns are separated by semicolons, not commas: in your spreadsheet choose Save As, "
            "'CSV UTF-8 (comma delimited)'"
        )
    if len(header) < 2:
        raise ValidationError(
            "the first row is not a header of comma-separated columns: it must name "
            f"{', '.join(REQUIRED)} (download the template)"
        )
    missing = [c for c in REQUIRED if c not in header]
    unknown = [
        _unknown_column(n, raw, h, header)
        for n, (raw, h) in enumerate(zip(raw_header, header), start=1)
        if h and h not in REQUIRED + OPTIONAL + EXPORT_ONLY
    ]
    if missing:
        raise ValidationError(
            f"the header row must name the columns {', '.join(REQUIRED)} "
            f"(missing: {', '.join(missing)})"
            + (f"; unknown: {'; '.join(unknown)}" if unknown else "")
            + f"; optional: {', '.join(OPTIONAL)}"
        )
    if unknown:
        raise ValidationError(
            f"unknown column(s): {'; '.join(unknown)} (known: {', '.join(REQUIRED + OPTIONAL)})"
        )
    rows = []
    for line in lines:
        try:
            values = next(csv.reader([line], strict=True), [])
        except csv.Error as exc:
            rows.append(_broken_row(line, header, exc))
            continue
        if not any(v.strip() for v in values):
            rows.append({})  # a blank line: kept so line numbers stay right, skipped on import
            continue
        rows.append(
            {
                name: _unguard(values[i].strip() if i < len(values) else "")
                for i, name in enumerate(header)
                if name in REQUIRED + OPTIONAL
            }
        )
        if len(rows) > MAX_ROWS:
            raise ValidationError(f"the file has more than {MAX_ROWS} rows; split it")
    if not any(rows):
        raise ValidationError("the file has a header row but no members")
    return rows


PROBLEM = "_problem"  # a row the file's own CSV could not be read from: why, in words


# What spreadsheets call our columns: a near spelling is caught by difflib, these by what they mean.
_COLUMN_WORDS = {
    "mobile": "phone",
    "cell": "phone",
    "number": "phone",
    "tel": "phone",
    "tz": "timezone",
    "zone": "timezone",
    "lang": "language",
    "first": "name",
    "alias": "name",
    "consent": "consent_source",
}


def _unknown_column(number: int, raw: str, folded: str, header: list[str]) -> str:
    """ "column 2 of line 1, 'phone_number' (did you mean phone?)": where the header names a column we do
    not know, and the known one it is nearest to (and the file does not already have)."""
    where = f"column {number} of line 1, {raw!r}"
    free = [c for c in REQUIRED + OPTIONAL if c not in header]
    squeezed = {c.replace("_", ""): c for c in free}
    bare = folded.replace("_", "").replace("-", "")
    guess = squeezed.get(bare)
    if guess is None:
        near = difflib.get_close_matches(bare, list(squeezed), n=1, cutoff=0.75)
        guess = squeezed[near[0]] if near else None
    if guess is None:  # "phone_number", "Mobile phone", "tz": a word of it names one
        parts = [p for p in folded.replace("-", "_").split("_") if p]
        guess = next((c for p in parts for c in free if p == c or _COLUMN_WORDS.get(p) == c), None)
    return f"{where} (did you mean {guess}?)" if guess else where


def _broken_row(line: str, header: list[str], exc: csv.Error) -> dict[str, str]:
    """A line whose quotes do not pair up: kept as a row with problems, its name and group as typed."""
    if line.count('"') % 2:
        why = (
            'a quote mark (") is opened and never closed on this line: remove it, or put one at the end '
            "of the cell it starts"
        )
    else:
        why = f'a quote mark (") sits inside a cell: a cell with quotes must start and end with one ({exc})'
    cells = line.rstrip("\r\n").replace('"', "").split(",")
    row = {
        name: (cells[i].strip() if i < len(cells) else "")
        for i, name in enumerate(header)
        if name in REQUIRED + OPTIONAL
    }
    row[PROBLEM] = why
    return row


def _unguard(cell: str) -> str:
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


# No member can have agreed to texts from this service before it could text them: a year such as 1890 is
# a typo (or a birth date in the wrong column), and a consent record that says it proves nothing.
EARLIEST_CONSENT = date(2000, 1, 1)


def parse_date(raw: str, today: date, where: str = "") -> date:
    """A consent date as typed, from 2000 to `today` (the date `where` names, such as "New York time")."""
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
        if day > today:
            said = f"{today:%a, %b} {today.day}, {today.year}" + (f", {where}" if where else "")
            raise ValidationError(
                f"consent_date {raw!r} is after today ({said}): type the day they agreed to texts, today or "
                "earlier; leave it empty if you do not know it"
            )
        if day < EARLIEST_CONSENT:
            raise ValidationError(
                f"consent_date {raw!r} is before {EARLIEST_CONSENT.year}: type the day they agreed to texts"
            )
        return day
    raise ValidationError(f"consent_date {raw!r} is not a date like 2026-11-30 or 11/30/2026")


def plan(
    session: Session,
    rows: list[dict[str, str]],
    *,
    today: date,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Decide every row against the members there now (read in a few queries, not one per row)."""
    groups = {g.name: g for g in session.scalars(select(Group))}
    folded = {name.casefold(): g for name, g in groups.items()}
    phones: list[str | None] = []
    for row in rows:
        try:
            phones.append(normalize_phone(row["phone"]) if row else None)
        except InvalidPhone:
            phones.append(None)
    known: dict[str, Member] = {}
    wanted = sorted({p for p in phones if p})
    for i in range(0, len(wanted), 1000):
        for m in session.scalars(
            select(Member).where(Member.phone.in_(wanted[i : i + 1000])).options(selectinload(Member.groups))
        ):
            known[m.phone] = m

    zones: dict[str, tuple[str | None, str | None]] = {}
    planned: list[PlannedRow] = []
    first_line_of: dict[str, int] = {}
    for index, (row, phone) in enumerate(zip(rows, phones)):
        if progress and index % PROGRESS_EVERY == 0:
            progress(index)
        if not row:
            continue
        line, reasons = index + 2, []
        if PROBLEM in row:
            planned.append(
                PlannedRow(
                    line,
                    "error",
                    name=row.get("name", ""),
                    group=row.get("group", ""),
                    reasons=[row[PROBLEM]],
                )
            )
            continue
        if phone is None:
            try:
                normalize_phone(row["phone"])
            except InvalidPhone as exc:
                reasons.append(f"phone: {exc}")
        elif phone in first_line_of:
            reasons.append(f"phone: the same number as line {first_line_of[phone]}")
        if phone:
            first_line_of.setdefault(phone, line)
        group = groups.get(row["group"]) or folded.get(row["group"].casefold())
        if group is None:
            reasons.append(f"unknown group: {row['group']!r}" if row["group"] else "group is empty")
        values, field_reasons = _field_values(row, zones, today)
        reasons += field_reasons
        out = PlannedRow(line, "error", name=row.get("name", ""), phone=phone, group=row["group"])
        if reasons:
            out.reasons = reasons
            planned.append(out)
            continue
        out.group, out.group_id = group.name, group.id
        out.warnings = name_warnings(values["name"])
        member = known.get(phone)
        if member is None:
            out.action = "add"
            out.values = {
                "name": values["name"],
                "language": values.get("language") or "en",
                "channel": values.get("channel") or "sms",
                "timezone": values.get("timezone", ""),
                "consent_source": values.get("consent_source", ""),
                "consent_date": values.get("consent_date", ""),
                "welcome": values.get("welcome") or "yes",
            }
        else:
            out.member_id, out.opted_out = member.id, member.status == MemberStatus.OPTED_OUT
            now = _current(member)
            out.values = {f: (values[f] if values.get(f) else now[f]) for f in FIELDS}
            out.changes = [Change(f, now[f], out.values[f]) for f in FIELDS if out.values[f] != now[f]]
            names = [g.name for g in member.groups]
            if group.id not in {g.id for g in member.groups}:
                out.changes.append(Change("group", ", ".join(names), ", ".join([*names, group.name])))
            out.action = "update" if out.changes else "unchanged"
        planned.append(out)
    if progress:
        progress(len(rows))
    _mark_stopped(session, [r for r in planned if r.action == "add"])
    in_file = {r.member_id for r in planned if r.member_id}
    group_ids = {r.group_id for r in planned if r.group_id}
    not_in_file = []
    if group_ids:
        not_in_file = [
            (member_id, name)
            for member_id, name in session.execute(
                select(Member.id, Member.display_name)
                .join(GroupMember, GroupMember.member_id == Member.id)
                .where(GroupMember.group_id.in_(group_ids), Member.erased_at.is_(None))
                .distinct()
                .order_by(Member.display_name)
            )
            if member_id not in in_file
        ]
    return Plan(planned, sum(1 for r in rows if r), not_in_file)


def name_warnings(name: str) -> list[str]:
    """A name a spreadsheet could take for a formula (=, +, - or @ first): taken, but worth a look."""
    if name and name[0] in "=+-@":
        return [f"this name starts with '{name[0]}': is that right?"]
    return []


def _current(member: Member) -> dict[str, str]:
    return {
        "name": member.display_name,
        "language": member.language,
        "channel": member.channel,
        "timezone": member.timezone or "",
        "consent_source": member.consent_source or "",
        "consent_date": member.consent_date.isoformat() if member.consent_date else "",
    }


def _field_values(
    row: dict[str, str], zones: dict[str, tuple[str | None, str | None]], today: date
) -> tuple[dict[str, str], list[str]]:
    reasons = []
    values = {"name": row.get("name", "")}
    if not values["name"]:
        reasons.append("name is missing")
    elif len(values["name"]) > 80:
        reasons.append(f"name is longer than 80 characters ({len(values['name'])})")
    try:  # "Spanish", "español", "es": the code is kept; an empty cell leaves the member's language
        values["language"] = languages.code(row.get("language"), default="")
    except ValidationError as exc:
        reasons.append(str(exc))
        values["language"] = ""
    value = (row.get("channel") or "").lower()
    if value and value not in CHANNELS:
        reasons.append(f"channel must be one of {', '.join(CHANNELS)}, not {row['channel']!r}")
    values["channel"] = value
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
        values["timezone"] = resolved or zone  # "Chicago" is stored as America/Chicago
    source = row.get("consent_source", "")
    if len(source) > CONSENT_SOURCE_MAX:
        reasons.append(f"consent_source must be at most {CONSENT_SOURCE_MAX} characters")
    values["consent_source"] = source
    if row.get("consent_date"):
        try:
            values["consent_date"] = parse_date(row["consent_date"], today).isoformat()
        except ValidationError as exc:
            reasons.append(str(exc))
    welcome = (row.get("welcome") or "").strip().lower()
    if welcome in YES or welcome in NO:
        values["welcome"] = "yes" if welcome in YES else "no"
    elif welcome:
        reasons.append(f"welcome must be yes or no (empty: yes), not {row['welcome']!r}")
    return values, reasons


def _mark_stopped(session: Session, adds: list[PlannedRow]) -> None:
    """Flag the rows to add whose number texted STOP before (checkin.consent.remember_number_opt_out):
    they are added opted out, with no welcome text, and the dry run says so."""
    dialect = session.get_bind().dialect
    digests = {row.line: crypto.digests(row.phone, dialect) for row in adds}
    wanted = sorted({d for ds in digests.values() for d in ds})
    stopped: set[str] = set()
    for i in range(0, len(wanted), 1000):
        stopped.update(
            session.scalars(
                select(NumberOptOut.phone_digest).where(NumberOptOut.phone_digest.in_(wanted[i : i + 1000]))
            )
        )
    for row in adds:
        row.stopped = any(d in stopped for d in digests[row.line])


@dataclass(frozen=True)
class Applied:
    added: int
    updated: int
    unchanged: int
    skipped: int  # rows in error
    welcomed: int = 0  # welcome texts planned (checkin.welcome: by text, not after a STOP, in their day)
    # The file's lines of the members added opted out: their number had texted STOP before (checkin.consent).
    stopped_lines: list[int] = field(default_factory=list)

    @property
    def opted_out(self) -> int:
        return len(self.stopped_lines)


def apply(session: Session, plan_: Plan, *, staff_id: int) -> Applied:
    """Write `plan_` in `session` (the caller commits it as one unit of work, or rolls it all back).

    New members are recorded as opted in by this import; an updated member's status is never touched,
    so an import cannot re-subscribe someone who opted out. Each updated member gets an audit row
    naming the fields (not their values), and each added member one saying so, for the history on
    their page."""
    from checkin.accounts import audit_many

    source = f"import:staff:{staff_id}"[:40]
    updates = plan_.of("update")
    members = {
        m.id: m
        for m in session.scalars(
            select(Member)
            .where(Member.id.in_([r.member_id for r in updates] or [-1]))
            .options(selectinload(Member.groups))
        )
    }
    groups = {g.id: g for g in session.scalars(select(Group))}
    edits: list[tuple[int | None, str | None]] = []
    added: list[Member] = []
    for row in plan_.of("add"):
        v = row.values
        member = Member(
            phone=row.phone,
            display_name=v["name"],
            language=v["language"],
            channel=v["channel"],
            timezone=v["timezone"] or None,
            consent_source=v["consent_source"] or None,
            consent_date=date.fromisoformat(v["consent_date"]) if v["consent_date"] else None,
            status=MemberStatus.ACTIVE.value,
        )
        member.groups.append(groups[row.group_id])
        member.consent_events.append(ConsentEvent(kind="opt_in", source=source))
        session.add(member)
        added.append(member)
    for row in updates:
        member, v = members[row.member_id], row.values
        member.display_name, member.language, member.channel = v["name"], v["language"], v["channel"]
        member.timezone = v["timezone"] or None
        member.consent_source = v["consent_source"] or None
        member.consent_date = date.fromisoformat(v["consent_date"]) if v["consent_date"] else None
        if row.group_id not in {g.id for g in member.groups}:
            member.groups.append(groups[row.group_id])
        fields = [c.field if c.field != "group" else f"group+{row.group_id}" for c in row.changes]
        edits.append((member.id, "import:" + ",".join(fields)))
    session.flush()
    stopped_lines = [
        row.line
        for row, m in zip(plan_.of("add"), added, strict=True)
        if consent.apply_number_opt_out(session, m)
    ]
    welcomed = _welcome(session, plan_.of("add"), added, groups)
    # Each added member's own history says who added them and how ("Added by Casey's CSV import").
    audit_many(session, "member_added", staff_id, [(m.id, "import:added") for m in added])
    audit_many(session, "member_edited", staff_id, edits)
    counts = plan_.counts
    return Applied(
        counts["add"],
        counts["update"],
        counts["unchanged"],
        counts["error"],
        welcomed,
        stopped_lines,
    )


def _welcome(session: Session, rows: list[PlannedRow], added: list[Member], groups: dict[int, Group]) -> int:
    """The welcome text to each added member whose row did not say no, by the console's own rules
    (checkin.welcome.queue: none by phone call or after a STOP, sent in their daytime)."""
    from checkin import welcome
    from checkin.db import utcnow

    now = utcnow()
    return sum(
        1
        for row, member in zip(rows, added, strict=True)
        if row.values.get("welcome", "no") == "yes"
        and welcome.queue(session, member, groups[row.group_id], now) is not None
    )


def template_csv(group: str | None = None) -> bytes:
    """The template a coordinator downloads: the header and one example row (in `group`, one of theirs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = REQUIRED + OPTIONAL
    writer.writerow(columns)
    example = {**TEMPLATE_EXAMPLE, **({"group": group} if group else {})}
    writer.writerow([example[c] for c in columns])
    return out.getvalue().encode("utf-8-sig")
