"""The members list with its search and filters, and CSV exports safe to open in a spreadsheet.

`find` answers the members page and the members export alike, in a fixed number of queries whatever
the roster's size: the members (text, group and status filtered in SQL), then for those members their
latest answer, their run of missed prompts and their latest scores (scores are encrypted, so the
trend is read in Python).

Exports are CSV in UTF-8 with a byte-order mark (so Excel reads accents right), every cell quoted,
and every cell that starts with = + - @ a tab or a carriage return prefixed with a single quote, as
OWASP recommends against formula injection. Phone numbers are E.164 (+12025550101), so every phone
cell reads '+12025550101: the same in every row, readable, and not a formula; the importer drops
that quote again, so an exported file imports as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from checkin.checkins import CheckIn, missed_in_a_row
from checkin.member_data.export import safe_cell  # one rule for every CSV the console writes
from checkin.models import MEMBER_STATUSES, Group, GroupMember, Member, MemberStatus

QUIET_DAYS = (7, 14, 30)  # "no check-in in N days" choices
MISSED_RUN = 3  # "missed prompts": this many or more in a row
TREND_WINDOW = 4  # the latest answer against the mean of up to this many before it (as the rules read a drop)
FALLING_BY = 1.0


@dataclass(frozen=True)
class Filters:
    q: str = ""  # part of a name, or digits of a number
    group_id: int | None = None
    quiet_days: int | None = None  # no answered check-in in this many days (or ever)
    falling: bool = False
    missed: bool = False  # MISSED_RUN or more prompts missed in a row
    status: str = ""  # active | paused | opted_out | "" (any)

    @property
    def active(self) -> bool:
        return bool(self.q or self.quiet_days or self.falling or self.missed or self.status)

    def describe(self) -> str:
        """For the audit log: which filters, by name and id only (the search text is not kept)."""
        parts = []
        if self.group_id:
            parts.append(f"group:{self.group_id}")
        if self.q:
            parts.append("text search")
        if self.quiet_days:
            parts.append(f"no check-in {self.quiet_days}d")
        if self.falling:
            parts.append("mood falling")
        if self.missed:
            parts.append(f"missed {MISSED_RUN}+")
        if self.status:
            parts.append(f"status {self.status}")
        return ", ".join(parts) or "no filter"


@dataclass
class Row:
    group_id: int
    member: Member
    last_answer: datetime | None
    missed: int
    trend: str  # falling | steady | rising | "" (too few answers)


def trend_of(scores: Sequence[int]) -> str:
    """Newest first. Falling: the latest answer is a point or more below the mean of the (up to four)
    before it."""
    if len(scores) < 2:
        return ""
    latest, before = scores[0], scores[1 : 1 + TREND_WINDOW]
    delta = latest - sum(before) / len(before)
    if delta <= -FALLING_BY:
        return "falling"
    if delta >= FALLING_BY:
        return "rising"
    return "steady"


def find(session: Session, group_ids: Iterable[int], filters: Filters, now: datetime) -> list[Row]:
    group_ids = list(group_ids)
    if filters.group_id is not None:
        group_ids = [g for g in group_ids if g == filters.group_id]
    query = (
        select(GroupMember.group_id, Member)
        .join(Member, Member.id == GroupMember.member_id)
        .where(GroupMember.group_id.in_(group_ids or [-1]))
        .order_by(Member.display_name, Member.id)
    )
    text = filters.q.strip()
    if text:
        digits = "".join(c for c in text if c.isdigit())
        wanted = [Member.display_name.ilike(f"%{_like(text)}%")]
        if len(digits) >= 3:
            wanted.append(Member.phone.contains(digits, autoescape=True))
        query = query.where(or_(*wanted))
    if filters.status in MEMBER_STATUSES:
        query = query.where(Member.status == filters.status)
    pairs = session.execute(query).all()
    ids = sorted({m.id for _, m in pairs})
    last, runs, scores = _last_answers(session, ids), _missed(session, ids), _scores(session, ids)
    rows = []
    since = now - timedelta(days=filters.quiet_days) if filters.quiet_days else None
    asked = _asked(session, ids) if since else set()
    for group_id, member in pairs:
        row = Row(
            group_id, member, last.get(member.id), runs.get(member.id, 0), trend_of(scores.get(member.id, []))
        )
        if since and row.last_answer is not None and row.last_answer >= since:
            continue
        # "No check-in in N days" is about members who could have answered: not someone added within
        # those days and never asked yet, nor someone who opted out (unless the status filter asks).
        if since and member.id not in asked and member.created_at and member.created_at >= since:
            continue
        if since and member.status == MemberStatus.OPTED_OUT.value and filters.status != member.status:
            continue
        if filters.falling and row.trend != "falling":
            continue
        if filters.missed and row.missed < MISSED_RUN:
            continue
        rows.append(row)
    return rows


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chunks(ids: list[int], size: int = 1000):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _asked(session: Session, ids: list[int]) -> set[int]:
    """The members who were ever sent a check-in."""
    out: set[int] = set()
    for chunk in _chunks(ids):
        out.update(session.scalars(select(CheckIn.member_id).where(CheckIn.member_id.in_(chunk)).distinct()))
    return out


def _last_answers(session: Session, ids: list[int]) -> dict[int, datetime]:
    out = {}
    for chunk in _chunks(ids):
        out.update(
            session.execute(
                select(CheckIn.member_id, func.max(CheckIn.answered_at))
                .where(CheckIn.member_id.in_(chunk), CheckIn.state == "answered")
                .group_by(CheckIn.member_id)
            ).all()
        )
    return out


def _missed(session: Session, ids: list[int]) -> dict[int, int]:
    out = {}
    for chunk in _chunks(ids):
        out.update(missed_in_a_row(session, chunk, limit=MISSED_RUN))
    return out


def _scores(session: Session, ids: list[int]) -> dict[int, list[int]]:
    """Each member's latest answered scores, newest first (at most TREND_WINDOW + 1)."""
    out: dict[int, list[int]] = {}
    for chunk in _chunks(ids):
        ranked = (
            select(
                CheckIn.member_id,
                CheckIn.score,
                func.row_number()
                .over(partition_by=CheckIn.member_id, order_by=CheckIn.answered_at.desc())
                .label("n"),
            )
            .where(
                CheckIn.member_id.in_(chunk), CheckIn.state == "answered", CheckIn.answered_at.is_not(None)
            )
            .subquery()
        )
        for member_id, score in session.execute(
            select(ranked.c.member_id, ranked.c.score)
            .where(ranked.c.n <= TREND_WINDOW + 1)
            .order_by(ranked.c.member_id, ranked.c.n)
        ):
            if isinstance(score, int):
                out.setdefault(member_id, []).append(score)
    return out


