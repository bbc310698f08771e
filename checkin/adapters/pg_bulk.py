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
(checkin.schedules.tick.BulkInsert), given by the composition root on PostgreSQL: the COPY goes on in a
thread of its own, so the tick plans its next part while PostgreSQL writes, checks and indexes this one's rows.
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
_NEXT = OUTBOX_COLUMNS.index("next_attempt_at")
_values = itemgetter(*OUTBOX_COLUMNS)


def start_insert_outbox(
    session: Session, rows: list[dict], now: datetime
) -> Callable[[], list[tuple[int, str, str]]]:
    """Start inserting outbox rows whose key is new; returns a function that waits for the write and gives
    (id, key, queue) of those it inserted. Until then the connection is the writer's: the caller makes no
    statement on it.

    The rows' COPY text is made here, in the caller's thread, and only the COPY itself goes to a thread of its
    own: that thread then has no Python to run, only the wait for the server to take the rows, index them
    and check their foreign keys, with the interpreter free. (Formatting row by row in the thread kept it
    queuing for the interpreter lock behind the caller's planning, so the two took turns.)"""
    if not rows:
        return list
    connection = session.connection().connection.driver_connection
    dialect = session.get_bind().dialect
    rows = sorted(rows, key=itemgetter("idempotency_key"))
    ids = _take_ids(connection, len(rows))
    text = _copy_text(ids, rows, now, dialect).encode(connection.info.encoding)
    cursor = connection.cursor()
    cursor.execute("SAVEPOINT tick_outbox_copy")
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            with cursor.copy(_COPY) as copy:
                copy.write(text)
        except BaseException as exc:  # handed to the caller, who waits for it
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="outbox-copy", daemon=True)
    thread.start()

    def written() -> list[tuple[int, str, str]]:
        thread.join()
        try:
            error = outcome.get("error")
            if isinstance(error, errors.UniqueViolation):
                # A key that is there after all: another tick or process wrote it meanwhile.
                cursor.execute("ROLLBACK TO SAVEPOINT tick_outbox_copy")
                log.info(
                    "outbox bulk insert: some keys were written meanwhile; skipping them (rows=%d)", len(rows)
                )
                return _copy_then_insert(cursor, _encrypted(rows, dialect), now)
            if error is not None:
                raise error
            cursor.execute("RELEASE SAVEPOINT tick_outbox_copy")
            return [
                (row_id, row["idempotency_key"], row["queue"]) for row_id, row in zip(ids, rows, strict=True)
            ]
        finally:
            cursor.close()

    return written


def _encrypted(rows: list[dict], dialect) -> list[list]:
    """The rows' values in OUTBOX_COLUMNS order, bodies encrypted, times as text (for the scratch table's COPY)."""
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
# them row by row during the COPY): an array, one value to read back however many rows. The ids are ours
# whatever other sessions take meanwhile (a sequence never gives one twice), so nothing is read back after
# the COPY; ids left unused by a rollback are a gap in the sequence, as any rollback leaves.
_IDS = "SELECT array_agg(nextval('outbox_id_seq')) FROM generate_series(1, %(n)s)"


def _take_ids(connection, n: int) -> list[int]:
    with connection.cursor(binary=True) as cursor:
        cursor.execute(_IDS, {"n": n})
        return sorted(cursor.fetchone()[0])


# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped; NULL is \\N.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _text(value: str) -> str:
    # Most values hold none of them: looking is cheaper than translate's character-by-character pass.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


# The COPY's columns: a row's own values first, then those most rows share with others (one text for them all).
_OWN = ("id", "idempotency_key", "to_number", "member_id", "twiml_url")
_SHARED = ("channel", "purpose", "queue", "from_number", "body", "next_attempt_at")
_COPY = f"COPY outbox ({', '.join(_OWN + _SHARED)}, state, attempts, created_at, updated_at) FROM STDIN"
_shared = itemgetter(*_SHARED)


def _field(value) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bytes):  # bytea's hex text, its backslash escaped
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return _text(str(value))


def _copy_text(ids: list[int], rows: list[dict], now: datetime, dialect) -> str:
    """The rows as COPY text (_COPY's columns), bodies encrypted. A tick has few distinct bodies, numbers and
    times: the text of the values a row shares with others is made once per distinct set of them."""
    tail = "\t".join(("pending", "0", now.isoformat(), now.isoformat()))
    tokens: dict[str, bytes] = {}  # one ciphertext per distinct text
    shared_texts: dict[tuple, str] = {}
    lines = []
    for row_id, row in zip(ids, rows, strict=True):
        shared = _shared(row)
        text = shared_texts.get(shared)
        if text is None:
            body = shared[4]
            if body is not None and body not in tokens:
                tokens[body] = crypto.encrypt(body, dialect)
            values = (*shared[:4], None if body is None else tokens[body], shared[5])
            text = shared_texts[shared] = "\t".join([*map(_field, values), tail])
        twiml, member = row["twiml_url"], row["member_id"]
        lines.append(
            f"{row_id}\t{_text(row['idempotency_key'])}\t{_text(row['to_number'])}"
            f"\t{_NULL if member is None else member}\t{_NULL if twiml is None else _text(twiml)}"
            f"\t{text}\n"
        )
    return "".join(lines)


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
