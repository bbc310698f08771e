"""Courier-style intake (issue 18): store a routine text in one statement, decide it a moment later.

The SMS webhook reads a text's words first, with no database (`answers_now`). A text that must be
answered at once is handled as before, inline (`inbound.receive_sms`): a crisis or urgent text by its
words, STOP/START/HELP and their Spanish forms, a facilitator's command, and any replay of a spooled
request. Every other text (a score, a free text, WHEN, an RSVP) is routine: `store` keeps it, with its
MessageSid claim, in ONE autocommitted INSERT marked `undecided`; the webhook answers with empty TwiML
and asks for a decision (`decide_later`, an RQ job in production). `decide_stored` takes the row
(one winner: an UPDATE from undecided, in the transaction that decides), decides it exactly as the
inline path would, and writes the reply as an outbox row (`answer:{message id}`, sent at once: consent
is checked at send time as for every send). A text left undecided (a worker died, Redis was down) is
found by the cron sweeper (`undecided_ids`) after `GRACE` and decided then.

What the member sees: the same words as before, by REST a moment after their text instead of in the
webhook's answer. A reply is a reply, not an automated message, so quiet hours do not hold it; but
one that could only be decided long after the text (`FRESH_REPLY`: an outage) is no longer an answer
the member is waiting for, and `reply_gate` holds it to the morning if it is their night.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from checkin import keywords, outbox, quiet_hours
from checkin.answers import asked
from checkin.checkins import ANSWER_WINDOW, OPEN_LITERAL, CheckIn, open_prompt_id
from checkin.db import connection_lost, unreachable, utcnow
from checkin.escalation import commands
from checkin.escalation import service as escalation
from checkin.escalation.models import EscalationEvent
from checkin.models import Member, Message, OutboxItem
from checkin.rows import load_one

log = logging.getLogger("checkin.intake")

UNDECIDED = "undecided"  # Message.status of a stored routine text no one has decided yet
REPLY_PURPOSE = "answer"  # the outbox purpose of the automatic answer to a text (inbox replies: "reply")
GRACE = timedelta(seconds=30)  # the sweeper leaves a fresh text to its job this long
FRESH_REPLY = timedelta(minutes=15)  # a reply later than this after the text keeps quiet hours
INLINE_KINDS = ("opt_out", "opt_in", "help")


def answers_now(body: str) -> tuple[bool, str]:
    """(whether the webhook must decide and answer this text itself, the rules' level on its words).

    Inline: STOP/START/HELP in any of their forms (consent and the carrier's HELP answer are never
    late), a facilitator's command, and whatever the rules call urgent or a crisis on the words alone
    (a failing rules engine says urgent). Everything else is routine."""
    bare = _BARE.fullmatch(body) and (body.strip().isdigit() or body.strip().upper() in _KEYWORDS)
    found = _bare_verdicts.get(body) if bare else None
    if found is not None:
        return found
    verdict, failed = _answers_now(body)
    if bare and not failed and len(_bare_verdicts) < 512:  # a failing engine is asked again next time
        _bare_verdicts[body] = verdict
    return verdict


# A bare score or a keyword alone ("4", "WHEN", "info"): most texts. The rules are compiled once per
# process and give the same verdict on the same words, so these few texts are worked out once and looked
# up after; nothing longer is kept (no sentence a member wrote stays in memory), and every other text is
# read by the rules each time.
_BARE = re.compile(r"\s*(?:\d{1,2}|[A-Za-z]{2,12})\s*")
_KEYWORDS = frozenset(keywords.OPT_OUT | keywords.OPT_IN | keywords.HELP | keywords.WHEN)


_bare_verdicts: dict[str, tuple[bool, str]] = {}


def _answers_now(body: str) -> tuple[tuple[bool, str], bool]:
    """(answers_now's verdict, whether the rules engine failed on it)."""
    from checkin.inbound import _assess_words_only

    if keywords.classify(body)[0] in INLINE_KINDS or commands.is_command(body):
        return (True, "none"), False
    level, rules = _assess_words_only(body)
    return (level in escalation.PAGED, level), "engine.error" in rules


@cache
def store_statement(dialect: str):
    """The INSERT that stores a routine text (see `store`): also what a driver-level insert compiles."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    messages, members = Message.__table__, Member.__table__
    sender = select(members.c.id).where(members.c.phone == bindparam("phone")).scalar_subquery()
    names = (
        "channel",
        "provider_sid",
        "from_number",
        "to_number",
        "body",
        "media_count",
        "created_at",
        "updated_at",
    )
    return (
        dialect_insert(messages)
        .values(
            {name: bindparam(name, type_=messages.c[name].type) for name in names}
            | {"direction": "inbound", "status": UNDECIDED, "member_id": sender}
        )
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(messages.c.id)
    )


# How `store` runs its INSERT: (db, values) -> the new id or None. The composition root gives the webhook
# a driver-level one on PostgreSQL (checkin.adapters.pg_intake); by default, SQLAlchemy Core.
Insert = Callable[[object, dict], "int | None"]


def store(db, sms, *, insert: Insert | None = None) -> int | None:
    """Keep a routine text, undecided, unless its MessageSid is stored already: one autocommitted
    INSERT ... ON CONFLICT DO NOTHING (one round trip). Returns its id, or None for a retry.
    A lost connection is retried once (Twilio does not retry an SMS webhook); the claim makes that safe."""
    now = utcnow()
    # A spooled text replayed later keeps the time it arrived (a late answer keeps quiet hours).
    received = sms.received_at if sms.received_at is not None and sms.received_at < now else now
    values = dict(
        channel=sms.channel,
        provider_sid=sms.sid,
        from_number=sms.from_number,
        to_number=sms.to_number,
        body=sms.body,
        media_count=sms.media or None,
        created_at=received,
        updated_at=now,
        phone=sms.from_number,
    )
    try:
        return _insert(db, values, insert)
    except SQLAlchemyError as exc:
        if not connection_lost(exc):
            raise
        log.warning(
            "database connection lost while storing (%s); retrying once (sid=%s)", type(exc).__name__, sms.sid
        )
        return _insert(db, values, insert)


def answer_key(message_id: int) -> str:
    """The outbox idempotency key of the answer to an inbound text: one answer per text."""
    return f"answer:{message_id}"


def answered_before(db, sid: str) -> str | None:
    """What a retried webhook for a text stored already answers in its TwiML: the reply given inline
    the first time (a text answered at once, or a spooled one replayed), never one the outbox sends
    (that one goes once, by REST), and nothing while it is undecided. A retry only: not the hot path."""
    with db.session() as session:
        row = session.execute(
            select(Message.id, Message.reply_body, Message.status).where(Message.provider_sid == sid)
        ).first()
        if row is None or row.status == UNDECIDED or row.reply_body is None:
            return None
        by_rest = session.scalar(
            select(OutboxItem.id).where(OutboxItem.idempotency_key == answer_key(row.id))
        )
        return None if by_rest is not None else row.reply_body


def answer_for(session, sid: str) -> str | None:
    """The words sent (or on their way) by REST in answer to the inbound text `sid`, once decided."""
    message_id = session.scalar(select(Message.id).where(Message.provider_sid == sid))
    if message_id is None:
        return None
    return session.scalar(select(OutboxItem.body).where(OutboxItem.idempotency_key == answer_key(message_id)))


def _insert(db, values: dict, insert: Insert | None = None) -> int | None:
    if insert is not None:
        return insert(db, values)
    with db.autocommit.connect() as conn:
        return conn.execute(store_statement(db.engine.dialect.name), values).scalar()


def decide_stored(
    db, message_id: int, *, context: escalation.Context | None = None, now: datetime | None = None
):
    """Decide a stored routine text once, as the inline path would, and write its reply to the outbox.
    Returns the reply's outbox id, None when it says nothing, or False when the text was decided
    already (another worker, the sweeper, a job run twice)."""
    from checkin import inbound

    now = now or utcnow()
    with db.session() as session:
        message = _take(session, message_id)
        if message is None:
            return False
        member = (
            None if message.member_id is None else load_one(session, Member, Member.id, message.member_id)
        )
        if member is not None:
            _hold_open_prompt(session, member.id, now)
        staff = inbound._staff(session, message.from_number) if member is None else None
        if staff is not None:
            inbound._set_sender(session, message, staff_id=staff.id)
        decided = inbound.decide_or_fail_safe(
            session, member, staff, message, now, context, lambda: _take(session, message_id)
        )
        if decided is None:
            return False
        message, reply, level, record = decided
        inbound._store_reply(session, message, reply, record)
        item_id = _reply(session, message, member, staff, reply, now) if reply else None
        log.info(
            "decided stored sms message=%s member=%s level=%s reply_outbox=%s",
            message.id,
            member.id if member else None,
            level,
            item_id,
        )
    return item_id


def _hold_open_prompt(session, member_id: int, now: datetime) -> None:
    """Lock the member's open check-in prompt before reading the text (FOR UPDATE, on PostgreSQL), so
    two texts of one member decided at once take turns: the second is read as a moment later, after
    the first answered the prompt (a bare digit then answers an older open prompt, or is asked "did you
    mean to answer a check-in?"), as the webhook's claiming statement has it for texts decided inline."""
    prompt = session.scalar(
        select(CheckIn)
        .where(CheckIn.id == open_prompt_id(member_id, now - ANSWER_WINDOW), CheckIn.state == OPEN_LITERAL)
        .with_for_update()
    )
    if prompt is None:  # none, or answered while this waited for it: the member's open prompt now
        asked.open_prompt_again(session, member_id, now)
    else:
        asked.remember_open_prompt(session, member_id, prompt.id, prompt)


def _take(session, message_id: int) -> Message | None:
    """The undecided message, now this transaction's to decide: one winner; a row another transaction is
    deciding right now is skipped (SKIP LOCKED on PostgreSQL: it has it, and if it fails the row stays
    undecided for the next look or the sweeper)."""
    mine = (
        select(Message.id)
        .where(Message.id == message_id, Message.status == UNDECIDED)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    # The row comes back with the UPDATE that takes it (RETURNING): one round trip, not a second SELECT.
    return session.scalars(
        update(Message)
        .where(Message.id == mine)
        .values(status="received")
        .returning(Message)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()


def _reply(session, message: Message, member, staff, reply: str, now: datetime) -> int:
    item, _created = outbox.add(
        session,
        answer_key(message.id),
        to=message.from_number,
        body=reply,
        channel=message.channel,
        purpose=REPLY_PURPOSE,
        # A person has just written and waits for the answer: it goes ahead of reminders, as a
        # facilitator's reply from the inbox does.
        queue=outbox.ALERT_QUEUE,
        member_id=member.id if member else None,
        staff_id=staff.id if staff else None,
        from_number=message.to_number,
        not_before=now,
    )
    return item.id


def undecided_ids(session, now: datetime, *, grace: timedelta = GRACE, limit: int = 500) -> list[int]:
    """Routine texts stored more than `grace` ago and still undecided, oldest first (the sweeper's)."""
    return list(
        session.scalars(
            select(Message.id)
            .where(Message.status == UNDECIDED, Message.created_at < now - grace)
            .order_by(Message.id)
            .limit(limit)
        )
    )


def sweep(
    db, now: datetime | None = None, *, context=None, grace: timedelta = GRACE, limit: int = 500
) -> int:
    """Decide what was left undecided (the cron sweeper, in a worker). Returns how many it decided."""
    now = now or utcnow()
    with db.session() as session:
        ids = undecided_ids(session, now, grace=grace, limit=limit)
    done = 0
    for message_id in ids:
        try:
            if decide_stored(db, message_id, context=context) is not False:
                done += 1
        except Exception as exc:
            if unreachable(exc):  # the rest would fail the same way, each with its traceback
                raise
            log.exception("deciding stored message=%s failed; left for the next sweep", message_id)
    if ids:
        log.warning("intake sweeper decided %d of %d text(s) left undecided", done, len(ids))
    return done


def reply_gate(session, item: OutboxItem, now: datetime) -> datetime | None:
    """Outbox gate: the answer to a member's text goes at once, night or day, while it is an answer
    (within FRESH_REPLY of the text); later than that it is held to the end of their night."""
    if item.purpose != REPLY_PURPOSE or item.member_id is None:
        return None
    message_id = int(item.idempotency_key.rsplit(":", 1)[1])
    # A later text from the member opened or joined an escalation: its crisis reply has gone, and a
    # routine answer ("thanks for your check-in") must not arrive after it.
    later_alarm = session.scalar(
        select(EscalationEvent.id)
        .join(Message, Message.id == EscalationEvent.message_id)
        .where(Message.member_id == item.member_id, Message.direction == "inbound", Message.id > message_id)
        .limit(1)
    )
    if later_alarm is not None:
        return outbox.Cancel("a later text from the member was answered as a crisis or urgent one")
    written = session.scalar(select(Message.created_at).where(Message.id == message_id))
    if written is None or now - written <= FRESH_REPLY:
        return None
    member = session.get(Member, item.member_id)
    if member is None:
        return None
    later = quiet_hours.next_allowed(now, member.effective_timezone)
    return None if later <= now else later
