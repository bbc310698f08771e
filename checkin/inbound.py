"""Deciding what an inbound SMS means and how to answer it. Store first, act second."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from checkin import answers, consent, keywords, outbox, templates
from checkin.db import utcnow
from checkin.escalation import commands, service as escalation
from checkin.models import GroupMember, GroupStaff, Member, Message, OutboxItem, StaffUser

log = logging.getLogger("checkin.inbound")


@dataclass(frozen=True)
class InboundSms:
    sid: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class Answer:
    reply: str | None  # None: answer with empty TwiML (nothing is texted back)
    message_id: int
    duplicate: bool = False
    # Outbox rows this message created (alerts first): enqueue them once the transaction has committed.
    outbox: tuple[OutboxItem, ...] = field(default=(), compare=False)
    # (escalation id, when): next actions to schedule, also after the commit.
    timers: tuple[tuple[int, datetime], ...] = ()
    level: str | None = None  # the risk assessment, for members' messages


def receive_sms(db, sms: InboundSms, *, context: escalation.Context | None = None, now: datetime | None = None) -> Answer:
    """Store the message exactly once, decide, and return the reply. A retried webhook gets the same reply
    (and creates nothing: its alerts were written with the first one)."""
    with db.session() as session:
        member = session.scalar(select(Member).where(Member.phone == sms.from_number))
        staff = None
        # Only look for a facilitator when it can matter: the hot path is a member's ordinary reply.
        if member is None or commands.is_command(sms.body):
            staff = session.scalar(select(StaffUser).where(StaffUser.phone == sms.from_number, StaffUser.active.is_(True)))
        message = Message(
            direction="inbound",
            channel="sms",
            provider_sid=sms.sid,
            member_id=member.id if member and staff is None else None,
            staff_id=staff.id if staff else None,
            from_number=sms.from_number,
            to_number=sms.to_number,
            body=sms.body,
            status="received",
        )
        try:
            with session.begin_nested():
                session.add(message)
                session.flush()
        except IntegrityError:
            # A retried webhook (or the same MessageSid racing in): the stored one and its answer stand.
            existing = _find(session, sms.sid)
            return Answer(existing.reply_body, existing.id, duplicate=True)
        now = now or utcnow()
        level = None
        try:
            with session.begin_nested():
                if staff is not None:
                    reply = commands.handle(session, staff, message, now, context)
                    log.info("inbound staff sms message=%s staff=%s", message.id, staff.id)
                else:
                    reply, level = decide(session, member, message, now=now, context=context, with_level=True)
                    log.info("inbound sms message=%s member=%s", message.id, member.id if member else None)
        except SQLAlchemyError:
            raise  # the database itself is failing: nothing can be stored, Twilio sees the error
        except Exception:
            # A bug in deciding must not drop a cry for help: keep the message, answer with crisis
            # resources, and page people directly.
            log.exception("deciding failed for message=%s; treated as urgent", message.id)
            outbox.forget_created(session)  # whatever it wrote was rolled back with the savepoint
            reply, level = _fail_safe(session, member, staff, message)
        message.reply_body = reply
        # Alerts first, and texts before calls: a text is the quickest way to reach a facilitator.
        created = sorted(outbox.created_in(session), key=lambda i: (i.queue != outbox.ALERT_QUEUE, i.channel != "sms", i.id))
        timers = tuple(escalation.timers_in(session))
    return Answer(reply, message.id, outbox=tuple(created), timers=timers, level=level)


def _find(session: Session, sid: str) -> Message | None:
    return session.scalar(select(Message).where(Message.provider_sid == sid))


def decide(session: Session, member: Member | None, message: Message, *, now: datetime | None = None,
           context: escalation.Context | None = None, with_level: bool = False):
    """The reply to a message (None: say nothing). Every member's message is assessed and, if it is
    urgent or a crisis, escalated, whatever else it is, opted out or not."""
    reply, level = _decide(session, member, message, now or utcnow(), context)
    return (reply, level) if with_level else reply


def _decide(session, member, message, now, context) -> tuple[str | None, str | None]:
    kind, word = keywords.classify(message.body)
    if member is None:
        # Say nothing about any group or member to a number we do not know.
        return templates.render("help" if kind == "help" else "unknown", "es" if word in ("AYUDA", "PARAR", "BAJA") else "en"), None
    verdict = escalation.assess_message(session, member, message)
    escalation.handle_verdict(session, member, message, verdict, now, context)
    return _member_reply(session, member, message, kind, word, verdict.level), verdict.level


def _member_reply(session, member, message, kind, word, level) -> str | None:
    lang, name = member.language, member.first_name
    if kind == "opt_out":
        source = f"keyword:{word}" if word != "phrase" else "phrase"
        first_time = consent.opt_out(session, member, source=source, message_id=message.id)
        # One confirmation, as carriers require; a repeated STOP gets silence.
        return templates.render("opted_out", lang) if first_time else None
    if kind == "opt_in" and member.opted_out:
        consent.opt_in(session, member, source=f"keyword:{word}", message_id=message.id)
        return templates.render("opted_in", lang, name=name)
    if member.opted_out:
        # Never text an opted-out member; what they wrote is still stored (and assessed).
        return None
    if kind == "help":
        return templates.render("help", lang)
    if level in ("crisis", "urgent"):
        return templates.render(level, lang)
    # RSVPs, WHEN, check-in scores: only now, so a crisis reply always wins.
    return answers.reply_for(session, member, message, kind, word, level) or templates.render("received", lang, name=name)


def _fail_safe(session: Session, member: Member | None, staff: StaffUser | None, message: Message) -> tuple[str | None, str]:
    """Urgent by default: a reply with 988/911 (unless opted out) and an alert to the member's group
    facilitators and every coordinator, written straight to the outbox."""
    if staff is not None:
        return None, "none"
    lang = member.language if member else "en"
    reply = None if member is not None and member.opted_out else templates.render("urgent", lang)
    group_ids = select(GroupMember.group_id).where(GroupMember.member_id == (member.id if member else -1))
    facilitators = select(GroupStaff.staff_id).where(GroupStaff.group_id.in_(group_ids))
    recipients = session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.phone.is_not(None),
                                (StaffUser.role == "coordinator") | StaffUser.id.in_(facilitators))
    ).all()
    who = member.first_name if member else "an unknown number"
    for person in recipients:
        outbox.add(session, f"alert:failsafe:{message.id}:{person.id}", to=person.phone, staff_id=person.id,
                   purpose="alert", queue=outbox.ALERT_QUEUE,
                   body=f"Checkin ALERT (urgent): a message from {who} could not be processed automatically. Please check the console, message {message.id}.")
    return reply, "urgent"
