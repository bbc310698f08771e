"""The shared inbox: a member's free text that the service could not answer waits for a person.

`receive` is called by the inbound path (checkin.inbound), in the same transaction as the message,
for a member's text that is not a keyword, a score, an RSVP or WHEN, and not urgent or crisis (those
keep their escalation path). It files the text in the member's open conversation with the group they
wrote to and returns the honest automatic reply: who reads it and when, or, when nobody can, the
group's number and 988, repeated to a later text at most once per auto_replies.REPEAT_AFTER.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from checkin import templates
from checkin.auto_replies import REPEAT_AFTER
from checkin.db import utcnow
from checkin.inbox.models import OPEN_SQL, OPEN_STATES, Conversation, ConversationState
from checkin.models import Group, GroupMember, GroupStaff, Member, Message, StaffUser

log = logging.getLogger("checkin.inbox")


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


def receive(
    session: Session, member: Member, message: Message, now: datetime | None = None, *, answer: bool = True
) -> str | None:
    """File `message` (a member's free text) in their open conversation and return the reply: the
    automatic one when this text opened the conversation or when it was last given REPEAT_AFTER ago
    or more, None otherwise (checkin.auto_replies). `answer=False`: the member gets another answer to
    this text (a prompt's "reply with a number"); the text is filed, and the inbox's answer is still due.

    Two statements on every free text: one reads the group, its plan's answer time and whether anyone
    reads its inbox; one opens the conversation or joins the open one (an upsert on the index that
    allows one open conversation per member and group, so two texts racing in share one)."""
    now = now or utcnow()
    found = session.execute(
        _group_statement(), {"member_id": member.id, "to_number": message.to_number or ""}
    ).first()
    lang, name = member.language, member.first_name
    if found is None:  # a member of no group: nobody's inbox shows them
        return templates.render("received", lang, name=name)
    group_id, phone_number, overrides, has_readers = found
    conversation_id, reply_due = _open_or_join(session, group_id, member.id, message.id, now, answer)
    hours = _answer_hours(group_id, overrides)
    staffed = hours > 0 and bool(has_readers)
    log.info(
        "inbox message=%s member=%s conversation=%s group=%s%s%s",
        message.id,
        member.id,
        conversation_id,
        group_id,
        "" if staffed else " (nobody reads it)",
        "" if reply_due else " (answered lately: no repeat)",
    )
    if not reply_due:
        # Told a moment ago (checkin.auto_replies): said again only once REPEAT_AFTER has passed, so an
        # auto-responder at the other end cannot ping-pong with it, and a person writing again later
        # hears it again rather than silence for as long as the conversation stays open.
        return None
    if not staffed:  # nobody will read it, so the member must not think somebody does
        return templates.render("inbox_unread", lang, name=name, number=phone_number or "988")
    return templates.render("inbox_waiting", lang, name=name, within=within(hours, lang))


@cache  # an immutable statement, built once (SQLAlchemy caches its compiled form)
def _group_statement():
    """The group a member wrote to (as `group_of`), its stored plan overrides, and whether anyone can
    read its inbox (as `readers`), in one statement."""
    from checkin.schedules.models import ReminderPlan

    linked = select(GroupStaff.staff_id).where(GroupStaff.group_id == Group.id)
    reads = (
        select(StaffUser.id)
        .where(
            StaffUser.active.is_(True),
            StaffUser.password_hash.is_not(None),
            or_(StaffUser.role == "coordinator", StaffUser.id.in_(linked)),
        )
        .exists()
    )
    return (
        select(Group.id, Group.phone_number, ReminderPlan.overrides, reads.label("has_readers"))
        .join(GroupMember, GroupMember.group_id == Group.id)
        .outerjoin(ReminderPlan, ReminderPlan.group_id == Group.id)
        .where(GroupMember.member_id == bindparam("member_id"))
        .order_by(case((Group.phone_number == bindparam("to_number"), 0), else_=1), Group.id)
        .limit(1)
    )


def _answer_hours(group_id: int, overrides: dict | None) -> float:
    """`answer_hours` from the plan overrides read with the group (no second round trip)."""
    from checkin.schedules.plan import Plan
    from checkin.schedules.service import plan_timing

    try:
        return plan_timing(overrides).inbox_answer_hours
    except Exception as exc:  # a stored plan gone bad must not cost the member their answer
        log.error(
            "group=%s plan unreadable (%s); inbox answer time is the default", group_id, type(exc).__name__
        )
        return Plan.__dataclass_fields__["inbox_answer_hours"].default


def _open_or_join(
    session: Session, group_id: int, member_id: int, message_id: int, now: datetime, answer: bool = True
) -> tuple[int, bool]:
    """The id of the member's open conversation with the group, opened if there is none, with this
    message counted; and whether the automatic answer is due (the conversation is new, or it was last
    given REPEAT_AFTER ago or more, and is noted as given now): one INSERT ... ON CONFLICT DO UPDATE ...
    RETURNING (PostgreSQL and SQLite), so of two texts decided at once only one repeats it. `answer`
    False: the text is counted, and the answer is neither given nor noted."""
    statement = _open_or_join_statement(session.get_bind().dialect.name)
    conversation_id, reply_due = session.execute(
        statement,
        {
            "o_group_id": group_id,
            "o_member_id": member_id,
            "o_message_id": message_id,
            "o_now": now,
            "o_replied_at": now if answer else None,
            "o_repeat_from": now - REPEAT_AFTER,
        },
    ).one()
    return conversation_id, bool(reply_due)


@cache  # per dialect, built once with bound parameters (building it and its cache key cost more than running it)
def _open_or_join_statement(dialect: str):
    table = Conversation.__table__
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two databases this service runs on
        raise RuntimeError(f"no upsert for {dialect}")
    now = bindparam("o_now", type_=table.c.opened_at.type)
    repeat_from = bindparam("o_repeat_from", type_=table.c.replied_at.type)
    statement = insert(table).values(
        group_id=bindparam("o_group_id", type_=table.c.group_id.type),
        member_id=bindparam("o_member_id", type_=table.c.member_id.type),
        state=ConversationState.WAITING.value,
        unread=1,
        messages=1,
        last_message_id=bindparam("o_message_id", type_=table.c.last_message_id.type),
        opened_at=now,
        last_message_at=now,
        updated_at=now,
        replied_at=bindparam("o_replied_at", type_=table.c.replied_at.type),
    )
    # Counted in SQL: two texts of one member stored at once must both count.
    return statement.on_conflict_do_update(
        index_elements=[table.c.member_id, table.c.group_id],
        index_where=OPEN_SQL,
        set_={
            "unread": table.c.unread + 1,
            "messages": table.c.messages + 1,
            "last_message_id": statement.excluded.last_message_id,
            "last_message_at": statement.excluded.last_message_at,
            "updated_at": statement.excluded.updated_at,
            "replied_at": case(
                (
                    statement.excluded.replied_at.is_not(None)
                    & or_(table.c.replied_at.is_(None), table.c.replied_at <= repeat_from),
                    statement.excluded.replied_at,
                ),
                else_=table.c.replied_at,
            ),
        },
    ).returning(table.c.id, (table.c.replied_at == now).label("reply_due"))


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
