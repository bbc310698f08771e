"""One planner tick: load the state, plan what is due now, write it to the outbox exactly once.

Only the groups the next-due index says are due are loaded and planned (checkin.schedules.due_index);
planning a group also gives the instant it is next due, which the caller stores after committing.
`write_due` is a whole tick in one process; the cron leader runs `housekeeping` and hands the due
groups to workers, each running `write_groups` on its share (workers/schedule_jobs.py).

Exactly once comes from the outbox's unique idempotency key: rows are inserted with ON CONFLICT
DO NOTHING, so a second tick, a second cron process or a restart inserts nothing already there
(on PostgreSQL a concurrent insert of the same key waits for the first and then skips). Only
rows this tick inserted get their CheckIn (prompts) or nudged_at (nudges), in the same
transaction, and only they are returned for delivery.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from checkin import unit_of_work
from checkin.checkins import CheckIn, close_stale_prompts
from checkin.models import OutboxItem
from checkin.outbox import DEFAULT_QUEUE
from checkin.schedules import due_index
from checkin.schedules.late import guard_late_sends
from checkin.schedules.plan import load_config
from checkin.schedules.planning import GroupState, PlannedSend, plan_due
from checkin.schedules.service import load_state

log = logging.getLogger("checkin.schedules.tick")
CHUNK = 2000


@dataclass
class TickResult:
    planned: int = 0  # sends due now and not held
    held: dict[str, int] = field(default_factory=dict)  # reason -> count, of sends due now
    created: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, queue) this tick inserted
    late: dict[str, int] = field(default_factory=dict)  # earlier rows cancelled or held back (see late.py)
    closed: dict[str, int] = field(default_factory=dict)  # open prompts closed: unsent | missed -> count
    # group id -> (plan_seq read before planning, next due instant), for due_index.record
    next_due: dict[int, tuple[int, datetime]] = field(default_factory=dict)


def _insert(session: Session, table, rows: list[dict], key: str, returning=None):
    """INSERT ... ON CONFLICT (key) DO NOTHING [RETURNING ...], batched, on PostgreSQL and SQLite."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=[key])
    if returning is None:
        session.execute(stmt, rows)
        return []
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs with one cached compile.
    return session.execute(stmt.returning(*returning), rows).all()


