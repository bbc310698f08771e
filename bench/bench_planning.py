"""The planner at scale, on a throwaway PostgreSQL database (created here, dropped afterwards).

    python -m bench planning [--members 1000000]     (groups: members / 50)

Seeded with COPY: every group meets weekly, 24 hours after the tick, in one of six zones (one member in
50 lives in Asia/Kolkata, in their night at tick time, so their reminder waits for the morning), so the
first tick writes a day-before reminder for nearly every member. Printed, beside a baseline measured in
the same run on the same database:
- baseline: a plain COPY of as many outbox rows with the same columns into a copy of the outbox table;
- first tick: one process plans every group (the index is empty) and writes the rows, as a ratio of the COPY;
- idle tick, a minute later (the written rows marked sent, as workers would, and the outbox and groups
  vacuumed and analysed, as autovacuum would): database time (summed over the statements) and this process's CPU apart, the median of 5;
- a tick after 1% of the groups changed their plan (a 30-minute reminder added): only those are planned;
- the first tick again (outbox emptied, index reset) as planning jobs of 200 groups taken by 1 and by 2
  worker processes (`workers.schedule_jobs.plan_groups`, each with its own Runtime; the jobs handed out
  through a multiprocessing queue instead of Redis), and the wall-time ratio of 2 workers to 1.
The machine is shared (2 cores, other work running): the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.common import temp_database

ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "America/Phoenix",
)
# Monday 7 January 2030, 18:00 UTC: daytime in every zone above; Asia/Kolkata is at 23:30.
NOW = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)
BASE_URL = "https://checkin.example.org"
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench planning")
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("CHECKIN_BENCH_PLAN_MEMBERS", "1000000"))
    )
    parser.add_argument("--per-group", type=int, default=50)
    args, _ = parser.parse_known_args(argv)
    if args.members < args.per_group:
        parser.error(f"--members must be at least {args.per_group}")
    return args


def _copy(cursor, table: str, cols: tuple[str, ...], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(db, members: int, groups: int) -> None:
    """Groups, schedules, members and memberships by COPY (as a bulk import of a national network would)."""
    meeting = NOW + timedelta(hours=24)
    per_group = members // groups
    with db.session() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        locals_ = [meeting.astimezone(ZoneInfo(ZONES[g % len(ZONES)])) for g in range(len(ZONES))]
        _copy(
            cursor,
            "groups",
            ("id", "name", "timezone", "phone_number", "created_at"),
            ((g + 1, f"Group {g + 1}", ZONES[g % len(ZONES)], f"+1500{g:07d}", NOW) for g in range(groups)),
        )
        _copy(
            cursor,
            "schedules",
            ("group_id", "rrule", "starts_on", "start_local", "duration_minutes", "location", "updated_at"),
            (
                (
                    g + 1,
                    "FREQ=WEEKLY;BYDAY=" + DAYS[locals_[g % len(ZONES)].weekday()],
                    date(2030, 1, 1),
                    locals_[g % len(ZONES)].time(),
                    90,
                    "12 Main St",
                    NOW,
                )
                for g in range(groups)
            ),
        )
        # One member in 50 lives elsewhere, one in 40 is Spanish-speaking, one in 25 takes calls, one in
        # 100 has opted out.
        _copy(
            cursor,
            "members",
            ("id", "phone", "display_name", "language", "timezone", "channel", "status", "created_at"),
            (
                (
                    m + 1,
                    f"+1202{m:07d}",
                    f"Member {m}",
                    "es" if m % 40 == 0 else "en",
                    "Asia/Kolkata" if m % 50 == 7 else None,
                    "voice" if m % 25 == 3 else "sms",
                    "opted_out" if m % 100 == 11 else "active",
                    NOW,
                )
                for m in range(members)
            ),
        )
        _copy(
            cursor,
            "group_members",
            ("group_id", "member_id", "joined_at"),
            ((min(m // per_group, groups - 1) + 1, m + 1, NOW) for m in range(members)),
        )
        cursor.execute("SELECT setval('groups_id_seq', %s), setval('members_id_seq', %s)", (groups, members))
        cursor.execute("ANALYZE")
        cursor.close()


class StatementClock:
    """Seconds spent in the database driver's execute (the statements' round trips), summed."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.total = 0.0
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args):
        self._started.append(time.perf_counter())

    def _after(self, *_args):
        self.total += time.perf_counter() - self._started.pop()


