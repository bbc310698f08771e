"""The shared inbox: a member's free text that the service could not answer waits for a person.

`receive` is called by the inbound path (checkin.inbound), in the same transaction as the message,
for a member's text that is not a keyword, a score, an RSVP or WHEN, and not urgent or crisis (those
keep their escalation path). It files the text in the member's open conversation with the group they
wrote to and returns the honest automatic reply: who reads it and when, or, when nobody can, the
group's number and 988.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import templates
from checkin.db import utcnow
from checkin.inbox.models import OPEN_STATES, Conversation, ConversationState
from checkin.models import Group, GroupMember, GroupStaff, Member, Message, StaffUser

log = logging.getLogger("checkin.inbox")


def group_of(session: Session, member_id: int, to_number: str | None) -> Group | None:
    """The group a member wrote to: the one whose number they texted, else their first group."""
    groups = list(
        session.scalars(
            select(Group)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.member_id == member_id)
            .order_by(Group.id)
        )
    )
    return next((g for g in groups if to_number and g.phone_number == to_number), None) or (
        groups[0] if groups else None
    )


def readers(session: Session, group_id: int) -> list[StaffUser]:
    """Who can read the group's inbox: active staff who can sign in to the console, facilitators of
    the group or coordinators."""
    linked = select(GroupStaff.staff_id).where(GroupStaff.group_id == group_id)
    return list(
        session.scalars(
            select(StaffUser).where(
                StaffUser.active.is_(True),
                StaffUser.password_hash.is_not(None),
                or_(StaffUser.role == "coordinator", StaffUser.id.in_(linked)),
            )
        )
    )


def answer_hours(session: Session, group_id: int) -> float:
    from checkin.schedules.service import get_plan

    try:
        return get_plan(session, group_id).inbox_answer_hours
    except Exception as exc:  # a stored plan gone bad must not cost the member their answer
        log.error(
            "group=%s plan unreadable (%s); inbox answer time is the default", group_id, type(exc).__name__
        )
        from checkin.schedules.plan import Plan

        return Plan.__dataclass_fields__["inbox_answer_hours"].default


WITHIN = {
    "en": ("{n} minutes", "1 hour", "{n} hours", "1 day", "{n} days"),
    "es": ("{n} minutos", "1 hora", "{n} horas", "1 dia", "{n} dias"),
}


def within(hours: float, language: str) -> str:
    """'24 hours', '90 minutes', '2 days' ('24 horas' ...): how long, in the member's words."""
    minutes_, one_hour, hours_, one_day, days_ = WITHIN.get(language, WITHIN["en"])
    if hours < 1:
        return minutes_.format(n=max(1, round(hours * 60)))
    if hours > 48 and hours % 24 == 0:
        return one_day if hours == 24 else days_.format(n=int(hours // 24))
    if hours == 1:
        return one_hour
    return hours_.format(n=f"{hours:g}")


def receive(session: Session, member: Member, message: Message, now: datetime | None = None) -> str:
    """File `message` (a member's free text) in their open conversation and return the reply."""
    now = now or utcnow()
    group = group_of(session, member.id, message.to_number)
    lang, name = member.language, member.first_name
    if group is None:  # a member of no group: nobody's inbox shows them
        return templates.render("received", lang, name=name)
    conversation = _open_or_join(session, group.id, member.id, message, now)
    hours = answer_hours(session, group.id)
    staffed = hours > 0 and bool(readers(session, group.id))
    log.info(
        "inbox message=%s member=%s conversation=%s group=%s%s",
        message.id,
        member.id,
        conversation.id,
        group.id,
        "" if staffed else " (nobody reads it)",
    )
    if not staffed:
        return templates.render("inbox_unread", lang, name=name, number=group.phone_number or "988")
    return templates.render("inbox_waiting", lang, name=name, within=within(hours, lang))


def _open_or_join(session: Session, group_id: int, member_id: int, message: Message, now: datetime):
    found = open_for(session, member_id, group_id)
    if found is None:
        try:
            with session.begin_nested():  # two texts racing in: the second joins the first's
                found = Conversation(
                    group_id=group_id,
                    member_id=member_id,
                    state=ConversationState.WAITING.value,
                    unread=0,
                    messages=0,
                    opened_at=now,
                    last_message_at=now,
                )
                session.add(found)
                session.flush()
        except IntegrityError:
            found = open_for(session, member_id, group_id)
    # Counted in SQL: two texts of one member stored at once must both count.
    found.unread = Conversation.unread + 1
    found.messages = Conversation.messages + 1
    found.last_message_id, found.last_message_at = message.id, now
    return found


def open_for(session: Session, member_id: int, group_id: int | None = None) -> Conversation | None:
    query = select(Conversation).where(
        Conversation.member_id == member_id, Conversation.state.in_(OPEN_STATES)
    )
    if group_id is not None:
        query = query.where(Conversation.group_id == group_id)
    return session.scalars(query.order_by(Conversation.id)).first()


def take(session: Session, conversation: Conversation, staff_id: int, now: datetime | None = None) -> bool:
    """Assign it to `staff_id` ("I have it"). False when it was done already."""
    if conversation.state == ConversationState.DONE:
        return False
    conversation.state, conversation.assigned_to = ConversationState.TAKEN.value, staff_id
    conversation.taken_at, conversation.unread = now or utcnow(), 0
    return True


def finish(session: Session, conversation: Conversation, staff_id: int, now: datetime | None = None) -> bool:
    """Done: nothing left to answer. The member's next free text opens a new conversation."""
    if conversation.state == ConversationState.DONE:
        return False
    conversation.state, conversation.done_by = ConversationState.DONE.value, staff_id
    conversation.done_at, conversation.unread = now or utcnow(), 0
    return True


def mark_read(session: Session, member_id: int, group_ids: set[int] | None) -> int:
    """Someone who may see them opened the member's conversation: nothing in it is unread now."""
    query = update(Conversation).where(
        Conversation.member_id == member_id, Conversation.state.in_(OPEN_STATES), Conversation.unread > 0
    )
    if group_ids is not None:
        query = query.where(Conversation.group_id.in_(group_ids or [-1]))
    return session.execute(query.values(unread=0).execution_options(synchronize_session=False)).rowcount


def unread_count(session: Session, group_ids: set[int] | None) -> int:
    """Open conversations with a message nobody has read, in these groups (None: all)."""
    query = select(func.count()).where(Conversation.state.in_(OPEN_STATES), Conversation.unread > 0)
    if group_ids is not None:
        query = query.where(Conversation.group_id.in_(group_ids or [-1]))
    return session.scalar(query) or 0


def listing(session: Session, group_ids: set[int] | None, *, done: bool = False, limit: int = 200):
    """Open conversations (or the latest done ones), waiting first, newest message first."""
    states = (ConversationState.DONE.value,) if done else OPEN_STATES
    query = select(Conversation).where(Conversation.state.in_(states))
    if group_ids is not None:
        query = query.where(Conversation.group_id.in_(group_ids or [-1]))
    order = (
        (Conversation.done_at.desc(),)
        if done
        else ((Conversation.state != ConversationState.WAITING.value), Conversation.last_message_at.desc())
    )
    return list(session.scalars(query.order_by(*order, Conversation.id.desc()).limit(limit)))
