"""When deciding fails: the people to tell directly, without the rules or the escalation machinery.

A bug anywhere between a member's words and an escalation must not drop a cry for help. The SMS
path and the voice path both fall back to this: an urgent alert, written straight to the outbox, to
the facilitators of the member's groups and every coordinator with a phone.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import outbox
from checkin.escalation import service as escalation
from checkin.models import GroupMember, GroupStaff, Member, StaffUser


def discard(session: Session) -> None:
    """Undo what the failed unit of work wrote; the rollback also forgets what it meant to send or
    schedule after committing (checkin.unit_of_work)."""
    session.rollback()


def recipients(session: Session, member: Member | None) -> list[StaffUser]:
    """The member's groups' facilitators and every coordinator (only coordinators for an unknown
    caller); if that is nobody, any facilitator with a phone."""
    group_ids = select(GroupMember.group_id).where(GroupMember.member_id == (member.id if member else -1))
    facilitators = select(GroupStaff.staff_id).where(GroupStaff.group_id.in_(group_ids))
    people = list(
        session.scalars(
            select(StaffUser).where(
                StaffUser.active.is_(True),
                StaffUser.phone.is_not(None),
                (StaffUser.role == "coordinator") | StaffUser.id.in_(facilitators),
            )
        ).all()
    )
    # Nobody there (no coordinator has a phone, the member's groups have no facilitator): anyone reachable.
    return people or escalation.reachable(session, None)


def alert(session: Session, people, key: str, body: str) -> None:
    """One urgent text per person, once per `key` (a retried webhook writes nothing new)."""
    for person in people:
        outbox.add(
            session,
            f"{key}:{person.id}",
            to=person.phone,
            staff_id=person.id,
            purpose="alert",
            queue=outbox.ALERT_QUEUE,
            body=body,
        )
