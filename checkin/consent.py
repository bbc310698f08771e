"""Consent: opting out and back in, each recorded as a ConsentEvent."""

from __future__ import annotations

import logging

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from checkin.channels import phone_of
from checkin.models import ConsentEvent, Member, MemberStatus

log = logging.getLogger("checkin.consent")


def is_opted_out(session: Session, channel: str, address: str, *, member_id: int | None = None) -> bool:
    """Has the person at `address` on `channel` (or member `member_id`) said STOP? Consent is the
    person's: a STOP by text holds for calls too, and for an address that is not a bare number."""
    phone = phone_of(channel, address)
    whose = Member.phone == phone if member_id is None else or_(Member.phone == phone, Member.id == member_id)
    return bool(session.scalar(select(exists().where(whose, Member.status == MemberStatus.OPTED_OUT.value))))


def opt_out(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    """Stop every automated message to `member` now. Returns False if they had already opted out."""
    from checkin import outbox

    already = member.status == MemberStatus.OPTED_OUT
    member.status = MemberStatus.OPTED_OUT.value
    session.add(ConsentEvent(member_id=member.id, kind="opt_out", source=source, message_id=message_id))
    cancelled = outbox.cancel_pending_for(session, member.phone, "recipient opted out", member.id)
    log.info("opt-out member=%s source=%s cancelled_outbox=%s", member.id, source, cancelled)
    return not already


def opt_in(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    was_out = member.status == "opted_out"
    member.status = "active"
    session.add(ConsentEvent(member_id=member.id, kind="opt_in", source=source, message_id=message_id))
    log.info("opt-in member=%s source=%s", member.id, source)
    return was_out
