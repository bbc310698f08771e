"""The welcome text: the first text to a member a coordinator adds, saying who is texting, how to get
help and how to stop (config/messages.toml `welcome`).

It is an outbox row like any automated text, so consent is checked again when a worker takes it and
just before it leaves; it is written only for a member reached by text who has not opted out, and goes
in their sending window (the plan of the group whose number sends it): planned for the window's next
opening now, and held again at send time by `send_gate` if it is late."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from checkin import consent, outbox, quiet_hours, templates
from checkin.announcements.service import night_hold
from checkin.models import Group, Member, OutboxItem
from checkin.schedules.service import get_plan

PURPOSE = "welcome"


def key(member_id: int) -> str:
    return f"welcome:{member_id}"


def queue(session: Session, member: Member, group: Group, now: datetime) -> OutboxItem | None:
    """Write the welcome to `member` from `group`'s number (once per member), or None when there is none
    to send: they are reached by phone call, or they have said STOP."""
    if member.channel != "sms" or consent.is_opted_out(session, "sms", member.phone, member_id=member.id):
        return None
    plan = get_plan(session, group.id)
    zone = member.zone_in(group)
    at = quiet_hours.next_allowed(now, zone, plan.quiet_start, plan.quiet_end)
    item, _created = outbox.add(
        session,
        key(member.id),
        to=member.phone,
        body=templates.render("welcome", member.language, group=group.name),
        purpose=PURPOSE,
        member_id=member.id,
        from_number=group.phone_number,
        not_before=at,
    )
    return item


def send_gate(session: Session, item: OutboxItem, now: datetime) -> datetime | None:
    """Outbox gate: a welcome still goes only in the member's sending window."""
    if item.purpose != PURPOSE or item.member_id is None:
        return None
    return night_hold(session, item, now)
