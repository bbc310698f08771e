"""Answers to reminders and prompts: RSVPs, WHEN, check-in scores in words.

`reply_for` is called by the inbound path after consent keywords and after any crisis/urgent reply
(those always win), for a member's ordinary message. `score_of` is what the risk assessment and the
check-in record take as the message's score. Both read the message the same way (`read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from checkin import templates
from checkin.answers import asked as asked_module
from checkin.answers import rsvp, when
from checkin.answers.asked import Asked
from checkin.answers.models import Clarification
from checkin.answers.parse import parse_rsvp, parse_score
from checkin.db import utcnow
from checkin.models import Member, Message
from checkin.rows import insert_returning_id

__all__ = ["Reading", "parse_score", "read", "reply_for", "score_of"]
_READINGS = "checkin.answers.readings"  # session.info: message id -> Reading, so a message is read once


@dataclass(frozen=True)
class Reading:
    kind: str | None  # "rsvp" | "score" | "unasked" (a bare digit when nothing was asked) | None
    score: int | None = None
    rsvp: str | None = None  # yes | no
    asked: Asked | None = None  # looked up only when the text alone cannot tell


def read(session: Session, member: Member, message: Message, now: datetime | None = None) -> Reading:
    cache = session.info.setdefault(_READINGS, {})
    if message.id in cache:
        return cache[message.id]
    now = now or utcnow()
    body = message.body
    answer, bare_digit = parse_rsvp(body)
    if message.channel == "voice":
        # A call asks its own question ("on a scale of 1 to 5") and never asks for an RSVP: a 2 pressed
        # there is a low score, whatever reminder went out today.
        answer = None
    score = parse_score(body)
    bare = message.channel != "voice" and (body or "").strip().isdigit() and len((body or "").strip()) == 1
    asked = None
    if bare:
        # A bare digit is a score or an RSVP only when one was asked: with no open prompt and no
        # reminder to answer it is neither (and not a risk: "1" is not "I feel at my lowest").
        if answer is None:
            # Not a 1 or 2, so never an RSVP: only an open prompt makes it an answer (no reminder
            # lookup, on the everyday reply to a check-in).
            unasked = asked_module.open_prompt(session, member.id, now) is None
        else:
            asked = asked_module.asked(session, member.id, now)
            unasked = asked.prompt is None and asked.reminder is None
        if unasked:
            reading = Reading("unasked", asked=asked)
            cache[message.id] = reading
            return reading
    if answer is None:
        # Most messages: a score or free text; the text says which, no lookup needed.
        reading = Reading("score", score=score) if score is not None else Reading(None)
    else:
        asked = asked or asked_module.asked(session, member.id, now)
        # A bare "1" or "2" is both a valid RSVP ("Reply 1 if you're coming, 2 if not") and a valid
        # score ("Reply 1-5"). It answers whichever question we asked last: the newest reminder sent
        # (in the last few days) against the newest check-in prompt still open. With neither it is
        # an unprompted score, as before. A word RSVP ("yes", "voy", "not coming") needs a reminder.
        if asked.reminder is not None and (not bare_digit or asked.latest == "reminder"):
            reading = Reading("rsvp", rsvp=answer, asked=asked)
        elif score is not None:
            reading = Reading("score", score=score, asked=asked)
        else:
            reading = Reading(None, asked=asked)
    cache[message.id] = reading
    return reading


def forget_reading(session: Session, message_id: int) -> None:
    """Read the message again next time (what it answers changed: its prompt was taken meanwhile)."""
    session.info.get(_READINGS, {}).pop(message_id, None)


def score_of(session: Session, member: Member, message: Message) -> int | None:
    """The message's check-in score, or None (not a score, or an RSVP that looks like one)."""
    return read(session, member, message).score


def reply_for(
    session: Session,
    member: Member,
    message: Message,
    kind: str | None,
    word: str | None,
    level: str | None,
    now: datetime | None = None,
) -> str | None:
    """The special answer to a member's message, or None for the usual reply."""
    now = now or utcnow()
    lang = member.language
    if kind == "when":
        return when.reply(session, member, message.to_number, now)
    reading = read(session, member, message, now)
    if reading.kind == "rsvp":
        rsvp.record(
            session,
            member,
            reading.asked.reminder,
            reading.rsvp,
            message_id=message.id,
            to_number=message.to_number,
            now=now,
        )
        return templates.render(f"rsvp_{reading.rsvp}", lang, name=member.first_name)
    if reading.kind == "score":
        return templates.render("checkin_thanks", lang, name=member.first_name, score=reading.score)
    if reading.kind == "unasked":
        return templates.render("digit_unasked", lang)
    if kind is None and _clarify_once(session, member, message, reading, now):
        return templates.render("checkin_clarify", lang)
    return None


def _clarify_once(
    session: Session, member: Member, message: Message, reading: Reading, now: datetime
) -> bool:
    """Free text, or a number outside 1-5, right after a check-in prompt: ask once for the number.
    The words themselves were assessed by the rules engine already, like every message."""
    if reading.asked is not None:
        asked = reading.asked
    else:  # most texts: no open prompt, and then no need to look for a reminder
        prompt = asked_module.open_prompt(session, member.id, now)
        if prompt is None:
            return False
        asked = Asked(asked_module.last_reminder(session, member.id, now), prompt)
    if asked.latest != "prompt":
        return False
    # One INSERT ... ON CONFLICT DO NOTHING (no savepoint): nothing written means asked already, or
    # being asked by a text racing in: never twice.
    written = insert_returning_id(
        session,
        Clarification,
        {"checkin_id": asked.prompt.id, "message_id": message.id, "asked_at": now},
        unless_exists="checkin_id",
    )
    return written is not None
