"""Deciding what an inbound SMS means and how to answer it. Store first, act second."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import consent, keywords, templates
from checkin.models import Member, Message

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


def receive_sms(db, sms: InboundSms) -> Answer:
    """Store the message exactly once, decide, and return the reply. A retried webhook gets the same reply."""
    with db.session() as session:
        existing = _find(session, sms.sid)
        if existing is not None:
            return Answer(existing.reply_body, existing.id, duplicate=True)
        member = session.scalar(select(Member).where(Member.phone == sms.from_number))
        message = Message(
            direction="inbound",
            channel="sms",
            provider_sid=sms.sid,
            member_id=member.id if member else None,
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
            # The same MessageSid raced in on another request: theirs is the one.
            existing = _find(session, sms.sid)
            return Answer(existing.reply_body, existing.id, duplicate=True)
        reply = decide(session, member, message)
        message.reply_body = reply
        log.info("inbound sms message=%s member=%s", message.id, member.id if member else None)
        return Answer(reply, message.id)


def _find(session: Session, sid: str) -> Message | None:
    return session.scalar(select(Message).where(Message.provider_sid == sid))


def decide(session: Session, member: Member | None, message: Message) -> str | None:
    kind, word = keywords.classify(message.body)
    if member is None:
        # Say nothing about any group or member to a number we do not know.
        return templates.render("help" if kind == "help" else "unknown", "es" if word in ("AYUDA", "PARAR", "BAJA") else "en")
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
    return templates.render("received", lang, name=name)