def one_tick(db, now: datetime):
    """(wall s, CPU s, rows written, groups planned) of one whole tick in one process, as schedule_jobs.tick."""
    from checkin.adapters.pg_bulk import insert_outbox
    from checkin.schedules import due_index
    from checkin.schedules.tick import write_due

    started, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:
        result = write_due(session, now, base_url=BASE_URL, bulk_insert=insert_outbox)
    with db.session() as session:
        due_index.record(session, result.next_due)
    return time.perf_counter() - started, time.process_time() - cpu, len(result.created), len(result.next_due)


def baseline(db, rows: int) -> float:
    """The write floor: COPY `rows` outbox rows with the same columns (one encrypted body) into a copy of the
    outbox table (its indexes too) and commit."""
    from checkin import crypto

    body = crypto.encrypt(
        "Reminder: Group 1 meets tomorrow, Tue, Jan 8 at 1:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not.",
        db.engine.dialect,
    )
    cols = (
        "idempotency_key",
        "channel",
        "purpose",
        "queue",
        "to_number",
        "from_number",
        "body",
        "member_id",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    )
    with db.session() as session:
        session.connection().exec_driver_sql("CREATE TABLE outbox_floor (LIKE outbox INCLUDING ALL)")
    started = time.perf_counter()
    with db.session() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        _copy(
            cursor,
            "outbox_floor",
            cols,
            (
                (
                    f"reminder:{i + 1}:20300108T1800Z:1440",
                    "sms",
                    "reminder",
                    "outbox",
                    f"+1202{i:07d}",
                    "+15000000006",
                    body,
                    i + 1,
                    "pending",
                    0,
                    NOW,
                    NOW,
                    NOW,
                )
                for i in range(rows)
            ),
        )
        cursor.close()
    seconds = time.perf_counter() - started
    with db.session() as session:
        session.connection().exec_driver_sql("DROP TABLE outbox_floor")
    return seconds


def _worker_env(url: str, key: str, instance: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "CHECKIN_ENCRYPTION_KEY": key,
        "SECRET_KEY": "bench-" + "x" * 40,
        "PUBLIC_BASE_URL": BASE_URL,
        "CHECKIN_INSTANCE_PATH": instance,
    }


def _worker(environ: dict, now: datetime, jobs, done, ready) -> None:
    """A worker process: its own Runtime, planning job after job until it takes None."""
    from checkin.bootstrap import Runtime
    from checkin.unit_of_work import DiscardDispatcher
    from config import load_settings
    from workers import schedule_jobs

    runtime = Runtime.build(load_settings(environ), dispatcher=DiscardDispatcher())
    runtime.db.ping()
    ready.put(os.getpid())
    written, cpu = 0, time.process_time()
    while (ids := jobs.get()) is not None:
        written += schedule_jobs.plan_groups(ids, now, runtime=runtime)
    runtime.db.dispose()
    done.put((written, time.process_time() - cpu))


def spread_tick(db, environ: dict, now: datetime, workers: int) -> tuple[float, int, int, list[float]]:
    """(wall s, rows written, jobs, each worker's CPU s) of one tick handed out as planning jobs to `workers` processes:
    what `schedule_jobs.dispatch` does (housekeeping, claim the due groups), then the jobs."""
    from checkin.schedules import due_index
    from checkin.schedules.tick import housekeeping
    from workers.schedule_jobs import CLAIM, SHARD_GROUPS

    ctx = multiprocessing.get_context("spawn")
    jobs, done, ready = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(environ, now, jobs, done, ready)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=120)  # started and connected: not part of the tick
        started = time.perf_counter()
        with db.session() as session:
            housekeeping(session, now)
        with db.session() as session:
            claimed = [gid for gid, _ in due_index.claim_due(session, now, now + CLAIM)]
        shards = [claimed[i : i + SHARD_GROUPS] for i in range(0, len(claimed), SHARD_GROUPS)]
        for shard in shards:
            jobs.put(shard)
        for _ in procs:
            jobs.put(None)
        results = [done.get(timeout=3600) for _ in procs]
        wall = time.perf_counter() - started
        return wall, sum(r[0] for r in results), len(shards), [round(r[1], 2) for r in results]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()