def _existing(session: Session, keys: list[str]) -> set[str]:
    """Which of these outbox keys are already written (one array parameter on PostgreSQL, not thousands)."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy import any_

        # One text split by the server: the driver would dump an array's elements one by one in Python.
        keys_text = "\n".join(keys) if not any("\n" in key for key in keys) else None
        if keys_text is not None:
            param = func.string_to_array(keys_text, "\n")
        else:
            from sqlalchemy import String, bindparam
            from sqlalchemy.dialects.postgresql import ARRAY

            param = bindparam("keys", value=keys, type_=ARRAY(String))
        return set(
            session.scalars(
                select(OutboxItem.idempotency_key).where(OutboxItem.idempotency_key == any_(param))
            )
        )
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.scalars(select(OutboxItem.idempotency_key).where(OutboxItem.idempotency_key.in_(chunk)))
        )
    return found


OUTBOX_COLUMNS = (  # the keys of an outbox row as the tick writes it (_outbox_row)
    "idempotency_key",
    "channel",
    "purpose",
    "queue",
    "to_number",
    "from_number",
    "body",
    "twiml_url",
    "member_id",
    "next_attempt_at",
)


def _outbox_row(send: PlannedSend, now: datetime) -> dict:
    return dict(
        idempotency_key=send.key,
        channel=send.channel,
        purpose=send.kind,
        queue=DEFAULT_QUEUE,
        to_number=send.phone,
        from_number=send.from_number,
        body=send.body,
        twiml_url=send.twiml_url,
        member_id=send.member_id,
        next_attempt_at=now,
    )


# Starts writing outbox rows whose key is new and returns a function that waits for the write and gives
# (id, key, queue) of those it inserted. Until that is called the session's connection is the writer's: the
# caller makes no statement, and plans its next rows meanwhile. PostgreSQL's COPY (checkin.adapters.pg_bulk)
# is given by the composition root, for ticks of many thousand rows.
Written = Callable[[], list[tuple[int, str, str]]]
BulkInsert = Callable[[Session, list[dict], datetime], Written]


def _insert_outbox(
    session: Session, rows: list[dict], now: datetime, bulk: BulkInsert | None = None
) -> list[tuple[int, str, str]]:
    """Insert outbox rows whose key is new; returns (id, key, queue) of those this call inserted."""
    return _start_insert(session, rows, now, bulk)()


insert_outbox_rows = _insert_outbox  # for other bulk writers of the outbox (announcements)


def write_due(
    session: Session, now: datetime, *, base_url: str = "", bulk_insert: BulkInsert | None = None
) -> TickResult:
    """One whole tick in one process: the housekeeping, then every group the next-due index says is due.
    Call inside one transaction; then store `result.next_due` (due_index.record) in a transaction of its own.
    `bulk_insert`: a faster way to write the new outbox rows (Runtime.bulk_outbox_insert)."""
    result = housekeeping(session, now)
    due = due_index.due_groups(session, now)
    planned = write_groups(session, now, due, base_url=base_url, bulk_insert=bulk_insert)
    planned.closed, planned.late = result.closed, result.late
    return planned


def housekeeping(session: Session, now: datetime) -> TickResult:
    """The part of a tick that is not per group: close stale prompts, hold or cancel late sends."""
    result = TickResult()
    result.closed = close_stale_prompts(session, now)
    result.late = guard_late_sends(session, now)
    if result.late:
        log.info("schedule tick late=%s", result.late)
    return result


def write_groups(
    session: Session,
    now: datetime,
    groups_seq: list[tuple[int, int]],
    *,
    base_url: str = "",
    bulk_insert: BulkInsert | None = None,
) -> TickResult:
    """Plan these groups ((id, plan_seq read before planning)) at `now` and write what is due and not yet
    written; `result.next_due` holds each planned group's (plan_seq, next due instant) for due_index.record."""
    with _no_cycle_collection():
        return _write_groups(session, now, groups_seq, base_url, bulk_insert)


