"""Delivery status callbacks: keep each Message's status current, in order, and reconcile the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkin import consent
from checkin.db import utcnow
from checkin.messaging.errors import meaning
from checkin.models import Member, Message, OutboxItem

log = logging.getLogger("checkin.status")

# Callbacks can arrive out of order; a later stage never goes back to an earlier one.
RANK = {
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
    "canceled": 5,
}
FAILED = ("failed", "undelivered")


@dataclass(frozen=True)
class StatusUpdate:
    sid: str
    status: str
    error_code: int | None = None
    outbox_id: int | None = None
    to_number: str | None = None
    from_number: str | None = None
    # For calls: Twilio's own CallStatus (busy and no-answer both read "failed" above) and AnsweredBy.
    call_status: str | None = None
    answered_by: str | None = None


def apply(db, update: StatusUpdate, rules) -> bool:
    """Apply one callback. Returns False when nothing we know has this SID (logged, ignored).

    A final status (delivered, failed, undelivered) is passed to the outbox row's outcome hooks;
    outbox rows they create go out when this unit of work commits."""
    from checkin import outbox

    with db.session() as session:
        # Locked: two callbacks for one message (Twilio sends "sent" and "delivered" within
        # milliseconds) are applied one after the other, so a later stage is never overwritten by an
        # earlier one and a final status fires its hooks once.
        message = _locked_message(session, update.sid)
        item = session.get(OutboxItem, update.outbox_id) if update.outbox_id else None
        if item is not None and item.provider_sid not in (None, update.sid):
            item = None  # the callback's outbox id does not match the SID we recorded: trust the SID
        if message is None and item is not None:
            # The worker died after Twilio accepted the message but before it recorded the SID: the
            # callback tells us it was sent. Another callback for it may be recording it right now:
            # wait for it on the outbox row, then look again.
            session.refresh(item, with_for_update=True)
            message = _locked_message(session, update.sid)
            if message is None and item.provider_sid in (None, update.sid):
                message = _reconcile(session, item, update)
        if message is None:
            log.info("status for unknown sid=%s ignored", update.sid)
            return False
        previous = message.status
        # A text stored undecided keeps that mark until a worker decides it (checkin.intake).
        if RANK.get(update.status, 0) >= RANK.get(message.status, 0) and message.status != "undecided":
            message.status = update.status
        if update.status in FAILED and update.error_code:
            message.error_code = update.error_code
            message.error_message = meaning(update.error_code)[:255]
            if update.error_code == 21610:
                member = session.scalar(select(Member).where(Member.phone == message.to_number))
                if member is not None and member.status != "opted_out":
                    consent.opt_out(session, member, source="carrier:21610")
        final = update.status == "delivered" or update.status in FAILED
        if final and previous != update.status and message.outbox_id:
            item = session.get(OutboxItem, message.outbox_id)
            if item is not None:
                if update.status in FAILED:
                    item.last_error_code = update.error_code
                    item.last_error = meaning(update.error_code, "not delivered")[:255]
                outbox.fire_hooks(
                    session, item, "delivered" if update.status == "delivered" else "failed", rules
                )
        if update.call_status and message.outbox_id:
            _fire_call_hooks(session, session.get(OutboxItem, message.outbox_id), update, rules)
        log.info("status sid=%s status=%s code=%s", update.sid, update.status, update.error_code)
        return True


def _locked_message(session, sid: str) -> Message | None:
    return session.scalar(select(Message).where(Message.provider_sid == sid).with_for_update())


def _reconcile(session, item: OutboxItem, update: StatusUpdate) -> Message:
    """Record the send a callback tells us of, so that the sweeper does not send it again."""
    if item.state in ("sending", "pending"):
        item.state = "sent"
        item.sent_at = utcnow()
    item.provider_sid = update.sid
    message = Message(
        direction="outbound",
        channel=item.channel,
        provider_sid=update.sid,
        member_id=item.member_id,
        staff_id=item.staff_id,
        from_number=update.from_number or item.from_number or "",
        to_number=item.to_number,
        body=item.body,
        status="queued",
        outbox_id=item.id,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # The worker that sent it recorded it meanwhile (it does not wait on the outbox row's lock):
        # that row is the message.
        found = _locked_message(session, update.sid)
        if found is None:
            raise
        return found
    log.warning("status reconciled outbox=%s sid=%s", item.id, update.sid)
    return message


def _fire_call_hooks(session, item: OutboxItem | None, update: StatusUpdate, rules) -> None:
    """Call progress hooks (`rules.call_hooks`): fn(session, item, update) for every call status callback
    of an outbox call (the voice part retries member calls nobody answered)."""
    for hook in rules.call_hooks if item is not None else ():
        try:
            with session.begin_nested():
                hook(session, item, update)
        except Exception as exc:
            log.error(
                "call hook failed outbox=%s status=%s (%s)", item.id, update.call_status, type(exc).__name__
            )
