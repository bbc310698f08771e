"""The outbox: every outbound effect is a row first, delivered later, at most once per key.

`add` is called inside the same transaction as the decision that wants the send. `deliver`
is called by a worker: it claims the row, checks consent at send time, calls the messaging
port outside any transaction, and records the outcome.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import consent, unit_of_work
from checkin.channels import Channel, UnknownChannel, phone_of
from checkin.db import utcnow
from checkin.messaging import MessagingPort, OutboundCall, OutboundSms, SendError, SendResult
from checkin.models import Member, Message, OutboxItem
from checkin.pacing import Pacer

log = logging.getLogger("checkin.outbox")

# Retry schedule for transient failures (seconds after each failed attempt). A facilitator's alert is
# retried sooner: a person is waiting for it, and one alert cannot overload the provider. Three failures
# in a row still leave an alert under 20 s late; the tail keeps trying for as long as a reminder would.
BACKOFF = (30, 120, 300, 600, 900, 900, 900)
ALERT_BACKOFF = (2, 5, 10, 30, 120, 300, 600)
MAX_ATTEMPTS = len(BACKOFF) + 1
ALERT_QUEUE, DEFAULT_QUEUE = unit_of_work.ALERT_QUEUE, unit_of_work.DEFAULT_QUEUE
UNFINISHED = "an earlier attempt did not finish"
# Our clock and the provider's may differ a little: look back this far before the row was written.
CLOCK_SKEW = timedelta(minutes=2)

# Outcome hooks, per purpose: fn(session, item, event) with event "sent" | "delivered" | "failed".
# They run inside the transaction that records the outcome (in a savepoint: a failing hook is
# logged and costs only its own writes). This is how escalation falls back to a call when an
# alert SMS fails, without the outbox knowing what an escalation is.
Hook = Callable[[Session, OutboxItem, str], None]


def fire_hooks(session: Session, item: OutboxItem, event: str, rules: SendRules) -> None:
    for hook in rules.hooks.get(item.purpose, ()):
        try:
            with session.begin_nested():
                hook(session, item, event)
        except Exception as exc:
            log.error(
                "outbox hook failed id=%s purpose=%s event=%s (%s)",
                item.id,
                item.purpose,
                event,
                type(exc).__name__,
            )


@dataclass(frozen=True)
class Cancel:
    """A gate's verdict that a row must not go out at all (e.g. a reminder for a meeting that has started)."""

    reason: str


# Send-time gates: fn(session, item, now) -> None to send now, when to try again (quiet hours; the
# voice part caps member calls in progress), or a Cancel. A held row goes back to pending unchanged.
Gate = Callable[[Session, OutboxItem, datetime], "datetime | Cancel | None"]

# How each channel's rows travel: as a message (a text; WhatsApp would be one too) or as a call.
MESSAGE, CALL = "message", "call"
TRANSPORTS: Mapping[str, str] = {Channel.SMS: MESSAGE, Channel.VOICE: CALL}


@dataclass(frozen=True)
class SendRules:
    """What every send passes and sets off, built once by the composition root (checkin.bootstrap).

    `gates` apply to every channel; `channel_gates` add what is particular to one. A row whose
    channel has no transport is refused (UnknownChannel), never sent unchecked."""

    gates: tuple[Gate, ...] = ()
    channel_gates: Mapping[str, tuple[Gate, ...]] = field(default_factory=dict)
    hooks: Mapping[str, tuple[Hook, ...]] = field(default_factory=dict)
    call_hooks: tuple[Callable, ...] = ()
    transports: Mapping[str, str] = field(default_factory=lambda: dict(TRANSPORTS))

    def transport(self, channel: str) -> str:
        found = self.transports.get(channel)
        if found is None:
            raise UnknownChannel(channel)
        return found

    def held_until(self, session: Session, item: OutboxItem, now: datetime) -> datetime | Cancel | None:
        for gate in (*self.gates, *self.channel_gates.get(item.channel, ())):
            later = gate(session, item, now)
            if later is not None:
                return later
        return None


NO_RULES = SendRules()  # consent and pacing only: for a test that wants no gate in the way