def reset(db) -> None:
    """Back to before the first tick: no outbox rows or check-ins, every group unplanned."""
    with db.session() as session:
        session.connection().exec_driver_sql("TRUNCATE outbox, checkins CASCADE")
        session.connection().exec_driver_sql("UPDATE groups SET next_due_at = NULL")
        session.connection().exec_driver_sql("ANALYZE groups")


def main(argv: list[str] | None = None) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import update

    from checkin import crypto
    from checkin.db import Database
    from checkin.models import OutboxItem
    from checkin.schedules import set_plan

    args = options(sys.argv[1:] if argv is None else argv)
    members, groups = args.members, max(1, args.members // args.per_group)
    key = Fernet.generate_key().decode()
    print(
        f"{members} members in {groups} groups; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        " (a shared machine: wall seconds include waiting for a core)",
        flush=True,
    )
    with temp_database("checkin_bench_plan") as url, tempfile.TemporaryDirectory() as instance:
        db = Database(url)
        crypto.install(db.engine, [key])
        try:
            started = time.perf_counter()
            seed(db, members, groups)
            print(f"{'seed (COPY)':<28} {time.perf_counter() - started:7.2f} s", flush=True)

            seconds, cpu, written, planned = one_tick(db, NOW)
            base = baseline(db, written)
            print(
                f"{'baseline: COPY same rows':<28} {base:7.2f} s  {written} rows  {written / base:8.0f} rows/s",
                flush=True,
            )
            print(
                f"{'first tick, 1 process':<28} {seconds:7.2f} s  {written} rows  {planned} groups planned"
                f"  python cpu {cpu:.2f} s  = {seconds / base:.2f} x the COPY",
                flush=True,
            )
            with db.session() as session:  # what the workers would have done by the next minute
                session.execute(update(OutboxItem).values(state="sent"))
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                # As autovacuum would after so many updates (groups: every next_due_at was just set).
                conn.exec_driver_sql("VACUUM ANALYZE outbox, groups")

            clock = StatementClock(db.engine)
            samples = []
            for i in range(5):
                clock.total = 0.0
                wall, cpu, rows, planned = one_tick(db, NOW + timedelta(minutes=1 + i))
                samples.append((clock.total, cpu, wall, rows, planned))
            db_s, cpu_s, wall_s = (statistics.median(s[k] for s in samples) for k in range(3))
            print(
                f"{'idle tick (median of 5)':<28} {wall_s * 1000:7.1f} ms wall  database {db_s * 1000:.1f} ms"
                f"  python cpu {cpu_s * 1000:.1f} ms  rows {sum(s[3] for s in samples)}"
                f"  groups planned {sum(s[4] for s in samples)}",
                flush=True,
            )

            changed = list(range(1, groups + 1, 100))  # 1% of the groups
            edit_at = NOW + timedelta(minutes=6)
            with db.session() as session:
                for gid in changed:
                    set_plan(session, gid, now=edit_at, reminder_offsets_minutes=[1440, 120, 30])
            clock.total = 0.0
            wall, cpu, rows, planned = one_tick(db, NOW + timedelta(minutes=7))
            print(
                f"{'tick after 1% changed plan':<28} {wall * 1000:7.1f} ms wall  database {clock.total * 1000:.1f} ms"
                f"  python cpu {cpu * 1000:.1f} ms  {planned} groups planned ({len(changed)} changed)  rows {rows}",
                flush=True,
            )

            db.dispose()
            environ = _worker_env(url, key, instance)
            times = {}
            for n in (1, 2):
                reset(db)
                wall, rows, jobs, cpus = spread_tick(db, environ, NOW, n)
                times[n] = wall
                print(
                    f"{f'first tick, {n} worker(s)':<28} {wall:7.2f} s  {rows} rows  {jobs} jobs"
                    f"  = {wall / base:.2f} x the COPY  python cpu per worker {cpus} s",
                    flush=True,
                )
            print(
                f"{'2 workers / 1 worker':<28} {times[2] / times[1]:7.2f}  (wall time; 0.5 would be a perfect split)"
                f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                flush=True,
            )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
