"""One planner tick for 100,000 members in 2,000 groups, on a throwaway PostgreSQL database.

    python -m bench planning

Every group meets weekly, 24 hours after the tick, in one of six zones (members of some groups live in
another zone), so the tick plans and writes a day-before reminder for nearly every member; quiet hours
hold back the rest. Printed: the tick's seconds (load the state, plan, write outbox rows, commit) and
rows written per second, a second tick at the same minute (plans again, writes nothing: the steady-state
cost of a tick), and, measured in the same process on the same database, a baseline: the write floor,
a plain COPY of as many outbox rows with the same columns straight into the table, as a ratio.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.common import temp_database

GROUPS = int(os.environ.get("CHECKIN_BENCH_PLAN_GROUPS", "2000"))
MEMBERS = int(os.environ.get("CHECKIN_BENCH_PLAN_MEMBERS", "100000"))
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "America/Phoenix",
)
# Monday 7 January 2030, 18:00 UTC: daytime in every zone above; the members given Asia/Kolkata
# (23:30 there) are in their night, so their reminders wait for the morning.
NOW = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)
CHUNK = 5000


def seed(url: str) -> None:
    from sqlalchemy import create_engine, insert

    from checkin.models import Group, GroupMember, Member
    from checkin.schedules.models import Schedule

    engine = create_engine(url)
    meeting = NOW + timedelta(hours=24)
    with engine.begin() as conn:
        groups, schedules = [], []
        for g in range(GROUPS):
            zone = ZONES[g % len(ZONES)]
            local = meeting.astimezone(ZoneInfo(zone))
            groups.append(
                dict(
                    id=g + 1,
                    name=f"Group {g + 1}",
                    timezone=zone,
                    phone_number=f"+1500555{g:04d}",
                    created_at=NOW,
                )
            )
            schedules.append(
                dict(
                    group_id=g + 1,
                    rrule="FREQ=WEEKLY;BYDAY=" + ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][local.weekday()],
                    starts_on=date(2030, 1, 1),
                    start_local=local.time(),
                    duration_minutes=90,
                    location="12 Main St",
                    updated_at=NOW,
                )
            )
        conn.execute(insert(Group.__table__), groups)
        conn.execute(insert(Schedule.__table__), schedules)
        per_group = MEMBERS // GROUPS
        for start in range(0, MEMBERS, CHUNK):
            members, links = [], []
            for m in range(start, min(MEMBERS, start + CHUNK)):
                # One member in 50 lives elsewhere (in their night at tick time), one in 40 is Spanish-speaking,
                # one in 25 takes calls, one in 100 has opted out.
                members.append(
                    dict(
                        id=m + 1,
                        phone=f"+1202{m:07d}",
                        display_name=f"Member {m}",
                        language="es" if m % 40 == 0 else "en",
                        timezone="Asia/Kolkata" if m % 50 == 7 else None,
                        channel="voice" if m % 25 == 3 else "sms",
                        status="opted_out" if m % 100 == 11 else "active",
                        created_at=NOW,
                    )
                )
                links.append(
                    dict(
                        group_id=m // per_group + 1 if m // per_group < GROUPS else GROUPS,
                        member_id=m + 1,
                        joined_at=NOW,
                    )
                )
            conn.execute(insert(Member.__table__), members)
            conn.execute(insert(GroupMember.__table__), links)
    engine.dispose()


def tick(db) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result) of one tick in one transaction."""
    from checkin.adapters.pg_bulk import insert_outbox
    from checkin.schedules.tick import write_due

    bulk = insert_outbox if db.engine.dialect.name == "postgresql" else None
    started, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:
        result = write_due(session, NOW, base_url="https://checkin.example.org", bulk_insert=bulk)
    return time.perf_counter() - started, time.process_time() - cpu, result


def baseline(db, rows: int) -> float:
    """The write floor: COPY `rows` outbox rows with the same columns (one encrypted body) and commit."""
    from checkin import crypto

    body = crypto.encrypt(
        "Reminder: Group 1 meets tomorrow, Tue 8 Jan at 1:00 PM, at 12 Main St. Reply 1 if you're coming, 2 if not.",
        db.engine.dialect,
    )
    cols = (
        "idempotency_key, channel, purpose, queue, to_number, from_number, body, member_id, state, attempts, "
        "next_attempt_at, created_at, updated_at"
    )
    started = time.perf_counter()
    with db.session() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY outbox ({cols}) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row(
                    (
                        f"baseline:{i}",
                        "sms",
                        "reminder",
                        "outbox",
                        f"+1202{i:07d}",
                        "+15005550006",
                        body,
                        i + 1,
                        "pending",
                        0,
                        NOW,
                        NOW,
                        NOW,
                    )
                )
        cursor.close()
    return time.perf_counter() - started


def main() -> None:
    from cryptography.fernet import Fernet

    from checkin import crypto
    from checkin.db import Database

    key = Fernet.generate_key().decode()
    with temp_database("checkin_bench_plan") as url:
        started = time.perf_counter()
        seed(url)
        print(
            f"seeded {GROUPS} groups, {MEMBERS} members in {time.perf_counter() - started:.1f} s", flush=True
        )
        db = Database(url)
        crypto.install(db.engine, [key])
        try:
            seconds, cpu, result = tick(db)
            written = len(result.created)
            held = ", ".join(f"{reason} {count}" for reason, count in sorted(result.held.items())) or "none"
            print(
                f"{'tick (plan + write)':<22} {seconds:7.2f} s  {written} rows written  {written / seconds:8.0f} rows/s"
                f"  python cpu {cpu:.2f} s  (due {result.planned}; held: {held})",
                flush=True,
            )
            again, again_cpu, second = tick(db)
            print(
                f"{'second tick, same now':<22} {again:7.2f} s  {len(second.created)} rows written (idempotent)"
                f"  python cpu {again_cpu:.2f} s",
                flush=True,
            )
            base = baseline(db, written)
            print(
                f"{'baseline COPY':<22} {base:7.2f} s  {written} rows written  {written / base:8.0f} rows/s",
                flush=True,
            )
            print(
                f"{'ratio (tick/baseline)':<22} {seconds / base:7.2f} x the time of a plain COPY of the same rows"
                f"  (rows/s {written / seconds / (written / base):.2f} of the baseline's)",
                flush=True,
            )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