def add(
    session: Session,
    key: str,
    *,
    to: str,
    body: str | None = None,
    twiml_url: str | None = None,
    channel: str = Channel.SMS,
    purpose: str = "notice",
    queue: str = DEFAULT_QUEUE,
    member_id: int | None = None,
    staff_id: int | None = None,
    from_number: str | None = None,
    not_before: datetime | None = None,
) -> tuple[OutboxItem, bool]:
    """Write an outbox row unless one with this key exists. Returns (row, created). A channel with no
    transport in the worker's SendRules is refused when delivered, never sent unchecked."""
    channel = str(channel)
    existing = session.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == key))
    if existing is not None:
        return existing, False
    item = OutboxItem(
        idempotency_key=key,
        to_number=to,
        body=body,
        twiml_url=twiml_url,
        channel=channel,
        purpose=purpose,
        queue=queue,
        member_id=member_id,
        staff_id=staff_id,
        from_number=from_number,
        next_attempt_at=not_before or utcnow(),
    )
    # A savepoint, so a concurrent writer of the same key costs us only this row.
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        return session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == key)).one(), False
    unit_of_work.record_send(session, item.id, item.queue, item.channel)
    return item, True


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | retry | held (rate-limited or gated) | failed | cancelled | skipped
    reason: str | None = None


def claim(session: Session, item_id: int, now: datetime, lease_seconds: int) -> str | None:
    """Take the row for delivery. Only one worker wins; a row whose worker died is reclaimed after the lease."""
    token = uuid.uuid4().hex
    stale = now - timedelta(seconds=lease_seconds)
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            OutboxItem.next_attempt_at <= now,
            or_(
                OutboxItem.state == "pending",
                (OutboxItem.state == "sending") & (OutboxItem.claimed_at < stale),
            ),
        )
        .values(
            state="sending",
            claimed_at=now,
            claim_token=token,
            attempts=OutboxItem.attempts + 1,
            updated_at=now,
            # Taken over from a worker that never finished: whether its request reached the provider
            # is unknown (no error code), so deliver() asks the provider before sending again.
            last_error_code=case((OutboxItem.state == "sending", None), else_=OutboxItem.last_error_code),
            last_error=case((OutboxItem.state == "sending", UNFINISHED), else_=OutboxItem.last_error),
        )
        .execution_options(synchronize_session=False)
    )
    return token if result.rowcount == 1 else None


def deliver(
    db,
    item_id: int,
    port: MessagingPort,
    *,
    status_callback_base: str | None,
    lease_seconds: int,
    rules: SendRules,
    now=None,
    pacer: Pacer | None = None,
) -> Outcome:
    """Deliver one outbox row through `port`, in its turn on its sending number when `pacer` is given.
    Safe to call twice, from two workers, or after a crash. Consent, `rules`' gates and the pacer
    apply whatever the row's channel; a channel `rules` has no transport for raises UnknownChannel."""
    now = now or utcnow()
    with db.session() as session:
        token = claim(session, item_id, now, lease_seconds)
        if token is None:
            return Outcome("skipped", "not due, already taken or already done")
        item = session.get(OutboxItem, item_id)
        transport = rules.transports.get(item.channel)
        if transport is None:  # nothing checks or carries it: refuse loudly rather than send unchecked
            item.state, item.claim_token = "failed", None
            item.last_error = f"unknown channel {item.channel!r}"[:255]
            log.error("outbox failed id=%s: unknown channel %r", item.id, item.channel)
            session.commit()  # recorded as failed (no retry can help), then raised
            raise UnknownChannel(item.channel)
        # No error code after an attempt means we never heard back (a timeout, a dead worker): the
        # provider may have it. Then look for its copy before anything else: consent or a gate checked
        # first would record a message Twilio accepted as 'cancelled', without its SID.
        unknown = _unknown_outcome(item)
        if not unknown:
            gated = _send_time_gates(session, item, now, rules)
            if gated is not None:
                return gated
        callback = f"{status_callback_base}?outbox={item.id}" if status_callback_base else None
        if transport == CALL:
            # A member's call may reach their answering machine: wait for the beep to leave the reminder.
            request = OutboundCall(
                to=item.to_number,
                twiml_url=item.twiml_url or "",
                from_=item.from_number,
                status_callback=callback,
                outbox_id=item.id,
                machine_detection="DetectMessageEnd" if item.member_id else "Enable",
            )
        else:
            request = OutboundSms(
                to=item.to_number,
                body=item.body or "",
                from_=item.from_number,
                status_callback=callback,
                outbox_id=item.id,
            )
        attempts, member_id = item.attempts, item.member_id
        sender, channel, urgent = item.from_number, item.channel, item.queue == ALERT_QUEUE
        # Ask before sending it again, so a retry never sends it twice.
        reconcile = (item.created_at - CLOCK_SKEW, _known_sids(session, item)) if unknown else None

    if reconcile:
        try:
            found = port.find_sent(request, *reconcile)
        except SendError as exc:
            if attempts < MAX_ATTEMPTS:
                return _record_failure(db, item_id, token, exc, attempts, rules)
            found = None  # the last try: a second copy is better than a lost alert
            log.warning("outbox id=%s could not be reconciled; sending on the last attempt", item_id)
        if found is not None:
            log.info(
                "outbox reconciled id=%s sid=%s: the earlier attempt reached the provider", item_id, found.sid
            )
            return _record_sent(db, item_id, token, found, attempts, rules)
        # Not at the provider: the send-time checks now, as for a first attempt.
        with db.session() as session:
            item = session.get(OutboxItem, item_id)
            if item.claim_token != token or item.state != "sending":
                return Outcome("skipped", "claim lost")
            gated = _send_time_gates(session, item, now, rules)
            if gated is not None:
                return gated

    if pacer is not None:
        pacer.wait_turn(sender, channel, urgent=urgent)
    # Asked again just before the request leaves: a STOP may have been stored while this send waited
    # for its turn (seconds, in a fan-out at 1/s) or reconciled; the window left is one query long.
    stopped = _cancel_if_opted_out(db, item_id, token, channel, request.to, member_id)
    if stopped is not None:
        return stopped
    try:
        result = port.place_call(request) if isinstance(request, OutboundCall) else port.send_sms(request)
    except SendError as exc:
        if exc.code == 20429 or exc.http_status == 429:
            return _record_rate_limited(
                db, item_id, token, exc, pacer.hold(sender, channel) if pacer else BACKOFF[0]
            )
        return _record_failure(db, item_id, token, exc, attempts, rules)
    return _record_sent(db, item_id, token, result, attempts, rules)


