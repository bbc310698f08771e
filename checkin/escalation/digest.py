"""The daily digest: watch-level messages are not paged; each group's primaries on call at the
policy's local hour (by the rota) get one text a day, naming who to look in on: members whose
messages were assessed watch, and members who have stopped answering their check-in prompts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import outbox, rota
from checkin.checkins import CheckIn, missed_in_a_row
from checkin.escalation import effective
from checkin.escalation.models import AssessmentRecord
from checkin.models import Group, GroupMember, Member, StaffUser


def _window(now: datetime, tz: str, hour: int) -> tuple[datetime, datetime, str] | None:
    """The 24 hours ending at today's digest hour (local), once that hour has come."""
    local = now.astimezone(ZoneInfo(tz))
    if local.hour < hour:
        return None
    end = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return (end - timedelta(days=1)), end, end.date().isoformat()


def _gone_silent(session: Session, group_id: int, start: datetime, end: datetime) -> list[str]:
    """Members of the group whose run of missed check-in prompts grew in the window and is long
    enough for the rules engine to call it watch (history.missed_3): silence can be the signal."""
    from checkin.rules import AssessmentContext, assess

    missed_now = session.execute(
        select(Member.id, Member.display_name)
        .distinct()
        .join(CheckIn, CheckIn.member_id == Member.id)
        .join(GroupMember, GroupMember.member_id == Member.id)
        .where(
            GroupMember.group_id == group_id,
            CheckIn.state == "missed",
            CheckIn.closed_at >= start,
            CheckIn.closed_at < end,
        )
    ).all()
    runs = missed_in_a_row(session, [member_id for member_id, _ in missed_now])
    return [
        name
        for member_id, name in missed_now
        if assess("", context=AssessmentContext(missed_checkins_in_a_row=runs[member_id])).level != "none"
    ]


def _readers(session: Session, group_id: int, at: datetime) -> list[StaffUser]:
    """Who gets the group's digest: the primaries on call at the digest hour (asking at `now` would
    text it again to each shift starting later that day); with none on shift then, whoever is on
    call; with nobody, the coordinators, so that no one who may be struggling goes unnamed."""
    on_call = rota.on_call_places(session, group_id, at)
    return (
        [p.staff for p in on_call if p.link.tier == "primary"]
        or [p.staff for p in on_call]
        or list(
            session.scalars(
                select(StaffUser).where(
                    StaffUser.role == "coordinator", StaffUser.active.is_(True), StaffUser.phone.is_not(None)
                )
            )
        )
    )


def send_due(session: Session, now: datetime, ctx) -> int:
    """Write today's digest for every group whose digest hour has come. Idempotent per group, day and person."""
    written = 0
    for group in session.scalars(select(Group)):
        window = _window(now, group.timezone, effective.group_policy(session, ctx.policy, group).digest_hour)
        if window is None:
            continue
        start, end, day = window
        names = session.scalars(
            select(Member.display_name)
            .distinct()
            .join(AssessmentRecord, AssessmentRecord.member_id == Member.id)
            .join(GroupMember, GroupMember.member_id == Member.id)
            .where(
                GroupMember.group_id == group.id,
                AssessmentRecord.level == "watch",
                AssessmentRecord.created_at >= start,
                AssessmentRecord.created_at < end,
            )
        ).all()
        silent = _gone_silent(session, group.id, start, end)
        if not names and not silent:
            continue
        parts = []
        if names:
            first_names = sorted({n.split()[0] for n in names})
            many = "1 member" if len(first_names) == 1 else f"{len(first_names)} members"
            parts.append(f"{many} may be struggling (watch): {', '.join(first_names)}.")
        if silent:
            parts.append(f"Not answering check-ins: {', '.join(sorted({n.split()[0] for n in silent}))}.")
        body = f"Checkin digest, {group.name}: {' '.join(parts)} {ctx.base_url}/console"
        for person in _readers(session, group.id, end):
            _, created = outbox.add(
                session,
                f"digest:{group.id}:{day}:{person.id}",
                to=person.phone,
                body=body,
                staff_id=person.id,
                purpose="digest",
            )
            written += created
    return written
