"""Consent: opting out and back in, each recorded as a ConsentEvent."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin.models import ConsentEvent, Member

log = logging.getLogger("checkin.consent")


def is_opted_out(session: Session, phone: str) -> bool:
    status = session.scalar(select(Member.status).where(Member.phone == phone))
    return status == "opted_out"


def opt_out(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    """Stop every automated message to `member` now. Returns False if they had already opted out."""
    from checkin import outbox

    already = member.status == "opted_out"
    member.status = "opted_out"
    session.add(ConsentEvent(member_id=member.id, kind="opt_out", source=source, message_id=message_id))
    cancelled = outbox.cancel_pending_for(session, member.phone, "recipient opted out")
    log.info("opt-out member=%s source=%s cancelled_outbox=%s", member.id, source, cancelled)
    return not already


def opt_in(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    was_out = member.status == "opted_out"
    member.status = "active"
    session.add(ConsentEvent(member_id=member.id, kind="opt_in", source=source, message_id=message_id))
    log.info("opt-in member=%s source=%s", member.id, source)
    return was_out
