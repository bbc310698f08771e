"""Deciding what an inbound SMS means and how to answer it. Store first, act second."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from checkin import answers, auto_replies, consent, keywords, templates, text_language
from checkin.answers import asked
from checkin.answers.parse import parse_rsvp, parse_score
from checkin.channels import Channel, phone_of
from checkin.checkins import (
    ANSWER_FIELDS,
    ANSWER_WINDOW,
    OPEN_LITERAL,
    CheckIn,
    answered_values,
    open_prompt_id,
)
from checkin.db import connection_lost, utcnow
from checkin.escalation import commands, failsafe
from checkin.escalation import service as escalation
from checkin.escalation.models import AssessmentRecord
from checkin.inbox import conversations as inbox
from checkin.models import ConsentEvent, Member, Message, OutboxItem, StaffUser
from checkin.rows import adopt, from_row, insert_returning_id, load_one, update_by_id

log = logging.getLogger("checkin.inbound")


@dataclass(frozen=True)
class InboundMessage:
    """One message in, whatever carried it: a webhook adapter turns its provider's form into this.
    `from_number` and `to_number` are addresses on `channel` (phone numbers for SMS)."""

    sid: str
    from_number: str
    to_number: str
    body: str
    channel: str = Channel.SMS.value
    # When it reached us, if earlier than now: a request spooled while storage failed, replayed later.
    received_at: datetime | None = None
    media: int = 0  # pictures or other files it carried (read by its words; alone, see _member_reply)


InboundSms = InboundMessage  # what the SMS webhook and the simulator build


@dataclass(frozen=True)
class Answer:
    reply: str | None  # None: answer with empty TwiML (nothing is texted back)
    message_id: int
    duplicate: bool = False
    level: str | None = None  # the risk assessment, for members' messages


# `receive_sms(replied=...)` not given: store the reply decided now.
DECIDED = object()


def receive_sms(
    db,
    sms: InboundSms,
    *,
    context: escalation.Context | None = None,
    now: datetime | None = None,
    replied: str | object | None = DECIDED,
) -> Answer:
    """Store the message exactly once, decide, and return the reply. A retried webhook gets the same reply
    (and creates nothing: its alerts were written with the first one).

    `replied`: what the member was already answered (a spooled request replayed once storage works
    again): kept with the message instead of the reply decided now, which nobody will see."""
    try:
        return _receive(db, sms, context, now, replied)
    except SQLAlchemyError as exc:
        if not connection_lost(exc):
            raise
        # The connection had died (a database restart, a terminated backend, a pool that cannot
        # reconnect): nothing was stored with it. Twilio does not retry an SMS webhook, so do it here,
        # once, on a fresh connection; the MessageSid claim makes a second run safe even if the first
        # one's commit did land. If this fails too, the webhook spools the request (webhooks.intake).
        log.warning(
            "database connection lost while receiving (%s); retrying once (sid=%s)",
            type(exc).__name__,
            sms.sid,
        )
        return _receive(db, sms, context, now, replied)


def _receive(
    db, sms: InboundSms, context: escalation.Context | None, now: datetime | None, replied=DECIDED
) -> Answer:
    now = now or utcnow()
    with db.session() as session:
        if session.get_bind().dialect.name == "postgresql" and not commands.is_command(sms.body):
            # The hot path, a member's reply: look the member up and claim the MessageSid in one statement.
            member, message = _claim_as_member(session, sms, now)
            staff = _staff(session, sms.from_number) if member is None else None
            if staff is not None and message is not None:
                _set_sender(session, message, staff_id=staff.id)
        else:
            member = load_one(session, Member, Member.phone, sms.from_number)
            # A facilitator who is also a member writes as a member, unless it is a command.
            staff = (
                _staff(session, sms.from_number) if member is None or commands.is_command(sms.body) else None
            )
            message = _claim(
                session,
                sms,
                member_id=member.id if member and staff is None else None,
                staff_id=staff.id if staff else None,
            )
        if message is None:
            return _duplicate(session, sms.sid)
        sender = dict(member_id=message.member_id, staff_id=message.staff_id)
        # Failing, the message is stored again (a retry of this MessageSid stored meanwhile: its answer stands).
        decided = decide_or_fail_safe(
            session, member, staff, message, now, context, lambda: _claim(session, sms, **sender)
        )
        if decided is None:
            return _duplicate(session, sms.sid)
        message, reply, level, record = decided
        if staff is not None:
            log.info("inbound staff sms message=%s staff=%s", message.id, staff.id)
        else:
            log.info("inbound sms message=%s member=%s", message.id, member.id if member else None)
        if replied is not DECIDED:
            reply = replied  # what the member was told when it arrived (the spool's answer)
        _store_reply(session, message, reply, record)
    # Committed: the unit of work has handed the alerts and timers this decided to its dispatcher.
    return Answer(reply, message.id, level=level)


def decide_or_fail_safe(session, member, staff, message, now, context, store_again):
    """Decide a stored text: a facilitator's command, or a member's (or a stranger's) words, whose
    assessment is written with the reply in one statement (`_store_reply`). Returns (message, reply,
    level, assessment record), or None when `store_again` finds the text taken meanwhile.

    A bug in deciding must not drop a cry for help: the message is kept (`store_again`, since whatever
    deciding wrote is undone with the whole transaction, cheaper on every request than a savepoint),
    answered with crisis resources, and people are paged directly. A failing database is raised: nothing
    can be stored (the webhook's caller sees the error; a stored text stays for the sweeper)."""
    try:
        if staff is not None:
            reply, level = _staff_message(session, staff, message, now, context)
            return message, reply, level, None
        return (message, *_decide(session, member, message, now, context, write=False))
    except SQLAlchemyError:
        raise
    except Exception:
        log.exception("deciding failed for message=%s; treated as urgent", message.id)
        failsafe.discard(session)
        message = store_again()
        if message is None:
            return None
        reply, level = _fail_safe(session, member, staff, message)
        return message, reply, level, None


def _staff(session: Session, phone: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.phone == phone, StaffUser.active.is_(True)))


def _message_values(sms: InboundSms, *, member_id: int | None, staff_id: int | None) -> dict:
    now = utcnow()
    received = sms.received_at if sms.received_at is not None and sms.received_at < now else now
    return dict(
        direction="inbound",
        channel=sms.channel,
        provider_sid=sms.sid,
        member_id=member_id,
        staff_id=staff_id,
        from_number=sms.from_number,
        to_number=sms.to_number,
        body=sms.body,
        media_count=sms.media or None,  # None when 0 (no files): the column says how many came, if any
        reply_body=None,
        status="received",
        error_code=None,
        error_message=None,
        outbox_id=None,
        created_at=received,
        updated_at=now,
    )


def _claim(
    session: Session, sms: InboundSms, *, member_id: int | None, staff_id: int | None
) -> Message | None:
    """Store the inbound message unless its MessageSid is stored already: one INSERT ... ON CONFLICT DO
    NOTHING, which also waits out a concurrent insert of the same SID. Returns the stored message
    (persistent in `session`, no reload) or None for a duplicate."""
    values = _message_values(sms, member_id=member_id, staff_id=staff_id)
    message_id = insert_returning_id(session, Message, values, unless_exists="provider_sid")
    if message_id is None:
        return None
    return adopt(
        session, Message, dict(values, id=message_id)
    )  # the reply is added to it later, as an UPDATE


def _claim_as_member(
    session: Session, sms: InboundSms, now: datetime
) -> tuple[Member | None, Message | None]:
    """PostgreSQL: `_claim` with member_id from the sender's number, the member's row and their open
    check-in prompt's row, in one statement (a data-modifying CTE): three round trips fewer on every
    member's answer to a prompt, two on any other message. A bare 3, 4 or 5 (never an RSVP, so the open
    prompt's answer) is also recorded on that prompt there, with the member's recent scores read for the
    rules: one more round trip fewer on the everyday answer to a check-in."""
    values = _message_values(sms, member_id=None, staff_id=None)
    params = {f"v_{k}": values[k] for k in _CLAIMED_COLUMNS}
    score = asked.certain_score(sms.body) if sms.channel == Channel.SMS.value else None
    answer = _recorded_answer_values(score, values["updated_at"])
    reminder = _reminder_wanted(sms.body) if score is None else None
    row = (
        session.connection()
        .execute(
            _claim_as_member_statement(),
            {
                "phone": sms.from_number,
                "prompt_since": now - ANSWER_WINDOW,
                "a_record": score is not None,
                "r_want": reminder is not None,
                "r_rsvp": bool(reminder),
                "r_since": now - asked.RSVP_WINDOW,
                **params,
                **{f"a_{k}": v for k, v in answer.items()},
            },
        )
        .one()
        ._mapping
    )
    member = None
    if row["id"] is not None:
        member = from_row(session, Member, {c.name: row[c.name] for c in Member.__table__.c})
        prompt = None
        if row["open_checkin_id"] is not None:
            prompt = from_row(session, CheckIn, {c.name: row[f"p_{c.name}"] for c in CheckIn.__table__.c})
        taken = (
            score is not None
            and row["message_id"] is not None
            and row["open_checkin_id"] is not None
            and row["answered_id"] is None
        )
        if taken:
            # Read open, but answered by a concurrent text before this one could record its answer on
            # it: this text finds the open prompt left, if any (an older one), as it would a moment later.
            log.info(
                "open prompt=%s answered concurrently; message=%s", row["open_checkin_id"], row["message_id"]
            )
            asked.open_prompt_again(session, member.id, now)
        else:
            asked.remember_open_prompt(session, member.id, row["open_checkin_id"], prompt)
        if reminder is not None and (reminder or row["open_checkin_id"] is not None):
            # Read when wanted: an RSVP's words, or a text that may need "reply with a number".
            found = (
                None if row["r_id"] is None else _ReminderRow(*(row[f"r_{k}"] for k in _ReminderRow._fields))
            )
            asked.remember_last_reminder(session, member.id, found)
    if row["message_id"] is None:
        return member, None
    if row["answered_id"] is not None:
        history = tuple(row["recent_scores"] or ())  # newest first in the statement's order: reversed
        asked.remember_recorded_answer(
            session,
            member.id,
            row["message_id"],
            row["answered_id"],
            dict(answer, message_id=row["message_id"]),
            history[::-1],
        )
    values["member_id"] = member.id if member else None
    return member, adopt(session, Message, dict(values, id=row["message_id"]))


# What the claiming statement binds of `_message_values`: member_id comes from the sender's row, and the
# columns it always leaves None (staff_id, reply_body, error_code, ...) are left out, NULL as none has a
# default. Fewer and shorter: psycopg caches its parse of a statement only up to 4096 characters.
_CLAIMED_COLUMNS = (
    *(
        k
        for k, v in _message_values(InboundSms("SM", "", "", ""), member_id=None, staff_id=None).items()
        if k != "member_id" and v is not None
    ),
    # None for a text without files, so the line above left it out, and a crisis, STOP or HELP sent
    # with a picture (answered here, never stored undecided) lost how many files it carried.
    "media_count",
)


class _ReminderRow(NamedTuple):
    id: int
    idempotency_key: str
    sent_at: datetime
    from_number: str | None


def _reminder_wanted(body: str | None) -> bool | None:
    """Whether reading this text will ask for the member's last reminder: None, it will not (a keyword
    answered as such, or a score in words: "4 good week"); True, it will (an RSVP's words, a YES included,
    or a bare 1 or 2, which answer the newest question); False, only if they have an open prompt (free
    text may get "reply with a number")."""
    if keywords.classify(body)[0] not in (None, "opt_in"):  # an opt-in is read as an RSVP once opted in
        return None
    if parse_rsvp(body)[0] is not None:
        return True
    return None if parse_score(body) is not None else False


# What recording a bare score on its prompt sets in the claiming statement (checkin.checkins'), but
# message_id: the statement takes the new message's id.
_ANSWER_FIELDS = tuple(name for name in ANSWER_FIELDS if name != "message_id")


def _recorded_answer_values(score: int | None, now: datetime) -> dict:
    if score is None:
        return dict.fromkeys(_ANSWER_FIELDS)
    values = answered_values(now, channel=Channel.SMS.value, score=score)  # words: the text is the score
    del values["message_id"]
    return values


@cache  # built once: an immutable statement, compiled and cached by SQLAlchemy after that
def _claim_as_member_statement():
    # Constants are written into the SQL (literal_column), not bound: fewer parameters to process on
    # every text, and a shorter statement (see _CLAIMED_COLUMNS).
    from sqlalchemy import Boolean, bindparam, exists, func, literal_column, or_, true, update
    from sqlalchemy.dialects.postgresql import aggregate_order_by
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    from checkin.escalation.models import AssessmentRecord

    members, messages, checkins = Member.__table__, Message.__table__, CheckIn.__table__
    sender = select(members).where(members.c.phone == bindparam("phone")).cte("sender")
    # The columns `_message_values` sets (any other column gets its default, as with `_claim`).
    names = _CLAIMED_COLUMNS
    claimed = (
        pg_insert(messages)
        .values(
            {name: bindparam(f"v_{name}", type_=messages.c[name].type) for name in names}
            | {"member_id": select(sender.c.id).scalar_subquery()}
        )
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(messages.c.id)
        .cte("claimed")
    )
    since = bindparam("prompt_since", type_=CheckIn.prompted_at.type)
    record = bindparam("a_record", type_=Boolean)
    # A bare 3-5 (`a_record`) stored now (not a retry) is its open prompt's answer: recorded here, as
    # `_history_recording_answer` would after reading the text (it finds it done: `recorded_answer`).
    answered = (
        update(checkins)
        .where(
            checkins.c.id == open_prompt_id(select(sender.c.id).scalar_subquery(), since),
            # Checked again on the row itself: a concurrent answer that took the prompt first (its
            # commit awaited on the row's lock) leaves it answered, and this text then answers nothing.
            checkins.c.state == OPEN_LITERAL,
            record,
            exists(select(claimed.c.id)),
        )
        .values(
            {name: bindparam(f"a_{name}", type_=checkins.c[name].type) for name in _ANSWER_FIELDS}
            | {"message_id": select(claimed.c.id).scalar_subquery()}
        )
        .returning(checkins.c.id)
        .cte("answered")
    )
    # The member's last five scores, for the rules (as `_history` reads them; this message has none yet).
    assessments = AssessmentRecord.__table__
    recent = (
        select(assessments.c.id, assessments.c.score)
        .where(
            record,
            assessments.c.member_id == select(sender.c.id).scalar_subquery(),
            assessments.c.score.is_not(None),
        )
        .order_by(assessments.c.id.desc())
        .limit(literal_column("5"))
        .subquery("recent")
    )
    recent_scores = select(
        func.array_agg(aggregate_order_by(recent.c.score, recent.c.id.desc()))
    ).scalar_subquery()
    open_prompt = open_prompt_id(sender.c.id, since)
    prompt = CheckIn.__table__.alias("prompt")
    # The member's last reminder, as `asked.last_reminder` reads it, when reading the text will ask
    # (`_reminder_wanted`): an RSVP's words, or free text after a prompt.
    outbox = OutboxItem.__table__
    reminder = (
        select(outbox.c.id, outbox.c.idempotency_key, outbox.c.sent_at, outbox.c.from_number)
        .where(
            bindparam("r_want", type_=Boolean),
            or_(bindparam("r_rsvp", type_=Boolean), prompt.c.id.is_not(None)),
            outbox.c.member_id == sender.c.id,
            outbox.c.purpose == literal_column("'reminder'"),
            outbox.c.idempotency_key.like(
                func.concat(literal_column("'reminder:'"), sender.c.id, literal_column("':%'"))
            ),
            outbox.c.sent_at.is_not(None),
            outbox.c.sent_at >= bindparam("r_since", type_=outbox.c.sent_at.type),
        )
        .order_by(outbox.c.sent_at.desc())
        .limit(literal_column("1"))
        .lateral("reminder")
    )
    one = select(literal_column("1").label("one")).subquery("one")
    return select(
        select(claimed.c.id).scalar_subquery().label("message_id"),
        select(answered.c.id).scalar_subquery().label("answered_id"),
        recent_scores.label("recent_scores"),
        prompt.c.id.label("open_checkin_id"),
        *sender.c,
        *[c.label(f"p_{c.name}") for c in prompt.c],
        *[c.label(f"r_{c.name}") for c in reminder.c],
    ).select_from(
        one.outerjoin(sender, true())
        .outerjoin(prompt, prompt.c.id == open_prompt)
        .outerjoin(reminder, true())
    )


def _set_sender(session: Session, message: Message, *, staff_id: int) -> None:
    """A facilitator (not a member) wrote something other than a command: the message is theirs."""
    update_by_id(session, Message, message.id, {"staff_id": staff_id})
    set_committed_value(message, "staff_id", staff_id)


def _store_reply(
    session: Session, message: Message, reply: str | None, record: AssessmentRecord | None = None
) -> None:
    """Keep the answer with the message, for a retried webhook (one Core UPDATE; none when silent),
    and write the message's assessment if deciding left it to be written here: in the same statement
    as the reply (one round trip for both, on every plain text)."""
    pending = record if record is not None and record.id is None else None
    if reply is None:
        if pending is not None:
            escalation.store_record(session, pending)
        return
    now = utcnow()
    values = {"reply_body": reply, "updated_at": now}
    if pending is None:
        update_by_id(session, Message, message.id, values)
    else:
        session.flush()  # whatever deciding left pending in the ORM goes first, as autoflush would
        also = (AssessmentRecord, escalation.record_values(pending))
        update_by_id(session, Message, message.id, values, also_insert=also)
    set_committed_value(message, "reply_body", reply)
    set_committed_value(message, "updated_at", now)


def _duplicate(session: Session, sid: str) -> Answer:
    """A retried webhook (or the same MessageSid racing in): the stored message and its answer stand."""
    existing = session.execute(
        select(Message.id, Message.reply_body).where(Message.provider_sid == sid)
    ).one()
    return Answer(existing.reply_body, existing.id, duplicate=True)


def decide(
    session: Session,
    member: Member | None,
    message: Message,
    *,
    now: datetime | None = None,
    context: escalation.Context | None = None,
    with_level: bool = False,
):
    """The reply to a message (None: say nothing). Every member's message is assessed and, if it is
    urgent or a crisis, escalated, whatever else it is, opted out or not."""
    reply, level, _record = _decide(session, member, message, now or utcnow(), context)
    return (reply, level) if with_level else reply


# A bare HELP or AYUDA from a member asks for help (INFO only asks what the service is).
HELP_REQUESTS = ("HELP", "AYUDA")


def _decide(
    session, member, message, now, context, *, write: bool = True
) -> tuple[str | None, str | None, AssessmentRecord | None]:
    """(reply, level, the member's assessment if `write=False` left it for the caller to write)."""
    kind, word = keywords.classify(message.body)
    if member is None:
        erased = consent.erased_member(session, phone_of(message.channel, message.from_number))
        if erased is not None:
            return (*_from_erased(session, erased, message, kind, word, now, context), None)
        return (*_unknown_number(session, message, kind, word, now, context), None)
    verdict = escalation.assess_message(session, member, message, write=write)
    if (
        kind == "help"
        and word in HELP_REQUESTS
        and escalation.RANK[verdict.level] < escalation.RANK["urgent"]
    ):
        verdict = _help_request(verdict)
    esc = escalation.handle_verdict(session, member, message, verdict, now, context)
    told = verdict.level not in escalation.PAGED or escalation.anyone_told(session, esc)
    reply = _member_reply(session, member, message, kind, word, verdict.level, now, told)
    return reply, verdict.level, verdict.record


def _help_request(verdict: escalation.Verdict) -> escalation.Verdict:
    """A member's bare HELP/AYUDA: urgent, so a facilitator is paged (the carrier's HELP answer alone
    would leave them with a program description)."""
    rules = (*verdict.rules, "keyword.help")
    verdict.record.level, verdict.record.rules = "urgent", list(rules)
    log.info(
        "help keyword from member=%s message=%s: urgent", verdict.record.member_id, verdict.record.message_id
    )
    return escalation.Verdict("urgent", rules, verdict.record)


def _opt_out_source(word: str) -> str:
    """How a text opted out, for the consent record: the keyword itself, or "phrase" for plain words."""
    return "phrase" if word == "phrase" else f"keyword:{word}"


def _member_reply(session, member, message, kind, word, level, now, told=True) -> str | None:
    lang, name = member.language, member.first_name
    if kind == "opt_out":
        first_time = consent.opt_out(session, member, source=_opt_out_source(word), message_id=message.id)
        # One confirmation, as carriers require; a repeated STOP gets silence.
        return templates.render("opted_out", lang) if first_time else None
    if kind == "opt_in" and member.opted_out:
        consent.opt_in(session, member, source=f"keyword:{word}", message_id=message.id)
        return templates.render("opted_in", lang, name=name)
    if member.opted_out:
        # Never text an opted-out member; what they wrote is still stored (and assessed).
        return None
    if kind == "help":
        # The carrier's HELP answer (program, how to stop, 988); a request for help also says a
        # facilitator is being told, when one can be.
        return templates.render("help_request" if word in HELP_REQUESTS and told else "help", lang)
    if level in ("crisis", "urgent"):
        # Never promise a human who cannot be told: the reply keeps 988/911 and drops the promise.
        return templates.render(level if told else f"{level}_unheard", lang)
    if not (message.body or "").strip():
        # No words: nothing to read as an answer, a keyword or consent, and nothing for a person to read
        # in the inbox. Said plainly in their language: a picture cannot be read; an empty text may be
        # words the carrier lost, and silence would let them think they were heard.
        if not auto_replies.wordless_reply_due(session, member.id, now):
            # Said a moment ago: an auto-responder sending us blanks must not ping-pong with it.
            log.info("message=%s member=%s has no words; answered lately, not again", message.id, member.id)
            return None
        log.info("message=%s member=%s has no words (media=%s)", message.id, member.id, message.media_count)
        return templates.render("picture_only" if message.media_count else "empty", lang, name=name)
    # RSVPs, WHEN, check-in scores: only now, so a crisis reply always wins.
    special = answers.reply_for(session, member, message, kind, word, level, now)
    if kind is None and message.channel == "sms" and answers.read(session, member, message, now).kind is None:
        # Free text the service cannot answer: a conversation waiting for a person, and a reply that
        # says honestly who reads it and when (a prompt's "reply with a number" still comes first).
        waiting = inbox.receive(session, member, message, now, answer=special is None)
        return special or waiting
    return special or templates.render("received", lang, name=name)


def _fail_safe(
    session: Session, member: Member | None, staff: StaffUser | None, message: Message
) -> tuple[str | None, str]:
    """Urgent by default: a reply with 988/911 (unless opted out) and an alert to the member's group
    facilitators and every coordinator, written straight to the outbox."""
    if staff is not None:
        return None, "none"
    people = failsafe.recipients(session, member)
    key = "urgent" if people else "urgent_unheard"
    if member is None:
        reply = text_language.render(key, message.body or "")
    else:
        reply = None if member.opted_out else templates.render(key, member.language)
    who = member.first_name if member else "an unknown number"
    if not people:
        log.error("deciding failed for message=%s and NOBODY CAN BE PAGED (no staff phone)", message.id)
    failsafe.alert(
        session,
        people,
        f"alert:failsafe:{message.id}",
        f"Checkin ALERT (urgent): a message from {who} could not be processed automatically. Please check the console, message {message.id}.",
    )
    return reply, "urgent"


def _staff_message(
    session: Session, staff: StaffUser, message: Message, now: datetime, context: escalation.Context | None
) -> tuple[str, str | None]:
    """A staff member's text: a command (ACK 12, LIST, ...), or else words that are assessed like
    anyone's. A crisis from a staff number opens a case for the coordinators, as from an unknown one."""
    if commands.is_command(message.body):
        return commands.handle(session, staff, message, now, context), None
    level, rules = _assess_words(message)
    if level not in escalation.PAGED:
        return commands.USAGE, None
    esc = escalation.escalate_sender(session, message, level, rules, now, context)
    told = escalation.anyone_told(session, esc)
    # The language of the words, not of the rule that matched (see checkin/text_language.py).
    return text_language.render(level if told else f"{level}_unheard", message.body or ""), level


def _assess_words(message: Message) -> tuple[str, tuple[str, ...]]:
    """The rules' verdict on a text from a number that is not a member's; urgent if they fail."""
    try:
        from checkin.rules import ALL_LANGUAGES, assess

        result = assess(
            message.body or "", language=ALL_LANGUAGES, second_opinion=not keywords.is_opt_out(message.body)
        )
        return result.level, tuple(result.rules)
    except Exception as exc:
        log.error("risk assessment failed for message=%s (%s); escalating", message.id, type(exc).__name__)
        return "urgent", ("engine.error",)


def _unknown_number(
    session: Session,
    message: Message,
    kind: str,
    word: str | None,
    now: datetime | None = None,
    context: escalation.Context | None = None,
) -> tuple[str, str | None]:
    """Say nothing about any group or member to a number we do not know. But a text that sounds
    like a crisis is answered with 988/911 and opens a case like a member's (in the console, paging
    the coordinators, or whoever can be reached, until someone takes it), with the number so they
    can call back: it may be a member writing from a new phone."""
    spanish = word in ("AYUDA", "PARAR", "BAJA")
    if kind == "help":
        # A bare HELP/AYUDA from a number we do not know is the carrier keyword: it gets the program's
        # answer, which names 988. (From a member it is a request for help: see receive_sms.)
        return templates.render("help", "es" if spanish else "en"), None
    if kind == "opt_out":
        # Remembered (as the number's keyed hash) so that the number is added opted out if it becomes a
        # member's; confirmed once, as carriers require, like a member's STOP.
        phone = phone_of(message.channel, message.from_number)
        first = consent.remember_number_opt_out(
            session, phone, source=_opt_out_source(word), message_id=message.id
        )
        lang = "es" if spanish or keywords.spanish_opt_out(message.body or "") else "en"
        return (templates.render("opted_out", lang) if first else None), None
    if kind == "opt_in":
        consent.forget_number_opt_out(session, phone_of(message.channel, message.from_number))
    level, rules = _assess_words(message)
    if level not in escalation.PAGED:
        lang = "es" if spanish else text_language.detect(message.body or "") or "en"
        return templates.render("unknown", lang), None
    esc = escalation.escalate_sender(session, message, level, rules, now or utcnow(), context)
    told = escalation.anyone_told(session, esc)
    log.warning(
        "unknown-number message=%s assessed %s: escalation %s, %s",
        message.id,
        level,
        esc.id,
        "staff paged" if told else "NOBODY CAN BE PAGED",
    )
    # Nobody knows this sender's language: the words say it, not the rule that matched (a Spanish rule
    # matched "I took all my pills"); both languages when they do not say clearly.
    return text_language.render(level if told else f"{level}_unheard", message.body or ""), level


def _from_erased(
    session: Session,
    erased: Member,
    message: Message,
    kind: str,
    word: str | None,
    now: datetime,
    context: escalation.Context | None,
) -> tuple[str | None, str | None]:
    """A text from the number of a member who was erased: they opted out for good, so nothing is sent
    back, whatever it says. A STOP is recorded in their consent history (as evidence, without the
    number: the message keeps neither number nor words). A crisis or urgent text is still a case for
    the coordinators, with the number to call back, as from any unknown number."""
    level, rules = _assess_words(message)
    if level in escalation.PAGED:
        escalation.escalate_sender(session, message, level, rules, now, context)
        log.warning("message=%s from an erased member's number assessed %s: escalated", message.id, level)
        return None, level
    if kind == "opt_out":
        session.add(
            ConsentEvent(
                member_id=erased.id, kind="opt_out", source=_opt_out_source(word), message_id=message.id
            )
        )
    from checkin.member_data.erase import ERASED_ADDRESS

    update_by_id(
        session,
        Message,
        message.id,
        {"member_id": erased.id, "from_number": ERASED_ADDRESS, "body": None, "updated_at": utcnow()},
    )
    log.info("message=%s from erased member=%s: not answered (%s)", message.id, erased.id, kind or "text")
    return None, level


SPANISH_WORDS = ("AYUDA", "PARAR", "BAJA", "ALTA", "CUANDO")


def reply_without_storage(
    body: str, sender: str = "", opted_out: consent.OptedOutNumbers | None = None
) -> tuple[str | None, str]:
    """The answer to a text that could not be stored (the database is down, or storing it failed): its
    words alone decide, so a crisis reply never depends on the database. Returns (reply, level).

    Nothing here may promise a human (nobody can be paged until the text is stored: the `_unheard`
    wordings) or text someone who may have opted out more than their own words call for: a crisis or
    urgent text gets 988/911, STOP its one confirmation, HELP the carrier answer (988 included); any
    other text gets no answer now (we cannot tell who sent it or whether they opted out) and is decided,
    and paged if need be, when the spooled request is replayed.

    `opted_out`: the numbers known (in memory, read a moment ago) to have opted out: `sender` among them
    gets no answer at all, as when stored (a crisis from them is still escalated, on replay)."""
    kind, word = keywords.classify(body)
    level, _rules = _assess_words_only(body)
    if opted_out is not None:
        was_out = sender in opted_out
        opted_out.said(sender, kind)
        if was_out:
            return None, level
    # A keyword is the whole message, so it is never also a sentence in crisis: its own answer comes
    # first (a bare HELP/AYUDA is urgent for the rules, and the carrier answer names 988 and 911).
    if kind in ("opt_out", "help"):
        lang = (
            "es" if word in SPANISH_WORDS or (kind == "opt_out" and keywords.spanish_opt_out(body)) else "en"
        )
        return templates.render("opted_out" if kind == "opt_out" else "help", lang), level
    if level in escalation.PAGED:
        return text_language.render(f"{level}_unheard", body), level
    return None, level


def reply_to_a_number_not_ours(body: str) -> tuple[str | None, str]:
    """The answer to a text sent to a number that is not this service's (misconfigured: it is not
    stored): nothing, unless its words are a crisis or urgent, then 988/911 in English and Spanish
    (nobody can be paged, so no human is promised). Returns (reply, level)."""
    level, _rules = _assess_words_only(body)
    if level in escalation.PAGED:
        return text_language.both(f"{level}_unheard"), level
    return None, level


def _assess_words_only(body: str) -> tuple[str, tuple[str, ...]]:
    try:
        from checkin.rules import ALL_LANGUAGES, assess

        result = assess(body or "", language=ALL_LANGUAGES, second_opinion=not keywords.is_opt_out(body))
        return result.level, tuple(result.rules)
    except Exception as exc:
        log.error("risk assessment failed without storage (%s); answering as urgent", type(exc).__name__)
        return "urgent", ("engine.error",)
