"""Facilitators answer by SMS: ACK 12, RESOLVE 12 <note>, LIST, ONCALL, OFFCALL."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin.escalation import service
from checkin.escalation.models import LIVE_STATES, Escalation
from checkin.models import Group, GroupStaff, Member, Message, OnCallWindow, StaffUser

USAGE = "Checkin: reply ACK 12 to take alert 12, RESOLVE 12 <note> when done, LIST for open alerts, ONCALL or OFFCALL."
_COMMAND = re.compile(
    r"^\s*(ack|resolve|list|on\s*call|off\s*call)(?![a-z])\s*#?\s*(\d+)?\s*[:.,-]?\s*(.*?)\s*$", re.I | re.S
)


def parse(body: str | None) -> tuple[str, int | None, str] | None:
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


def _list(session: Session, staff: StaffUser) -> str:
    query = select(Escalation).where(Escalation.state.in_(LIVE_STATES)).order_by(Escalation.id)
    if staff.role != "coordinator":
        groups = select(GroupStaff.group_id).where(GroupStaff.staff_id == staff.id)
        query = query.where(Escalation.group_id.in_(groups))
    rows = session.scalars(query.limit(6)).all()
    if not rows:
        return "No open alerts in your groups."
    parts = []
    for esc in rows[:5]:
        member = session.get(Member, esc.member_id) if esc.member_id else None
        state = esc.state
        if esc.state == "acknowledged":
            state = "taken by you" if esc.acknowledged_by == staff.id else "taken"
        parts.append(
            f"{esc.id} {esc.level} {member.first_name if member else 'member' if esc.member_id else 'not a member'} ({state})"
        )
    more = " and more" if len(rows) > 5 else ""
    return "Open: " + "; ".join(parts) + more + ". Reply ACK <n> or RESOLVE <n> <note>."
