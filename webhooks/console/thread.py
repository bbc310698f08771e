"""A member's conversation as they saw it, oldest first: texts and calls both ways with their delivery
state in words, replies not yet sent (or refused at send time) with why, check-in scores and the
escalation's steps inline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkin.checkins import CheckIn
from checkin.escalation.models import Escalation, EscalationEvent
from checkin.inbox.models import Conversation
from checkin.models import Member, Message, OutboxItem, StaffUser
from webhooks.console.timeline import (
    LIMIT,
    STATUS_WORDS,
    Scope,
    automatic_answers,
    calls,
    recent_messages,
    status_words,
)

OUTBOX_WORDS = {"pending": "waiting to be sent", "sending": "being sent"}
# Escalation steps worth a line in the conversation (the alerts to staff are on the case's page).
SHOWN_EVENTS = {
    "opened": "case opened",
    "raised": "case raised",
    "acknowledged": "taken by",
    "resolved": "resolved by",
    "reassigned": "handed over by",
    "unacknowledged": "nobody has taken the case yet",
}


@dataclass(frozen=True)
class Line:
    at: datetime
    kind: str  # in | out | call-in | call-out | checkin | case
    status: str | None = None
    body: str | None = None
    who: str | None = None  # the staff member who wrote an outbound reply
    detail: str | None = None
    failed: bool = False
    link: int | None = None  # escalation id


def for_member(session: Session, member: Member, scope: Scope | None = None) -> list[Line]:
    """The thread; with a `scope` (a facilitator), only what happened in their groups, as on the timeline."""
    lines: list[Line] = []
    names = dict(session.execute(select(StaffUser.id, StaffUser.name)).all())
    messages = recent_messages(session, member, scope, LIMIT)
    # An automatic reply written as an outbox row is one text: shown once, as sent, with its state.
    answers = automatic_answers(session, messages)
    sent_outbox = set()
    for m in messages:
        inbound = m.direction == "inbound"
        if m.outbox_id:
            sent_outbox.add(m.outbox_id)
        if m.channel == "voice":
            continue  # calls come from the call records, with their length and outcome
        automatic = not inbound and m.outbox_id in answers
        lines.append(
            Line(
                m.created_at,
                "in" if inbound else "out",
                f"automatic reply, {status_words(m)}" if automatic else status_words(m),
                m.body,
                who="Checkin" if automatic else None if inbound else names.get(m.staff_id),
                failed=m.status in ("failed", "undelivered"),
            )
        )
        if inbound and m.reply_body and m.id not in answers.values():
            lines.append(Line(m.created_at, "out", "automatic reply", m.reply_body, who="Checkin"))
    # Sends decided but not (yet) on the wire: a reply waiting for a worker, or one stopped at send time.
    outbox = select(OutboxItem).where(OutboxItem.member_id == member.id, OutboxItem.channel == "sms")
    if scope is not None:
        outbox = outbox.where(OutboxItem.from_number.in_(scope.numbers))
    for item in session.scalars(outbox.order_by(OutboxItem.id.desc()).limit(LIMIT)):
        if item.id in sent_outbox or item.state == "sent":
            continue
        words = OUTBOX_WORDS.get(item.state) or f"not sent: {item.last_error or item.state}"
        if item.state == "pending" and item.last_error:
            words += f" (last try: {item.last_error})"
        automatic = item.id in answers
        lines.append(
            Line(
                item.created_at,
                "out",
                f"automatic reply, {words}" if automatic else words,
                item.body,
                who="Checkin" if automatic else names.get(item.staff_id) if item.purpose == "reply" else None,
                failed=item.state in ("failed", "cancelled"),
            )
        )
    for call in calls(session, member.id, scope):
        lines.append(
            Line(call.at, "call-in" if call.inbound else "call-out", call.status, detail=call.detail)
        )
    checkins = select(CheckIn).where(
        CheckIn.member_id == member.id, CheckIn.score.is_not(None), CheckIn.answered_at.is_not(None)
    )
    cases_query = select(Escalation).where(Escalation.member_id == member.id)
    if scope is not None:
        checkins = checkins.where(CheckIn.group_id.in_(scope.group_ids or [-1]))
        cases_query = cases_query.where(Escalation.group_id.in_(scope.group_ids or [-1]))
    for c in session.scalars(checkins.order_by(CheckIn.id.desc()).limit(LIMIT)):
        lines.append(Line(c.answered_at, "checkin", detail=f"check-in score {c.score} of 5"))
    cases = {e.id: e for e in session.scalars(cases_query)}
    if cases:
        for event in session.scalars(
            select(EscalationEvent)
            .where(
                EscalationEvent.escalation_id.in_(cases),
                EscalationEvent.kind.in_(SHOWN_EVENTS),
            )
            .order_by(EscalationEvent.id)
        ):
            words = SHOWN_EVENTS[event.kind]
            if event.staff_id and event.kind in ("acknowledged", "resolved", "reassigned"):
                words += f" {names.get(event.staff_id, 'staff')}"
            level = event.level or cases[event.escalation_id].level
            lines.append(
                Line(
                    event.at,
                    "case",
                    detail=f"Escalation #{event.escalation_id} ({level}): {words}",
                    link=event.escalation_id,
                )
            )
    lines.sort(key=lambda line: line.at)
    return lines


def stamp(session: Session, group_ids: set[int] | None, member_id: int | None = None) -> str:
    """A short digest of what the live pages show: it changes when any of it does."""
    conv = select(func.count(), func.max(Conversation.updated_at), func.sum(Conversation.unread))
    esc = select(func.count(), func.max(Escalation.updated_at))
    if group_ids is not None:
        conv = conv.where(Conversation.group_id.in_(group_ids or [-1]))
        esc = esc.where(Escalation.group_id.in_(group_ids or [-1]))
    parts = [tuple(session.execute(conv).one()), tuple(session.execute(esc).one())]
    if member_id is not None:
        parts.append(
            tuple(
                session.execute(
                    select(func.count(), func.max(Message.updated_at)).where(Message.member_id == member_id)
                ).one()
            )
        )
        parts.append(
            tuple(
                session.execute(
                    select(func.count(), func.max(OutboxItem.updated_at)).where(
                        OutboxItem.member_id == member_id
                    )
                ).one()
            )
        )
        parts.append(
            tuple(
                session.execute(
                    select(func.max(EscalationEvent.id))
                    .join(Escalation)
                    .where(Escalation.member_id == member_id)
                ).one()
            )
        )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


__all__ = ["STATUS_WORDS", "Line", "for_member", "stamp"]
