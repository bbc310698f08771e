"""The planning tick's outbox rows into PostgreSQL by COPY (psycopg's copy protocol).

Fast path: take the rows' ids from the outbox's sequence in one statement, then COPY the rows, ids
included, straight into the outbox, in key order, inside a savepoint. The tick has already skipped the
keys it found written, so this is nearly always all there is: as cheap as a plain COPY of the rows.
A key that is there after all (another tick or process wrote it meanwhile) makes the COPY fail on the
unique index; then the savepoint is rolled back and the rows go the safe way: COPY into a scratch table,
then one INSERT ... SELECT ... ON CONFLICT DO NOTHING, which skips what is written. Both ways insert in
the same (byte) order of keys, so two ticks writing the same keys queue behind each other instead of
deadlocking; exactly once is the unique index's, either way. Written against the driver (a psycopg
cursor, its paramstyle), so it lives here; the tick takes `start_insert_outbox` as `bulk_insert`
(checkin.schedules.tick.BulkInsert), given by the composition root on PostgreSQL: it writes in a thread
of its own, so the tick plans its next part while PostgreSQL writes, checks and indexes this one's rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter

from psycopg import errors
from sqlalchemy.orm import Session

from checkin import crypto
from checkin.schedules.tick import OUTBOX_COLUMNS

log = logging.getLogger("checkin.adapters.pg_bulk")
_COLS = ", ".join(OUTBOX_COLUMNS)
_BODY = OUTBOX_COLUMNS.index("body")
_KEY = OUTBOX_COLUMNS.index("idempotency_key")
_QUEUE = OUTBOX_COLUMNS.index("queue")
_NEXT = OUTBOX_COLUMNS.index("next_attempt_at")
_values = itemgetter(*OUTBOX_COLUMNS)


def insert_outbox(session: Session, rows: list[dict], now: datetime) -> list[tuple[int, str, str]]:
    """Insert outbox rows whose key is new; returns (id, key, queue) of those this call inserted."""
    return _insert(session.connection().connection.driver_connection, session.get_bind().dialect, rows, now)


def start_insert_outbox(
    session: Session, rows: list[dict], now: datetime
) -> Callable[[], list[tuple[int, str, str]]]:
    """`insert_outbox` started in a thread; returns a function that waits for it and gives what it returns.

    Until then the connection is the thread's, and the caller makes no statement on it. The thread mostly
    waits for the server (the COPY's rows, their index entries, the foreign-key checks at its end), with the
    interpreter free, so the caller's Python and PostgreSQL work at once instead of taking turns."""
    args = (session.connection().connection.driver_connection, session.get_bind().dialect, rows, now)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["rows"] = _insert(*args)
        except BaseException as exc:  # handed to the caller, who waits for it
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="outbox-copy", daemon=True)
    thread.start()

    def written() -> list[tuple[int, str, str]]:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["rows"]

    return written


def _insert(connection, dialect, rows: list[dict], now: datetime) -> list[tuple[int, str, str]]:
    if not rows:
        return []
    values = _encrypted(rows, dialect)
    values.sort(key=itemgetter(_KEY))
    cursor = connection.cursor()
    try:
        created = _copy_straight(cursor, values, now)
        if created is None:
            log.info(
                "outbox bulk insert: some keys were written meanwhile; skipping them (rows=%d)", len(values)
            )
            created = _copy_then_insert(cursor, values, now)
        return created
    finally:
        cursor.close()


def _encrypted(rows: list[dict], dialect) -> list[list]:
    """The rows' values in OUTBOX_COLUMNS order, bodies encrypted, times as text (COPY's text format)."""
    tokens: dict[str, bytes] = {}  # one ciphertext per distinct text in a tick (most bodies repeat)
    times: dict[datetime, str] = {}  # one text per instant: a tick's rows share its `now`
    out = []
    for row in rows:
        values = list(_values(row))
        body = values[_BODY]
        if body is not None:
            values[_BODY] = tokens.get(body) or tokens.setdefault(body, crypto.encrypt(body, dialect))
        when = values[_NEXT]
        if when is not None:
            values[_NEXT] = times.get(when) or times.setdefault(when, when.isoformat())
        out.append(values)
    return out


# Ids for `n` rows, taken from the outbox's sequence in one statement (as the column's default would take
# them row by row during the COPY): an array, one value to read back however many rows.
_IDS = "SELECT array_agg(nextval('outbox_id_seq')) FROM generate_series(1, %(n)s)"


def _copy_straight(cursor, values: list[list], now: datetime) -> list[tuple[int, str, str]] | None:
    """COPY the rows into the outbox with ids taken beforehand; None (nothing written) if a key was there already.

    The ids are ours whatever other sessions take meanwhile (a sequence never gives one twice), so nothing is
    read back afterwards; ids left unused by a rollback are a gap in the sequence, as any rollback leaves."""
    with cursor.connection.cursor(binary=True) as ids_cursor:
        ids_cursor.execute(_IDS, {"n": len(values)})
        ids = sorted(ids_cursor.fetchone()[0])
    cursor.execute("SAVEPOINT tick_outbox_copy")
    try:
        with cursor.copy(
            f"COPY outbox (id, {_COLS}, state, attempts, created_at, updated_at) FROM STDIN"
        ) as copy:
            # Times go as text, formatted once: the driver would format every row's (a third of its work per row).
            tail = ("pending", 0, now.isoformat(), now.isoformat())
            for row_id, row in zip(ids, values, strict=True):
                copy.write_row((row_id, *row, *tail))
    except errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT tick_outbox_copy")
        return None
    cursor.execute("RELEASE SAVEPOINT tick_outbox_copy")
    return [(row_id, row[_KEY], row[_QUEUE]) for row_id, row in zip(ids, values, strict=True)]


def _copy_then_insert(cursor, values: list[list], now: datetime) -> list[tuple[int, str, str]]:
    """COPY into a scratch table, then insert what is not written yet (ON CONFLICT DO NOTHING)."""
    cursor.execute(
        "CREATE TEMP TABLE tick_outbox (idempotency_key varchar(200), channel varchar(8), purpose varchar(24), "
        "queue varchar(16), to_number varchar(20), from_number varchar(20), body bytea, twiml_url varchar(500), "
        "member_id integer, next_attempt_at timestamptz) ON COMMIT DROP"
    )
    with cursor.copy(f"COPY tick_outbox ({_COLS}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)
    cursor.execute(
        f"INSERT INTO outbox ({_COLS}, state, attempts, created_at, updated_at) "  # noqa: S608 - _COLS is our own column list, values are bound
        f"SELECT {_COLS}, 'pending', 0, %(now)s, %(now)s FROM tick_outbox ORDER BY idempotency_key COLLATE \"C\" "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, queue",
        {"now": now},
    )
    created = cursor.fetchall()
    cursor.execute("DROP TABLE tick_outbox")
    return [tuple(r) for r in created]
