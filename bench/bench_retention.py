"""The retention run over a year of data, on a throwaway PostgreSQL database.

    python -m bench retention

MEMBERS members in 20 groups each wrote a text a day for a year (a stored message with its reply, the
outbox row of a reminder, an assessment), and one call a week with a recording. With 180 days for
bodies and 365 for assessments and call records, about half the bodies and the oldest assessments and
calls expire. Printed: the batched run's seconds and rows per second, and its longest transaction that
wrote (how long it held row locks another writer would wait on); beside it, the baseline: the same removal
as one statement per table in one transaction (measured, then rolled back, on the same rows), with the
ratios. The provider is left out (NoProviderData): Twilio's DELETEs cost network time, not locks.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from bench.common import percentile, temp_database

MEMBERS = int(os.environ.get("CHECKIN_BENCH_RETENTION_MEMBERS", "300"))
NOW = datetime(2030, 1, 7, 3, 17, tzinfo=UTC)
DAYS = 365


def seed(db) -> None:
    from sqlalchemy import insert

    from checkin import crypto
    from checkin.escalation.models import AssessmentRecord
    from checkin.models import Group, GroupMember, Member, Message, OutboxItem
    from checkin.voice.models import VoiceCall

    dialect = db.engine.dialect
    body = crypto.encrypt("feeling a bit low today but ok", dialect)
    reply = crypto.encrypt("Thanks for checking in.", dialect)
    reminder = crypto.encrypt(
        "Reminder: your group meets tomorrow at 6 PM. Reply 1 if you're coming.", dialect
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(Group.__table__),
            [
                dict(id=g + 1, name=f"Group {g + 1}", timezone="America/New_York", created_at=NOW)
                for g in range(20)
            ],
        )
        conn.execute(
            insert(Member.__table__),
            [
                dict(
                    id=m + 1,
                    phone=f"+1202{m:07d}",
                    display_name=f"M {m}",
                    language="en",
                    channel="sms",
                    status="active",
                    created_at=NOW,
                )
                for m in range(MEMBERS)
            ],
        )
        conn.execute(
            insert(GroupMember.__table__),
            [dict(group_id=m % 20 + 1, member_id=m + 1, joined_at=NOW) for m in range(MEMBERS)],
        )
    raw = {"body": body, "reply": reply, "reminder": reminder}
    next_id = 1
    for day in range(DAYS):
        at = NOW - timedelta(days=day, hours=5)
        messages, outbox, verdicts, calls = [], [], [], []
        for m in range(MEMBERS):
            messages.append(
                dict(
                    id=next_id,
                    direction="inbound",
                    channel="sms",
                    provider_sid=f"SM{next_id:032x}",
                    member_id=m + 1,
                    from_number=f"+1202{m:07d}",
                    to_number="+15005550006",
                    body=raw["body"],
                    reply_body=raw["reply"],
                    status="received",
                    created_at=at,
                    updated_at=at,
                )
            )
            outbox.append(
                dict(
                    id=next_id,
                    idempotency_key=f"reminder:{next_id}",
                    channel="sms",
                    purpose="reminder",
                    queue="outbox",
                    to_number=f"+1202{m:07d}",
                    body=raw["reminder"],
                    member_id=m + 1,
                    state="sent",
                    attempts=1,
                    next_attempt_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
            verdicts.append(
                dict(
                    message_id=next_id,
                    member_id=m + 1,
                    level="none" if m % 7 else "watch",
                    rules=[],
                    source="sms",
                    created_at=at,
                )
            )
            if day % 7 == m % 7:
                calls.append(
                    dict(
                        call_sid=f"CA{next_id:032x}",
                        direction="inbound",
                        member_id=m + 1,
                        group_id=m % 20 + 1,
                        language="en",
                        status="completed",
                        created_at=at,
                        updated_at=at,
                        recording_url=f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE{next_id:032x}",
                    )
                )
            next_id += 1
        with db.engine.begin() as conn:
            # Bodies are ready-made tokens: inserted through the tables' raw columns.
            conn.execute(insert(_raw(Message.__table__)), messages)
            conn.execute(insert(_raw(OutboxItem.__table__)), outbox)
            conn.execute(insert(AssessmentRecord.__table__), verdicts)
            if calls:
                conn.execute(insert(VoiceCall.__table__), calls)


def _raw(table):
    """The table with its encrypted columns as plain bytes (the seed writes ready-made tokens)."""
    from sqlalchemy import Column, LargeBinary, MetaData, Table

    from checkin.crypto import EncryptedText

    columns = [
        Column(c.name, LargeBinary) if isinstance(c.type, EncryptedText) else Column(c.name, c.type)
        for c in table.columns
    ]
    return Table(table.name, MetaData(), *columns)


def one_statement_per_table(db, periods) -> tuple[float, int]:
    """The baseline: the same removal as one statement per table in one transaction; rolled back."""
    from sqlalchemy import text

    bodies = periods.cutoff("message_bodies", NOW)
    recordings = periods.cutoff("voice_recordings", NOW)
    others = periods.cutoff("assessments", NOW)
    conn = db.engine.connect()
    trans = conn.begin()
    started = time.perf_counter()
    rows = 0
    for sql, cutoff in (
        (
            "UPDATE messages SET body = NULL, reply_body = NULL WHERE created_at < :c AND body IS NOT NULL",
            bodies,
        ),
        ("UPDATE outbox SET body = NULL WHERE created_at < :c AND body IS NOT NULL", bodies),
        (
            "UPDATE voice_calls SET recording_url = NULL WHERE created_at < :c AND recording_url IS NOT NULL",
            recordings,
        ),
        ("DELETE FROM assessments WHERE created_at < :c", others),
        ("DELETE FROM voice_calls WHERE created_at < :c", others),
    ):
        rows += conn.execute(text(sql), {"c": cutoff}).rowcount
    seconds = time.perf_counter() - started
    trans.rollback()
    conn.close()
    return seconds, rows


def main() -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import event

    from checkin import crypto
    from checkin.db import Database
    from checkin.retention import run as retention
    from checkin.retention.policy import Periods
    from checkin.retention.provider import NoProviderData

    periods = Periods(message_bodies=180, voice_recordings=30, notes=365, call_records=365, assessments=365)
    with temp_database("checkin_bench_retention") as url:
        db = Database(url)
        crypto.install(db.engine, [Fernet.generate_key().decode()])
        try:
            started = time.perf_counter()
            seed(db)
            print(
                f"seeded {MEMBERS} members x {DAYS} days in {time.perf_counter() - started:.1f} s", flush=True
            )
            base, base_rows = one_statement_per_table(db, periods)

            # The longest transaction that wrote (held row locks another writer would wait on).
            durations, opened, wrote = [], {}, set()

            @event.listens_for(db.engine, "begin")
            def _begin(conn):
                opened[id(conn)] = time.perf_counter()

            @event.listens_for(db.engine, "before_cursor_execute")
            def _statement(conn, cursor, statement, *args):
                if statement.lstrip().split(None, 1)[0].upper() in ("UPDATE", "DELETE", "INSERT"):
                    wrote.add(id(conn))

            def _end(conn):
                began = opened.pop(id(conn), None)
                if began is not None and id(conn) in wrote:
                    durations.append(time.perf_counter() - began)
                wrote.discard(id(conn))

            event.listen(db.engine, "commit", _end)
            event.listen(db.engine, "rollback", _end)
            started = time.perf_counter()
            report = retention.run(db, NoProviderData(), periods, now=NOW)
            seconds = time.perf_counter() - started
            removed = sum(report.counts.values())
            durations.sort()
            longest = durations[-1]
            print(
                f"{'batched run':<26} {seconds:7.2f} s  {removed} rows  {removed / seconds:8.0f} rows/s"
                f"  writing transactions: {len(durations)}, p50 {percentile(durations, 50) * 1000:.0f} ms,"
                f" p99 {percentile(durations, 99) * 1000:.0f} ms, longest {longest * 1000:.0f} ms",
                flush=True,
            )
            print(
                f"{'baseline: one statement':<26} {base:7.2f} s  {base_rows} rows  {base_rows / base:8.0f} rows/s"
                f"  (one transaction: locks held {base * 1000:.0f} ms)",
                flush=True,
            )
            print(
                f"{'ratio (batched/baseline)':<26} total time x{seconds / base:.2f}; longest lock held "
                f"x{longest / base:.3f} of the one-statement transaction's",
                flush=True,
            )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