# --- CSV -------------------------------------------------------------------------------------------


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


MEMBER_COLUMNS = (
    "group",
    "phone",
    "name",
    "language",
    "channel",
    "timezone",
    "consent_source",
    "consent_date",
    "status",
    "last_check_in",
    "missed_in_a_row",
    "mood_trend",
)


def members_csv(rows: list[Row], groups: dict[int, Group], zone_of) -> bytes:
    """The members export: the import's columns first (so it imports back), then what it only reports.
    `zone_of(row)` names the zone a row's times are written in."""
    return to_csv(
        MEMBER_COLUMNS,
        (
            (
                groups[r.group_id].name,
                r.member.phone or "",
                r.member.display_name,
                r.member.language,
                r.member.channel,
                r.member.timezone or "",
                r.member.consent_source or "",
                r.member.consent_date.isoformat() if r.member.consent_date else "",
                r.member.status,
                r.last_answer.astimezone(zone_of(r)).strftime("%Y-%m-%d %H:%M") if r.last_answer else "",
                r.missed,
                r.trend,
            )
            for r in rows
        ),
    )


CHECKIN_COLUMNS = ("member", "member_id", "asked", "answered", "by", "state", "score", "words")


def checkins(session: Session, group_id: int, since: datetime | None) -> list[tuple[CheckIn, str]]:
    """A group's check-ins (with the member's name), oldest first."""
    # An answer nobody prompted for has no group: it counts for the groups its member is in.
    members_of_group = select(GroupMember.member_id).where(GroupMember.group_id == group_id)
    query = (
        select(CheckIn, Member.display_name)
        .join(Member, Member.id == CheckIn.member_id)
        .where(
            or_(
                CheckIn.group_id == group_id,
                and_(CheckIn.group_id.is_(None), CheckIn.member_id.in_(members_of_group)),
            )
        )
        .order_by(func.coalesce(CheckIn.prompted_at, CheckIn.answered_at, CheckIn.created_at), CheckIn.id)
    )
    if since is not None:
        query = query.where(
            func.coalesce(CheckIn.prompted_at, CheckIn.answered_at, CheckIn.created_at) >= since
        )
    return [(c, name) for c, name in session.execute(query).all()]


def checkins_csv(found: list[tuple[CheckIn, str]], zone, *, words: bool) -> bytes:
    """Times in the group's zone, as 2026-12-03 14:14; the members' words only when asked for."""

    def when(at):
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""

    columns = CHECKIN_COLUMNS if words else CHECKIN_COLUMNS[:-1]
    return to_csv(
        columns,
        (
            (
                name,
                c.member_id,
                when(c.prompted_at),
                when(c.answered_at),
                "phone call" if c.channel == "voice" else "text",
                c.state,
                c.score if c.score is not None else "",
                *((c.words or "",) if words else ()),
            )
            for c, name in found
        ),
    )
