"""Check-ins: one prompt to a member and their answer (score 1-5, optional words), by SMS or voice.

Shared by the reminder planner (which writes the prompt and nudges), the SMS path and the voice
menu (which record answers), the rules engine (missed check-ins) and the console (mood chart).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, func, literal_column, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from checkin.crypto import EncryptedJSON, EncryptedText
from checkin.db import Base, UTCDateTime, utcnow

log = logging.getLogger("checkin.checkins")


class CheckIn(Base):
    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_member_prompted", "member_id", "prompted_at"),
        # A group's prompts by week, for its reports (checkin.reports.weekly).
        Index("ix_checkins_group_prompted", "group_id", "prompted_at"),
        # Open prompts are few and each cron tick looks for the expired ones among them.
        Index(
            "ix_checkins_open_prompted",
            "prompted_at",
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        # A member's newest open prompt, read with every text they send (checkin.inbound): by prompt
        # time alone that walked every member's open prompts newer than theirs.
        Index(
            "ix_checkins_open_member",
            "member_id",
            "prompted_at",
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(8), default="sms")  # sms | voice
    # The outbox idempotency key of the prompt that asked; None for an unprompted check-in.
    prompt_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    prompted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it stopped being open (answered, missed or unsent): when a run of missed prompts grew.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # open -> answered | missed | unsent (its prompt was never sent)
    state: Mapped[str] = mapped_column(String(8), default="open")
    # The answer (1-5) is health data like the words: encrypted at rest (read in Python, never in SQL).
    score: Mapped[int | None] = mapped_column(EncryptedJSON)
    words: Mapped[str | None] = mapped_column(EncryptedText)
    # Twilio's recording URL for a voice check-in's spoken message (fetching it needs our credentials).
    recording_url: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    call_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# An answer this long after its prompt is a fresh, unprompted check-in rather than a late answer.
ANSWER_WINDOW = timedelta(days=7)


OPEN_LITERAL = literal_column("'open'")


# What answering a prompt sets on its row, wherever the answer is recorded (a text's statement, the
# assessment's history statement, a call's keypad): one list, one set of values.
ANSWER_FIELDS = ("state", "answered_at", "closed_at", "channel", "score", "words", "message_id", "call_sid")


def answered_values(now, *, channel, score, words=None, message_id=None, call_sid=None) -> dict:
    return {
        "state": "answered",
        "answered_at": now,
        "closed_at": now,
        "channel": channel,
        "score": score,
        "words": words,
        "message_id": message_id,
        "call_sid": call_sid,
    }


def open_prompt_id(member_id, since):
    """The id of the member's newest check-in prompt still open and asked since `since` (now less
    ANSWER_WINDOW), as a scalar subquery: the prompt an answer now belongs to."""
    return (
        select(CheckIn.id)
        # 'open' written into the SQL, not bound: a prepared statement's generic plan can then still use
        # the partial indexes on open prompts (a bound state could be any state when it is planned).
        .where(CheckIn.member_id == member_id, CheckIn.state == OPEN_LITERAL, CheckIn.prompted_at >= since)
        .order_by(CheckIn.prompted_at.desc())
        .limit(literal_column("1"))
        .scalar_subquery()
    )


def close_stale_prompts(session: Session, now: datetime) -> dict[str, int]:
    """Close the open prompts that can no longer be answered as such. Counts by new state.

    - A prompt whose text was never sent (the member paused or opted out, or it went stale while
      held for the night) is 'unsent': nobody asked them, and the rules read missed ones as a signal.
    - A prompt older than ANSWER_WINDOW is 'missed'. The next prompt closes most of them; this
      catches the last one of a schedule that ended, or a member's whose prompts stopped.
    """
    from checkin.models import OutboxItem  # models imports this module

    # From the few prompt rows cancelled lately (a partial index), not from every open prompt: a tick
    # with a million prompts open costs what was cancelled. A prompt row is written when its CheckIn
    # opens, and an older one is closed as missed below anyway.
    never_sent = CheckIn.prompt_key.in_(
        select(OutboxItem.idempotency_key).where(
            OutboxItem.state == "cancelled",
            OutboxItem.purpose == "prompt",
            OutboxItem.created_at >= now - ANSWER_WINDOW - timedelta(days=1),
        )
    )
    counts = {}
    for state, condition in (("unsent", never_sent), ("missed", CheckIn.prompted_at < now - ANSWER_WINDOW)):
        result = session.execute(
            update(CheckIn)
            .where(CheckIn.state == "open", condition)
            .values(state=state, closed_at=now)
            .execution_options(synchronize_session=False)
        )
        counts[state] = result.rowcount or 0
    return counts


def missed_in_a_row(session: Session, member_ids: list[int], limit: int = 10) -> dict[int, int]:
    """For each member, how many of their latest prompts in a row were missed (at most `limit`).
    Prompts still open or never sent don't break a run, and don't count in it."""
    if not member_ids:
        return {}
    ranked = (
        select(
            CheckIn.member_id,
            CheckIn.state,
            func.row_number()
            .over(partition_by=CheckIn.member_id, order_by=CheckIn.prompted_at.desc())
            .label("n"),
        )
        .where(
            CheckIn.member_id.in_(member_ids),
            CheckIn.prompt_key.is_not(None),
            CheckIn.state.in_(("answered", "missed")),
        )
        .subquery()
    )
    runs = dict.fromkeys(member_ids, 0)
    broken = set()
    for member_id, state in session.execute(
        select(ranked.c.member_id, ranked.c.state)
        .where(ranked.c.n <= limit)
        .order_by(ranked.c.member_id, ranked.c.n)
    ):
        if member_id in broken or state != "missed":
            broken.add(member_id)
        else:
            runs[member_id] += 1
    return runs


UNKNOWN = object()  # record_answer(prompt=...) not given: look the open prompt up


def record_answer(
    session: Session,
    member_id: int,
    *,
    channel: str,
    score: int | None,
    words: str | None = None,
    recording_url: str | None = None,
    message_id: int | None = None,
    call_sid: str | None = None,
    now: datetime | None = None,
    prompt: CheckIn | object | None = UNKNOWN,
) -> CheckIn:
    """Record a member's check-in answer against their newest open prompt, or as an unprompted check-in.
    `prompt`: that prompt (or None: there is none) when the caller has looked it up already."""
    now = now or utcnow()
    if prompt is UNKNOWN:
        checkin = session.scalar(
            select(CheckIn).where(CheckIn.id == open_prompt_id(member_id, now - ANSWER_WINDOW))
        )
    else:
        checkin = prompt
    values = answered_values(
        now, channel=channel, score=score, words=words, message_id=message_id, call_sid=call_sid
    )
    if recording_url:
        values["recording_url"] = recording_url
    while checkin is not None:
        session.flush()  # whatever the session holds goes first, as the ORM's own UPDATE would
        table = CheckIn.__table__
        # By id and still open on the row itself: the prompt was read open in this statement's snapshot,
        # and a concurrent answer (a text while the caller presses a key) may have taken it since; this
        # UPDATE then waits for its commit (PostgreSQL re-evaluates the state after the wait) and
        # changes nothing, rather than overwriting that answer.
        taken = session.execute(
            update(table).where(table.c.id == checkin.id, table.c.state == OPEN_LITERAL).values(values)
        ).rowcount
        if taken:
            for key, value in values.items():
                set_committed_value(checkin, key, value)  # as stored: nothing left for the ORM to flush
            return checkin
        # Answered meanwhile: as a moment later, the answer goes to the open prompt left (an older one),
        # or, with none left, is an unprompted check-in.
        log.info("open prompt=%s answered concurrently; message=%s", checkin.id, message_id)
        session.expire(checkin)
        from checkin.answers.asked import open_prompt_again  # asked imports this module

        checkin = open_prompt_again(session, member_id, now)
    checkin = CheckIn(member_id=member_id, channel=channel)
    session.add(checkin)
    checkin.state = "answered"
    checkin.answered_at = checkin.closed_at = now
    checkin.channel = channel
    checkin.score = score
    checkin.words = words
    checkin.recording_url = recording_url
    checkin.message_id = message_id
    checkin.call_sid = call_sid
    session.flush()
    return checkin