def _send_time_gates(session: Session, item: OutboxItem, now: datetime, rules: SendRules) -> Outcome | None:
    """Consent (checked at send time, not when the row was written) and `rules`' gates: an Outcome if
    the row is not to be sent now, else None."""
    if consent.is_opted_out(session, item.channel, item.to_number, member_id=item.member_id):
        item.state = "cancelled"
        item.last_error = "recipient has opted out"
        log.info("outbox cancelled id=%s reason=opted_out", item.id)
        return Outcome("cancelled", item.last_error)
    later = rules.held_until(session, item, now)
    if isinstance(later, Cancel):
        item.state, item.last_error, item.claim_token = "cancelled", later.reason, None
        log.info("outbox cancelled id=%s reason=%s", item.id, later.reason)
        return Outcome("cancelled", later.reason)
    if later is not None:
        item.state, item.next_attempt_at, item.claim_token = "pending", later, None
        item.attempts -= 1  # holding back is not a failed attempt
        return Outcome("held", "held by a send-time gate")
    return None


def _cancel_if_opted_out(db, item_id: int, token: str, channel: str, to: str, member_id: int | None):
    with db.session() as session:
        if not consent.is_opted_out(session, channel, to, member_id=member_id):
            return None
        item = session.get(OutboxItem, item_id)
        if item.claim_token != token or item.state != "sending":
            return Outcome("skipped", "claim lost")
        item.state, item.claim_token = "cancelled", None
        item.last_error = "recipient has opted out"
        log.info("outbox cancelled id=%s reason=opted_out", item.id)
        return Outcome("cancelled", item.last_error)


def _unknown_outcome(item: OutboxItem) -> bool:
    return item.attempts > 1 and item.last_error_code is None


def _known_sids(session: Session, item: OutboxItem) -> frozenset[str]:
    """SIDs already recorded for other rows to this address: a match among them is not this send."""
    return frozenset(
        session.scalars(
            select(Message.provider_sid).where(
                Message.to_number == item.to_number,
                Message.provider_sid.is_not(None),
                or_(Message.outbox_id.is_(None), Message.outbox_id != item.id),
                Message.created_at >= item.created_at - CLOCK_SKEW,
            )
        )
    )


def _record_sent(
    db, item_id: int, token: str, result: SendResult, attempts: int, rules: SendRules
) -> Outcome:
    with db.session() as session:
        item = session.get(OutboxItem, item_id)
        if item.claim_token != token:
            # Reconciled by a status callback meanwhile, or reclaimed: the send stands, record the SID once.
            log.warning("outbox id=%s finished after losing its claim sid=%s", item_id, result.sid)
        item.state = "sent"
        item.provider_sid = result.sid
        item.sent_at = utcnow()
        item.last_error = None
        item.last_error_code = None
        _record_message(session, item, result.sid, result.status)
        fire_hooks(session, item, "sent", rules)  # what a hook writes goes out when this commits
    log.info("outbox sent id=%s sid=%s attempt=%s", item_id, result.sid, attempts)
    return Outcome("sent")


