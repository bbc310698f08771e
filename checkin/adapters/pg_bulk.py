"""The planning tick's outbox rows into PostgreSQL by COPY (psycopg's copy protocol).

COPY into a scratch table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING, in key order so two
ticks inserting the same keys queue behind each other instead of deadlocking. A hundred thousand
rows this way take seconds; multi-row VALUES take minutes. Written against the driver (a psycopg
cursor, its paramstyle), so it lives here; the tick takes it as `bulk_insert`
(checkin.schedules.tick.BulkInsert), given by the composition root on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from checkin import crypto
from checkin.schedules.tick import OUTBOX_COLUMNS


def insert_outbox(session: Session, rows: list[dict], now: datetime) -> list[tuple[int, str, str]]:
    """Insert outbox rows whose key is new; returns (id, key, queue) of those this call inserted."""
    tokens: dict[str, bytes] = {}  # one ciphertext per distinct text in a tick (most bodies repeat)
    dialect = session.get_bind().dialect
    cols = ", ".join(OUTBOX_COLUMNS)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(
            "CREATE TEMP TABLE tick_outbox (idempotency_key varchar(200), channel varchar(8), purpose varchar(24), "
            "queue varchar(16), to_number varchar(20), from_number varchar(20), body bytea, twiml_url varchar(500), "
            "member_id integer, next_attempt_at timestamptz) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY tick_outbox ({cols}) FROM STDIN") as copy:
            for row in rows:
                body = row["body"]
                if body is not None:
                    body = tokens.get(body) or tokens.setdefault(body, crypto.encrypt(body, dialect))
                copy.write_row(tuple(body if c == "body" else row[c] for c in OUTBOX_COLUMNS))
        cursor.execute(
            f"INSERT INTO outbox ({cols}, state, attempts, created_at, updated_at) "  # noqa: S608 - cols is our own column list, values are bound
            f"SELECT {cols}, 'pending', 0, %(now)s, %(now)s FROM tick_outbox ORDER BY idempotency_key "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, queue",
            {"now": now},
        )
        created = cursor.fetchall()
        cursor.execute("DROP TABLE tick_outbox")
        return [tuple(r) for r in created]
    finally:
        cursor.close()
