"""The unit of work: one transaction and the effects it decided, handed on only once it has committed.

Domain code records what must happen after the commit on the session it was given: an outbox row
to deliver (`record_send`) or an escalation to wake up later (`record_timer`). It never sends or
schedules anything itself. When the session's transaction commits, every recorded effect is handed,
ordered once (alerts first, texts before calls), to the session's dispatcher: RQ for the web app,
workers and cron, a collector for the console's simulator, a list in tests. A rollback forgets them.

Every session the app makes is a `WorkSession`, so a plain `session.commit()` (the console's views
do that) cannot leave its effects behind. A dispatcher that fails after the commit never undoes the
commit and never raises into the caller: it is logged with the ids, and the outbox sweeper finds the
rows (the database is the record, the queue only a shortcut).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("checkin.unit_of_work")

ALERT_QUEUE, DEFAULT_QUEUE = "alerts", "outbox"  # workers take alerts first


class Send(NamedTuple):
    """An outbox row to deliver once its transaction has committed."""

    id: int
    queue: str
    channel: str = "sms"


class Timer(NamedTuple):
    """An escalation to wake at `at` (its next action)."""

    escalation_id: int
    at: datetime


@dataclass
class Effects:
    sends: list[Send] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sends or self.timers)

    def ordered_sends(self) -> list[Send]:
        """Alerts first, and texts before calls (a text is the quickest way to reach a facilitator)."""
        return sorted(self.sends, key=lambda s: (s.queue != ALERT_QUEUE, s.channel != "sms", s.id))


class Dispatcher(Protocol):
    def dispatch(self, effects: Effects) -> None:
        """Hand committed effects on. Should not raise; if it does, the unit of work logs it."""


class ListDispatcher:
    """Keeps what was dispatched (tests, and the simulator, which shows it and sends nothing)."""

    def __init__(self) -> None:
        self.dispatched: list[Effects] = []

    def dispatch(self, effects: Effects) -> None:
        self.dispatched.append(effects)

    @property
    def sends(self) -> list[Send]:
        return [s for e in self.dispatched for s in e.ordered_sends()]

    @property
    def timers(self) -> list[Timer]:
        return [t for e in self.dispatched for t in e.timers]


class DiscardDispatcher:
    """Sends nothing (a process that must not enqueue: the sweeper still finds committed rows)."""

    def dispatch(self, effects: Effects) -> None:
        return None


class WorkSession(Session):
    """A SQLAlchemy session that is a unit of work: it collects effects and dispatches them on commit."""

    def __init__(self, *args, dispatcher: Dispatcher | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.dispatcher = dispatcher
        self.effects = Effects()
        self._committed: Effects | None = None
        self._marks: dict[SessionTransaction, tuple[int, int]] = {}
        # What this unit of work decided that a later step of the same decision asks about (say, whether
        # a message paged anyone): forgotten with the transaction, committed or not.
        self.notes: dict = {}


def _effects(session: Session) -> Effects:
    found = getattr(session, "effects", None)
    if found is None:
        raise TypeError("effects can only be recorded on a WorkSession (see checkin.unit_of_work)")
    return found


def record_send(session: Session, item_id: int, queue: str, channel: str = "sms") -> None:
    _effects(session).sends.append(Send(item_id, queue, str(channel)))


def record_sends(session: Session, sends: Iterable[tuple[int, str, str]]) -> None:
    _effects(session).sends.extend(Send(i, q, str(c)) for i, q, c in sends)


def record_timer(session: Session, escalation_id: int, at: datetime) -> None:
    _effects(session).timers.append(Timer(escalation_id, at))


def note(session: Session, key, value) -> None:
    """Remember a fact about this unit of work until its transaction ends (commit or rollback)."""
    notes = getattr(session, "notes", None)
    if notes is not None:
        notes[key] = value


def noted(session: Session, key, default=None):
    """A fact `note` remembered in this unit of work, or `default`."""
    return getattr(session, "notes", {}).get(key, default)


def pending(session: Session) -> Effects:
    """What this session has recorded and not yet dispatched (a copy)."""
    effects = _effects(session)
    return Effects(list(effects.sends), list(effects.timers))


@event.listens_for(WorkSession, "after_transaction_create")
def _savepoint_begins(session: WorkSession, transaction: SessionTransaction) -> None:
    if transaction.nested:  # remember where its effects start, to forget them if it is rolled back
        session._marks[transaction] = (len(session.effects.sends), len(session.effects.timers))


@event.listens_for(WorkSession, "after_soft_rollback")
def _savepoint_undone(session: WorkSession, previous: SessionTransaction) -> None:
    mark = session._marks.pop(previous, None) if previous.nested else None
    if mark is not None:  # the rows it wrote are gone: so are the sends and timers it recorded
        del session.effects.sends[mark[0] :], session.effects.timers[mark[1] :]


@event.listens_for(WorkSession, "after_commit")
def _committed(session: WorkSession) -> None:
    # Also called when a savepoint is released: only the outermost commit makes effects real.
    if session.in_nested_transaction():
        session._marks.pop(session.get_nested_transaction(), None)  # kept: its parent decides
        return
    # The connection is still held here: keep the effects and hand them on once it is released.
    if session.effects:
        session._committed, session.effects = session.effects, Effects()


@event.listens_for(WorkSession, "after_transaction_end")
def _ended(session: WorkSession, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint or a flush's subtransaction: the outermost transaction decides
    session._marks.clear()
    session.notes.clear()
    committed, session._committed = session._committed, None
    if session.effects:
        session.effects = Effects()  # rolled back or closed without commit: those rows do not exist
    if committed is None or session.dispatcher is None:
        return
    try:
        session.dispatcher.dispatch(committed)
    except Exception:
        log.exception(
            "DISPATCH FAILED after commit: outbox=%s timers=%s; committed rows stay pending and the "
            "sweeper will enqueue them, the escalation tick will wake the timers",
            [s.id for s in committed.sends],
            [t.escalation_id for t in committed.timers],
        )