def _record_message(session: Session, item: OutboxItem, sid: str, status: str) -> None:
    message = session.scalar(select(Message).where(Message.provider_sid == sid))
    if message is None:
        message = session.scalar(select(Message).where(Message.outbox_id == item.id))
    if message is None:
        session.add(
            Message(
                direction="outbound",
                channel=item.channel,
                provider_sid=sid,
                member_id=item.member_id,
                staff_id=item.staff_id,
                from_number=item.from_number or "",
                to_number=item.to_number,
                body=item.body,
                status=status,
                outbox_id=item.id,
            )
        )
    elif message.provider_sid is None:
        message.provider_sid = sid


def _record_rate_limited(db, item_id: int, token: str, exc: SendError, delay: float) -> Outcome:
    """Twilio asked us to slow down: not the message's fault and not a failed attempt. Back to pending,
    due again after the number's hold (the pacer holds every worker's sends on that number too)."""
    with db.session() as session:
        item = session.get(OutboxItem, item_id)
        if item.claim_token != token or item.state != "sending":
            return Outcome("skipped", "claim lost")
        item.state = "pending"
        item.attempts -= 1
        item.claim_token = None
        item.last_error_code = exc.code or 20429
        item.last_error = exc.reason[:255]
        item.next_attempt_at = utcnow() + timedelta(seconds=delay)
    log.warning("outbox rate-limited id=%s code=%s retry in=%.1fs", item_id, exc.code, delay)
    return Outcome("held", item.last_error)


def _record_failure(db, item_id: int, token: str, exc: SendError, attempts: int, rules: SendRules) -> Outcome:
    with db.session() as session:
        item = session.get(OutboxItem, item_id)
        if item.claim_token != token or item.state != "sending":
            return Outcome("skipped", "claim lost")
        item.last_error_code = exc.code
        item.last_error = exc.reason[:255]
        if exc.transient and attempts < MAX_ATTEMPTS:
            schedule = ALERT_BACKOFF if item.queue == ALERT_QUEUE else BACKOFF
            delay = schedule[min(attempts - 1, len(schedule) - 1)]
            item.state = "pending"
            item.next_attempt_at = utcnow() + timedelta(seconds=delay)
            item.claim_token = None
            log.warning("outbox retry id=%s code=%s attempt=%s in=%ss", item_id, exc.code, attempts, delay)
            return Outcome("retry", item.last_error)
        item.state = "failed"
        if exc.code == 21610:
            phone = phone_of(item.channel, item.to_number)
            member = session.scalar(select(Member).where(Member.phone == phone))
            if member is not None:
                consent.opt_out(session, member, source="carrier:21610")
        log.warning("outbox failed id=%s code=%s attempt=%s", item_id, exc.code, attempts)
        fire_hooks(
            session, item, "failed", rules
        )  # e.g. a failed alert text falls back to a call, sent on commit
        return Outcome("failed", item.last_error)


def due_ids(
    session: Session, now: datetime, lease_seconds: int, requeue_after: int, limit: int = 1000
) -> list[tuple[int, str]]:
    """Rows a sweeper should (re-)enqueue: due and pending but not recently enqueued, or stuck in sending."""
    stale = now - timedelta(seconds=lease_seconds)
    recent = now - timedelta(seconds=requeue_after)
    rows = session.execute(
        select(OutboxItem.id, OutboxItem.queue)
        .where(
            OutboxItem.next_attempt_at <= now,
            or_(
                (OutboxItem.state == "pending")
                & or_(OutboxItem.enqueued_at.is_(None), OutboxItem.enqueued_at < recent),
                (OutboxItem.state == "sending") & (OutboxItem.claimed_at < stale),
            ),
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    ).all()
    return [(row.id, row.queue) for row in rows]


def oldest_waiting_alert(session: Session, now: datetime) -> float | None:
    """Seconds the longest-due alert has waited unsent (pending, or claimed by a worker that may be
    gone), or None. An alert that has waited a minute means nobody is being paged, whatever else says."""
    due = session.scalar(
        select(OutboxItem.next_attempt_at)
        .where(OutboxItem.queue == ALERT_QUEUE, OutboxItem.state.in_(("pending", "sending")))
        .where(OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at)
        .limit(1)
    )
    return None if due is None else (now - due).total_seconds()


def mark_enqueued(session: Session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )


def cancel_pending_for(session: Session, phone: str, reason: str, member_id: int | None = None) -> int:
    """Cancel everything not yet sent to a person, on every channel (after an opt-out)."""
    to_them = OutboxItem.to_number == phone
    if member_id is not None:
        to_them = or_(to_them, OutboxItem.member_id == member_id)
    result = session.execute(
        update(OutboxItem)
        .where(to_them, OutboxItem.state == "pending")
        .values(state="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
