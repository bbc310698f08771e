"""RSVPs: one per member and meeting, the latest answer wins; read by facilitators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.answers.asked import Reminder
from checkin.answers.models import Rsvp
from checkin.models import Group, GroupMember, Member


def _group_id(session: Session, member: Member, numbers: tuple[str | None, ...]) -> int | None:
    """The member's group the reminder came from: the one whose number sent it (or was texted), else
    their only (or first) group."""
    groups = session.execute(
        select(Group.id, Group.phone_number)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.member_id == member.id)
        .order_by(Group.id)
    ).all()
    for number in numbers:
        for group in groups:
            if number and group.phone_number == number:
                return group.id
    return groups[0].id if groups else None


def record(
    session: Session,
    member: Member,
    reminder: Reminder,
    answer: str,
    *,
    message_id: int | None,
    to_number: str | None,
    now: datetime,
) -> Rsvp:
    values = dict(answer=answer, message_id=message_id, answered_at=now)
    existing = _find(session, member.id, reminder.occurrence_key)
    if existing is None:
        rsvp = Rsvp(
            member_id=member.id,
            occurrence_key=reminder.occurrence_key,
            group_id=_group_id(session, member, (reminder.from_number, to_number)),
            **values,
        )
        try:
            with session.begin_nested():
                session.add(rsvp)
                session.flush()
            return rsvp
        except IntegrityError:  # the member's other answer raced in: update that one
            existing = _find(session, member.id, reminder.occurrence_key)
    for name, value in values.items():
        setattr(existing, name, value)
    session.flush()
    return existing


def _find(session: Session, member_id: int, occurrence_key: str) -> Rsvp | None:
    return session.scalar(
        select(Rsvp).where(Rsvp.member_id == member_id, Rsvp.occurrence_key == occurrence_key)
    )


def for_occurrence(session: Session, group_id: int, occurrence_key: str) -> dict[str, list[str]]:
    """Who said they are coming and who is not, by display name: what a facilitator sees."""
    rows = session.execute(
        select(Rsvp.answer, Member.display_name)
        .join(Member, Member.id == Rsvp.member_id)
        .where(Rsvp.group_id == group_id, Rsvp.occurrence_key == occurrence_key)
        .order_by(Member.display_name)
    ).all()
    out: dict[str, list[str]] = {"yes": [], "no": []}
    for row in rows:
        out[row.answer].append(row.display_name)
    return out


def counts(session: Session, group_id: int, occurrence_keys: list[str]) -> dict[str, dict[str, int]]:
    """{occurrence key: {"yes": n, "no": n}} for the given meetings of a group (only answers there are)."""
    if not occurrence_keys:
        return {}
    rows = session.execute(
        select(Rsvp.occurrence_key, Rsvp.answer, func.count())
        .where(Rsvp.group_id == group_id, Rsvp.occurrence_key.in_(occurrence_keys))
        .group_by(Rsvp.occurrence_key, Rsvp.answer)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for key, answer, n in rows:
        out.setdefault(key, {})[answer] = n
    return out