@contextmanager
def _no_cycle_collection():
    """Planning makes a few small objects per member, none in a cycle, and keeps them until the rows are
    written: the cycle collector would walk them again and again (a quarter of loading and planning's CPU
    at 200,000 members) and free none of them. Reference counting frees them as before; the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_groups(
    session: Session,
    now: datetime,
    groups_seq: list[tuple[int, int]],
    base_url: str,
    bulk_insert: BulkInsert | None,
) -> TickResult:
    result = TickResult()
    if not groups_seq:
        return result
    seq = dict(groups_seq)
    groups, prompts = load_state(session, now, sorted(seq))
    # A group without a schedule plans nothing: look again after the horizon (a new schedule resets it).
    result.next_due = {gid: (s, now + due_index.HORIZON) for gid, s in seq.items()}
    if not groups:
        return result
    config, lookback = load_config(), max(g.plan.lookback for g in groups)  # one window for every part
    prompts_by_group: dict[int, list] = {}
    for prompt in prompts:
        prompts_by_group.setdefault(prompt.group_id, []).append(prompt)
    by_key: dict[str, PlannedSend] = {}
    created_keys: list[str] = []
    pending = None  # the write of the part before: PostgreSQL works on it while this part is planned
    try:
        for part in _parts(groups, PART_MEMBERS):
            plan = plan_due(
                part,
                now,
                config=config,
                open_prompts=[p for g in part for p in prompts_by_group.get(g.id, ())],
                base_url=base_url,
                horizon=due_index.HORIZON,
                lookback=lookback,
            )
            for gid in plan.failed:
                del result.next_due[gid]
            result.next_due.update((gid, (seq[gid], when)) for gid, when in plan.next_due.items())
            due = []
            for send in plan.sends:
                if send.held_reason is None:
                    due.append(send)
                else:
                    result.held[send.held_reason] = result.held.get(send.held_reason, 0) + 1
            result.planned += len(due)
            part_keys = {s.key: s for s in due}
            for key, send in part_keys.items():  # a key planned in an earlier part is written by that part
                by_key.setdefault(key, send)
            if pending is not None:
                _created(pending(), result, created_keys)
                pending = None
            # Most of a tick's window was written by earlier ticks: skip those before encrypting bodies.
            done = _existing(session, list(part_keys))
            rows = [_outbox_row(s, now) for s in due if s.key not in done]
            if rows:
                pending = _start_insert(session, rows, now, bulk_insert)
        if pending is not None:
            _created(pending(), result, created_keys)
            pending = None
    finally:
        if pending is not None:  # planning failed: the write still holds the connection, wait for it
            with suppress(Exception):
                pending()
    unit_of_work.record_sends(
        session, ((i, q, by_key[k].channel) for (i, q), k in zip(result.created, created_keys))
    )
    _record_checkins(session, [by_key[k] for k in created_keys], now)
    if result.created:
        log.info(
            "schedule tick groups=%d due=%d written=%d held=%s",
            len(groups),
            result.planned,
            len(result.created),
            result.held,
        )
    return result


# Members per part of a tick. The rows of a part are written (a COPY in flight, on PostgreSQL) while the next
# part is planned, so Python and the database work at once instead of taking turns; a planning job (about
# 10,000 members) has a few parts, and a part's few statements are little beside its rows. The parts of the
# same groups are always the same, so two writers of them still write their keys in the same order.
PART_MEMBERS = 2500


def _parts(groups: list[GroupState], size: int):
    part: list[GroupState] = []
    count = 0
    for group in groups:
        part.append(group)
        count += len(group.members)
        if count >= size:
            yield part
            part, count = [], 0
    if part:
        yield part


def _start_insert(session: Session, rows: list[dict], now: datetime, bulk: BulkInsert | None) -> Written:
    """Start writing outbox rows: by `bulk` if given, else by plain INSERTs, written before this returns."""
    if bulk is not None:
        return bulk(session, rows, now)
    table = OutboxItem.__table__
    extra = dict(state="pending", attempts=0, created_at=now, updated_at=now)
    # In key order, so two ticks inserting the same keys queue behind each other instead of deadlocking.
    created = _insert(
        session,
        table,
        [dict(r, **extra) for r in sorted(rows, key=lambda r: r["idempotency_key"])],
        "idempotency_key",
        (table.c.id, table.c.idempotency_key, table.c.queue),
    )
    return lambda: created


def _created(rows: list[tuple[int, str, str]], result: TickResult, created_keys: list[str]) -> None:
    for row_id, key, queue in rows:
        result.created.append((row_id, queue))
        created_keys.append(key)


def _record_checkins(session: Session, created: list[PlannedSend], now: datetime) -> None:
    """A prompt opens a CheckIn (and closes the member's older open one as missed); a nudge marks it."""
    prompts = [s for s in created if s.kind == "prompt"]
    nudges = [s for s in created if s.kind == "nudge"]
    for start in range(0, len(prompts), CHUNK):
        chunk = prompts[start : start + CHUNK]
        # Unanswered by the time the next prompt goes out: missed (the rules read "three in a row").
        by_group: dict[int, list[int]] = {}
        for send in chunk:
            by_group.setdefault(send.group_id, []).append(send.member_id)
        for group_id, member_ids in by_group.items():
            session.execute(
                update(CheckIn)
                .where(
                    CheckIn.group_id == group_id,
                    CheckIn.member_id.in_(member_ids),
                    CheckIn.state == "open",
                    CheckIn.prompt_key.like("prompt:%"),
                    CheckIn.prompted_at < now,
                )
                .values(state="missed", closed_at=now)
                .execution_options(synchronize_session=False)
            )
        _insert(
            session,
            CheckIn.__table__,
            [
                dict(
                    member_id=s.member_id,
                    group_id=s.group_id,
                    channel=s.channel,
                    prompt_key=s.key,
                    prompted_at=now,
                    state="open",
                    created_at=now,
                )
                for s in chunk
            ],
            "prompt_key",
            None,
        )
    for start in range(0, len(nudges), CHUNK):
        keys = ["prompt:" + s.key.split(":", 1)[1] for s in nudges[start : start + CHUNK]]
        session.execute(
            update(CheckIn)
            .where(CheckIn.prompt_key.in_(keys), CheckIn.nudged_at.is_(None))
            .values(nudged_at=now)
            .execution_options(synchronize_session=False)
        )
