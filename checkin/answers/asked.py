"""What the service last asked a member: a meeting reminder ("Reply 1 if you're coming, 2 if not")
or a check-in prompt ("Reply 1-5"). A bare "1" or "2" answers whichever came last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from checkin.checkins import ANSWER_WINDOW, CheckIn, open_prompt_id
from checkin.models import OutboxItem

# A reminder goes out a day or a few hours before the meeting; an answer days later is not an RSVP.
RSVP_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Reminder:
    outbox_id: int
    occurrence_key: str
    sent_at: datetime
    from_number: str | None


@dataclass(frozen=True)
class Asked:
    reminder: Reminder | None  # the newest reminder sent in RSVP_WINDOW
    prompt: CheckIn | None  # the newest check-in prompt still open

    @property
    def latest(self) -> str | None:
        """ "reminder" | "prompt" | None: which question a bare 1 or 2 answers. A nudge asks again."""
        if self.reminder and (self.prompt is None or self.reminder.sent_at > _last_asked(self.prompt)):
            return "reminder"
        return "prompt" if self.prompt else None


def _last_asked(prompt: CheckIn) -> datetime:
    return max(prompt.prompted_at, prompt.nudged_at or prompt.prompted_at)


def occurrence_key(idempotency_key: str, member_id: int) -> str | None:
    """The occurrence in a reminder's key `reminder:{member}:{occurrence}:{offset}[:v{version}]`
    (occurrence keys hold no colon: checkin.schedules writes the UTC start as 20261208T2300Z)."""
    prefix = f"reminder:{member_id}:"
    if not idempotency_key.startswith(prefix):
        return None
    return idempotency_key[len(prefix) :].split(":", 1)[0] or None


_REMINDER = "checkin.answers.reminder"  # session.info: (member id, the last reminder's row or None)


def remember_last_reminder(session: Session, member_id: int, row) -> None:
    """The inbound path read the member's last reminder (`row`: id, idempotency_key, sent_at,
    from_number, or None) with the message it stored: `last_reminder` uses it instead of asking again."""
    session.info[_REMINDER] = (member_id, row)


def last_reminder(session: Session, member_id: int, now: datetime) -> Reminder | None:
    known = session.info.get(_REMINDER)
    if known is not None and known[0] == member_id:
        return _reminder(known[1], member_id)
    row = session.execute(
        _last_reminder_statement(),
        {"r_member_id": member_id, "r_key": f"reminder:{member_id}:%", "r_since": now - RSVP_WINDOW},
    ).first()
    return _reminder(row, member_id)


def _reminder(row, member_id: int) -> Reminder | None:
    if row is None:
        return None
    key = occurrence_key(row.idempotency_key, member_id)
    return Reminder(row.id, key, row.sent_at, row.from_number) if key else None


@cache  # built once with bound parameters: a free text after a prompt asks on every text
def _last_reminder_statement():
    return (
        select(OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.sent_at, OutboxItem.from_number)
        .where(
            OutboxItem.member_id == bindparam("r_member_id"),
            OutboxItem.purpose == "reminder",
            OutboxItem.idempotency_key.like(bindparam("r_key")),
            OutboxItem.sent_at.is_not(None),
            OutboxItem.sent_at >= bindparam("r_since", type_=OutboxItem.sent_at.type),
        )
        .order_by(OutboxItem.sent_at.desc())
        .limit(1)
    )


_KNOWN = "checkin.answers.open_prompt"  # session.info: (member id, open prompt id or None, its row or None)


def remember_open_prompt(
    session: Session, member_id: int, checkin_id: int | None, prompt: CheckIn | None = None
) -> None:
    """The inbound path read the open prompt (its id, and its row when it has it) with the message it
    stored (round trips fewer on every member's text): `open_prompt` uses it instead of asking again
    in this session."""
    session.info[_KNOWN] = (member_id, checkin_id, prompt)


# A check-in answer that reads the same whatever was asked: a 3, 4 or 5 alone is never an RSVP (only
# a 1 or a 2 is), so with an open prompt it is that prompt's answer (see checkin.answers.read).
CERTAIN_SCORES = {"3": 3, "4": 4, "5": 5}
_RECORDED = "checkin.answers.recorded"  # session.info: the answer the inbound statement recorded


def certain_score(body: str | None) -> int | None:
    """The score of a text that can only be a check-in answer (a bare 3, 4 or 5), else None."""
    return CERTAIN_SCORES.get(body or "")


def remember_recorded_answer(
    session: Session, member_id: int, message_id: int, prompt_id: int, values: dict, history: tuple
) -> None:
    """The inbound path recorded `message_id`'s answer on the open prompt `prompt_id` in the statement
    that stored it (`values` as written), and read the member's recent scores (`history`, oldest first)
    there too: `recorded_answer` hands both to the assessment instead of another round trip."""
    session.info[_RECORDED] = (member_id, message_id, prompt_id, values, history)


def recorded_answer(
    session: Session, member_id: int, message_id: int, prompt_id: int, score: int
) -> tuple[dict, tuple] | None:
    """(values written, recent scores) if the inbound statement recorded this very answer, else None."""
    found = session.info.get(_RECORDED)
    if found is None or found[:3] != (member_id, message_id, prompt_id) or found[3]["score"] != score:
        return None
    return found[3], found[4]


def known_open_prompt(session: Session, member_id: int) -> CheckIn | None:
    """The member's open prompt if this session has its row already (read with the message, or by
    `open_prompt`), else None (none, or not known: ask `open_prompt`)."""
    known = session.info.get(_KNOWN)
    if known is None or known[0] != member_id or known[2] is None:
        return None
    return known[2] if known[2].state == "open" else None


def open_prompt(session: Session, member_id: int, now: datetime) -> CheckIn | None:
    known = session.info.get(_KNOWN)
    if known is not None and known[0] == member_id:
        if known[1] is None:
            return None  # only the planner opens prompts, never a member's own text
        # Held for the session (its identity map holds objects weakly): reading a digit and recording
        # the answer both ask, and the second must not load the row again.
        prompt = known[2] if known[2] is not None else session.get(CheckIn, known[1])
        session.info[_KNOWN] = (member_id, known[1], prompt)
        return prompt if prompt is not None and prompt.state == "open" else None
    return session.scalar(select(CheckIn).where(CheckIn.id == open_prompt_id(member_id, now - ANSWER_WINDOW)))


def open_prompt_again(session: Session, member_id: int, now: datetime) -> CheckIn | None:
    """After a text lost its open prompt to a concurrent answer (committed first): the member's open
    prompt now, read again as a moment later (an older one in another group, or earlier in the window),
    or None. Remembered for the session, so reading and recording the text answer that one."""
    prompt = session.scalar(
        select(CheckIn)
        .where(CheckIn.id == open_prompt_id(member_id, now - ANSWER_WINDOW))
        .execution_options(populate_existing=True)
    )
    remember_open_prompt(session, member_id, None if prompt is None else prompt.id, prompt)
    return prompt


def asked(session: Session, member_id: int, now: datetime) -> Asked:
    return Asked(last_reminder(session, member_id, now), open_prompt(session, member_id, now))
