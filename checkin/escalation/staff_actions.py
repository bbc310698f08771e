"""What staff do to an escalation from the console besides ACK and RESOLVE: add a note, hand it over.

Built on service.py so the audit trail and alert bookkeeping stay in one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from checkin import outbox
from checkin.escalation import service
from checkin.escalation.models import Escalation
from checkin.models import StaffUser

NOTE_MAX = 2000


def add_note(session: Session, esc: Escalation, staff: StaffUser, note: str, now: datetime) -> service.Result:
    note = (note or "").strip()
    if not note:
        return service.Result(False, "A note cannot be empty.")
    if len(note) > NOTE_MAX:
        return service.Result(False, f"A note can be at most {NOTE_MAX} characters.")
    if not service.can_act(session, staff, esc):
        return service.Result(False, f"Escalation {esc.id} is not in one of your groups.")
    service._event(session, esc, "note", now, staff_id=staff.id, channel="console", note=note)
    return service.Result(True, "Note added.")


def reassign(
    session: Session,
    esc: Escalation,
    by: StaffUser,
    to: StaffUser,
    now: datetime,
    ctx: service.Context | None = None,
) -> service.Result:
    """Hand a live escalation to `to`, who then has it as if they had acknowledged it, and tell them by SMS."""
    ctx = service._required(ctx)
    if not service.can_act(session, by, esc):
        return service.Result(False, f"Escalation {esc.id} is not in one of your groups.")
    if not service.can_act(session, to, esc):
        return service.Result(
            False, f"{to.name} cannot take escalation {esc.id}: it is not in one of their groups."
        )
    if esc.state == "resolved":
        return service.Result(False, f"Escalation {esc.id} is already resolved.")
    if esc.state == "acknowledged" and esc.acknowledged_by == to.id:
        return service.Result(False, f"{to.name} already has escalation {esc.id}.")
    event = service._event(
        session, esc, "reassigned", now, staff_id=by.id, channel="console", detail=f"to staff:{to.id}"
    )
    session.flush()
    if esc.state == "acknowledged":
        esc.acknowledged_by, esc.acknowledged_at = to.id, now
        service._set_timer(
            session, esc, now + timedelta(minutes=ctx.group_policy(session, esc).realert_after_ack_minutes)
        )
    else:
        result = service.acknowledge(session, esc, to, now, via="console", ctx=ctx)
        if not result.ok:
            return result
    if to.phone and to.id != by.id:
        outbox.add(
            session,
            f"reassign:{esc.id}:{event.id}:{to.id}",
            to=to.phone,
            purpose=service.INFO_PURPOSE,
            queue=outbox.ALERT_QUEUE,
            staff_id=to.id,
            body=f"Checkin: ALERT {esc.id} ({esc.level}) was handed to you by {by.name}. {service.link(ctx, esc)}",
        )
    return service.Result(True, f"Escalation {esc.id} is now with {to.name}.")
