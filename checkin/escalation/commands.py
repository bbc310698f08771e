"""Facilitators answer by SMS: ACK 12, RESOLVE 12 <note>, R 12 <text>, LIST, ONCALL, OFFCALL."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from checkin.escalation import service
from checkin.escalation.models import LIVE_STATES, Escalation
from checkin.models import Group, GroupStaff, Member, Message, OnCallWindow, StaffUser

USAGE = "Checkin: reply ACK 12 to take alert 12, RESOLVE 12 <note> when done, R 12 <text> to text the member, LIST for open alerts, ONCALL or OFFCALL."
_COMMAND = re.compile(
    r"^\s*(ack|resolve|list|on\s*call|off\s*call)(?![a-z])\s*#?\s*(\d+)?\s*[:.,-]?\s*(.*?)\s*$", re.I | re.S
)
# R 12 <text>: a reply to case 12's member. The case number is required, so "r u there" stays words.
_REPLY = re.compile(r"^\s*r(?:eply)?\s*#?\s*(\d+)(?![\d])\s*[:.,-]?\s*(.*?)\s*$", re.I | re.S)


def parse(body: str | None) -> tuple[str, int | None, str] | None:
    reply = _REPLY.match(body or "")
    if reply:
        number, rest = reply.groups()
        return "R", (int(number) if len(number) < 10 else None), rest
    match = _COMMAND.match(body or "")
    if not match:
        return None
    word, number, rest = match.groups()
    return re.sub(r"\s+", "", word).upper(), (int(number) if number and len(number) < 10 else None), rest


def is_command(body: str | None) -> bool:
    return parse(body) is not None


def handle(
    session: Session, staff: StaffUser, message: Message, now: datetime, ctx: service.Context | None = None
) -> str:
    parsed = parse(message.body)
    if parsed is None:
        return USAGE
    word, number, rest = parsed
    if word == "R":
        return _reply(session, staff, message, number, rest, now)
    if word in ("ACK", "RESOLVE"):
        if number is None:
            return f"Which alert? Reply {word} and its number, e.g. {word} 12."
        esc = session.get(Escalation, number)
        if esc is None or not service.can_act(session, staff, esc):
            # Same answer for "no such alert" and "not yours": the number says nothing about other groups.
            return f"There is no alert {number} in your groups. Reply LIST for yours."
        if word == "ACK":
            return service.acknowledge(session, esc, staff, now, via="sms", ctx=ctx).reply
        return service.resolve(session, esc, staff, now, rest or None, via="sms").reply
    if rest or number is not None:
        return USAGE
    if word == "LIST":
        return _list(session, staff)
    links = session.scalars(select(GroupStaff).where(GroupStaff.staff_id == staff.id)).all()
    if not links:
        return "You are not on any group's rota. Ask a coordinator to add you."
    for gs in links:
        gs.on_call = word == "ONCALL"
    names = ", ".join(sorted(session.get(Group, gs.group_id).name for gs in links))
    if (
        word == "ONCALL"
        and session.scalar(
            select(OnCallWindow.id)
            .where(OnCallWindow.staff_id == staff.id, OnCallWindow.kind != "away")
            .limit(1)
        )
        is not None
    ):
        return (
            f"You are now ON call for {names}, during your shifts."  # OFFCALL overrides; ONCALL only lifts it
        )
    return f"You are now {'ON' if word == 'ONCALL' else 'OFF'} call for {names}."


LIST_SHOWN = 5


def _list(session: Session, staff: StaffUser) -> str:
    """What needs this person first: cases nobody has taken, crisis before urgent (oldest first), then
    the ones they hold; how many more there are, and how many others hold. Their groups' cases, and
    any case they were paged for or hold outside them."""
    query = select(Escalation).where(Escalation.state.in_(LIVE_STATES))
    if staff.role != "coordinator":
        groups = select(GroupStaff.group_id).where(GroupStaff.staff_id == staff.id)
        query = query.where(or_(Escalation.group_id.in_(groups), service.paged_or_holding(staff.id)))
    live = session.scalars(query).all()

    def rank(esc: Escalation) -> int:
        if esc.state != "acknowledged":
            return 0 if esc.level == "crisis" else 1
        return 2 if esc.acknowledged_by == staff.id else 3

    wanted = sorted((e for e in live if rank(e) < 3), key=lambda e: (rank(e), e.opened_at, e.id))
    others = sum(rank(e) == 3 for e in live)
    if not wanted:
        if others:
            return f"No open alerts need you: {others} taken by others. Reply LIST again later."
        return "No open alerts in your groups."
    parts = []
    for esc in wanted[:LIST_SHOWN]:
        member = session.get(Member, esc.member_id) if esc.member_id else None
        who = member.first_name if member else "not a member"
        state = "taken by you" if esc.state == "acknowledged" else "not taken"
        parts.append(f"{esc.id} {esc.level} {who} ({state})")
    more = len(wanted) - LIST_SHOWN
    tail = f"; {more} more" if more > 0 else ""
    if others:
        tail += f"; {others} taken by others"
    return "Open: " + "; ".join(parts) + tail + ". Reply ACK <n> or RESOLVE <n> <note>."


def _reply(session: Session, staff: StaffUser, message: Message, number: int | None, text: str, now) -> str:
    """R 12 <text>: text case 12's member from their group's number. Only whoever holds the case (ACK)
    or a coordinator may; the answer is a short confirmation or why not."""
    from checkin.accounts import audit
    from checkin.inbox import replies

    esc = session.get(Escalation, number) if number is not None else None
    if esc is None or not service.can_act(session, staff, esc):
        return f"There is no alert {number} in your groups. Reply LIST for yours."
    # Whoever took it, while it is theirs or after they resolved it (a last word to the member).
    holder = esc.acknowledged_by == staff.id and esc.state in ("acknowledged", "resolved")
    if staff.role != "coordinator" and not holder:
        return f"Take alert {esc.id} first (ACK {esc.id}): only whoever holds it, or a coordinator, may text the member."
    member = session.get(Member, esc.member_id) if esc.member_id else None
    if member is None:
        return f"Alert {esc.id} is not a member's: call the number in the alert instead."
    if not text:
        return f"Nothing to send. Reply R {esc.id} and your text, e.g. R {esc.id} I will call you at 6."
    group = session.get(Group, esc.group_id) if esc.group_id else None
    try:
        sent = replies.send(
            session,
            member=member,
            group=group,
            staff=staff,
            body=text,
            key=f"reply:sms:{message.id}",
            now=now,
        )
    except replies.ReplyRefused as exc:
        audit(session, "reply_refused", staff.id, member_id=member.id, escalation_id=esc.id, detail="by sms")
        return f"Not sent: {exc}"
    audit(
        session,
        "reply",
        staff.id,
        member_id=member.id,
        escalation_id=esc.id,
        detail=f"by sms, outbox {sent.outbox_id}",
    )
    parts = f"{sent.segments} texts" if sent.segments != 1 else "1 text"
    return f"Sent to {member.first_name} (alert {esc.id}) from {group.name}'s number, {parts}."
