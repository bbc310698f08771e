"""The planner at scale, on a throwaway PostgreSQL database (created here, dropped afterwards).

    python -m bench planning [--members 1000000]     (groups: members / 50)

Seeded with COPY: every group meets weekly, 24 hours after the tick, in one of six zones (one member in
50 lives in Asia/Kolkata, in their night at tick time, so their reminder waits for the morning), so the
first tick writes a day-before reminder for nearly every member. Printed, beside baselines measured in
the same run on the same database:
- baselines: a plain COPY of as many outbox rows with the same columns, committed, into an empty table
  that is (BASELINES) bare (the columns only), the outbox's indexes without its foreign key (the one
  baseline before), and the outbox as it is (its indexes and its foreign keys, the per-row check of
  `member_id` against members included);
- first tick: one process plans every group (the index is empty) and writes the rows, as a ratio of each
  COPY, with its Python CPU and its database server process's CPU;
- idle tick, a minute later (the written rows marked sent, as workers would, and the outbox and groups
  vacuumed and analysed, as autovacuum would): database time (summed over the statements) and this process's CPU apart, the median of 5;
- a tick after 1% of the groups changed their plan (a 30-minute reminder added): only those are planned;
- the first tick again (outbox emptied, index reset) as planning jobs of 200 groups taken by 1 and by 2
  worker processes (`workers.schedule_jobs.plan_groups`, each with its own Runtime; the jobs handed out
  through a multiprocessing queue instead of Redis), and the wall-time ratio of 2 workers to 1 (1 then 2,
  `CHECKIN_BENCH_PLAN_ROUNDS` times, default 1: the load of a shared machine moves between phases); for
  each, every worker's CPU and its database server process's CPU (how many cores the tick kept busy),
  and what the database sessions were doing, sampled every half second (pg_stat_activity: CPU, or the
  wait event; "lock not granted" if pg_locks shows the session waiting for a lock).
With `CHECKIN_BENCH_MESSAGES=N` (e.g. 2000000), N messages over the year before the tick are seeded
too (half inbound, spread over the members), and the read of who texted in the last 2 hours is timed
by EXPLAIN ANALYZE, for a planning job of 200 groups and, as it was before, over the whole network.
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
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import backend_pids, cpu_seconds, temp_database

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


def seed_messages(db, count: int, members: int) -> None:
    """`count` messages over the year before NOW, every other one inbound, member by member in turn, each
    with a body the size of an encrypted text (the table's size is what a scan of it pays)."""
    year = 365 * 24 * 3600
    body = "gAAAAA" + "x" * 250
    with db.session() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        _copy(
            cursor,
            "messages",
            (
                "direction",
                "channel",
                "member_id",
                "from_number",
                "to_number",
                "body",
                "status",
                "created_at",
                "updated_at",
            ),
            (
                (
                    "inbound" if i % 2 else "outbound",
                    "sms",
                    i % members + 1,
                    "+12020000000",
                    "+15000000000",
                    body,
                    "received" if i % 2 else "delivered",
                    at,
                    at,
                )
                for i in range(count)
                for at in (NOW - timedelta(seconds=(i * 7919) % year),)
            ),
        )
        cursor.execute("ANALYZE messages")
        cursor.close()


def recent_read(db) -> list[tuple[str, float, str]]:
    """EXPLAIN ANALYZE of who texted in the last 2 hours: (what, milliseconds, scans of messages)."""

    from sqlalchemy import func, select

    from checkin.models import Message
    from checkin.schedules.service import _recent_inbound_query
    from workers.schedule_jobs import SHARD_GROUPS

    since = NOW - timedelta(hours=2)
    whole = (
        select(Message.member_id, func.max(Message.created_at))
        .where(Message.direction == "inbound", Message.member_id.is_not(None), Message.created_at >= since)
        .group_by(Message.member_id)
    )
    found = []
    with db.session() as session:
        job = _recent_inbound_query(session, list(range(1, SHARD_GROUPS + 1)), since)
        cursor = session.connection().connection.driver_connection.cursor()
        for what, query in ((f"a job of {SHARD_GROUPS} groups", job), ("whole network (before)", whole)):
            compiled = query.compile(
                dialect=session.bind.dialect, compile_kwargs={"render_postcompile": True}
            )
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params)
            plan = cursor.fetchone()[0][0]
            scans, stack = set(), [plan["Plan"]]
            while stack:
                node = stack.pop()
                if node.get("Relation Name") == "messages":
                    scans.add(
                        f"{node['Node Type']}"
                        + (f" using {node['Index Name']}" if "Index Name" in node else "")
                    )
                stack.extend(node.get("Plans", ()))
            found.append((what, plan["Execution Time"], ", ".join(sorted(scans))))
        cursor.close()
    return found


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
    from checkin.adapters.pg_bulk import start_insert_outbox
    from checkin.schedules import due_index
    from checkin.schedules.tick import write_due

    started, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:
        result = write_due(session, now, base_url=BASE_URL, bulk_insert=start_insert_outbox)
    with db.session() as session:
        due_index.record(session, result.next_due)
    return time.perf_counter() - started, time.process_time() - cpu, len(result.created), len(result.next_due)


BASELINES = (
    # (label, what the table is)
    ("bare", "a table of the outbox's columns, nothing else"),
    ("indexes", "the outbox's indexes, no foreign key (the baseline before)"),
    ("outbox", "the outbox as it is: its indexes and foreign keys"),
)


def _floor_table(session, kind: str) -> str:
    """An empty table to COPY the floor's rows into: `kind` from BASELINES."""
    conn = session.connection()
    name = f"outbox_floor_{kind}"
    if kind == "bare":
        conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE outbox INCLUDING DEFAULTS)")
        return name
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE outbox INCLUDING ALL)")
    if kind == "outbox":  # LIKE copies no foreign keys: the outbox's own, as its catalogue defines them
        for (definition,) in conn.exec_driver_sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'outbox'::regclass AND contype = 'f'"
        ):
            conn.exec_driver_sql(f"ALTER TABLE {name} ADD {definition}")
    return name


def baseline(db, rows: int, kind: str) -> float:
    """The write floor: COPY `rows` outbox rows with the tick's columns (one encrypted body, one member each)
    into an empty table shaped as `kind` says (BASELINES) and commit; the table is dropped afterwards."""
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
        table = _floor_table(session, kind)
    started = time.perf_counter()
    with db.session() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        _copy(
            cursor,
            table,
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
        session.connection().exec_driver_sql(f"DROP TABLE {table}")
    return seconds


class WaitSampler:
    """What the bench database's busy sessions wait on, sampled every half second in a thread of its own
    (pg_stat_activity: CPU when no wait event, else its type and name; and whether any lock was not granted)."""

    def __init__(self, url: str):
        import threading

        from sqlalchemy.engine import make_url

        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(0.5):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'),"
                    " EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)"
                    " FROM pg_stat_activity a WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state = 'active' AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for wait, blocked in rows:
                    label = wait + (" (lock not granted)" if blocked else "")
                    self.counts[label] = self.counts.get(label, 0) + 1

    def summary(self) -> str:
        busy = sorted(self.counts.items(), key=lambda kv: -kv[1])[:5]
        return f"{self.samples} samples, active sessions: " + (
            ", ".join(f"{k} {v}" for k, v in busy) or "none"
        )


def _worker_env(url: str, key: str, instance: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "CHECKIN_ENCRYPTION_KEY": key,
        "SECRET_KEY": "bench-" + "x" * 40,
        "PUBLIC_BASE_URL": BASE_URL,
        "CHECKIN_INSTANCE_PATH": instance,
    }


def _ready_to_run(pids: list[int]) -> float:
    """Seconds these processes have spent so far runnable but waiting for a core (Linux schedstat; 0 where
    unreadable)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def _backend(runtime) -> int:
    """The PostgreSQL server process behind this worker's pooled connection."""
    with runtime.db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _worker(environ: dict, now: datetime, jobs, done, ready) -> None:
    """A worker process: its own Runtime, planning job after job until it takes None. Puts on `done`: rows
    written, its CPU seconds, its database server process's CPU seconds, and the seconds the two spent
    waiting for a core."""
    from checkin.bootstrap import Runtime
    from checkin.unit_of_work import DiscardDispatcher
    from config import load_settings
    from workers import schedule_jobs

    runtime = Runtime.build(load_settings(environ), dispatcher=DiscardDispatcher())
    runtime.db.ping()
    # One connection, checked out and back one session at a time: the same server process throughout.
    procs = [os.getpid(), _backend(runtime)]
    db_cpu, waited = cpu_seconds(procs[1:]), _ready_to_run(procs)
    ready.put(os.getpid())
    written, cpu = 0, time.process_time()
    while (ids := jobs.get()) is not None:
        written += schedule_jobs.plan_groups(ids, now, runtime=runtime)
    cpu = time.process_time() - cpu
    if _backend(runtime) != procs[1]:
        raise RuntimeError("the worker's connection changed: its database CPU would be wrong")
    db_cpu, waited = cpu_seconds(procs[1:]) - db_cpu, _ready_to_run(procs) - waited
    runtime.db.dispose()
    done.put((written, cpu, db_cpu, waited))


def spread_tick(
    db, environ: dict, now: datetime, workers: int
) -> tuple[float, int, int, list[float], list[float], list[float], str]:
    """(wall s, rows written, jobs, each worker's CPU s, each worker's database server process's CPU s, the
    seconds each worker and its server process waited for a core, what the database sessions were doing) of one tick
    handed out as planning jobs to `workers` processes: what `schedule_jobs.dispatch` does (housekeeping,
    claim the due groups, cut them into jobs), then the jobs."""
    from checkin.schedules import due_index
    from checkin.schedules.tick import housekeeping
    from workers.schedule_jobs import CLAIM, shard

    ctx = multiprocessing.get_context("spawn")
    jobs, done, ready = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(environ, now, jobs, done, ready)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=120)  # started and connected: not part of the tick
        with WaitSampler(db.engine.url.render_as_string(hide_password=False)) as waits:
            started = time.perf_counter()
            with db.session() as session:
                housekeeping(session, now)
            with db.session() as session:
                claimed = [gid for gid, _ in due_index.claim_due(session, now, now + CLAIM)]
            shards = shard(claimed)
            for ids in shards:
                jobs.put(ids)
            for _ in procs:
                jobs.put(None)
            results = [done.get(timeout=3600) for _ in procs]
            wall = time.perf_counter() - started
        return (
            wall,
            sum(r[0] for r in results),
            len(shards),
            [round(r[1], 2) for r in results],
            [round(r[2], 2) for r in results],
            [round(r[3], 2) for r in results],
            waits.summary(),
        )
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
            messages = int(os.environ.get("CHECKIN_BENCH_MESSAGES", "0"))
            if messages:
                started = time.perf_counter()
                seed_messages(db, messages, members)
                print(
                    f"{'seed messages (COPY)':<28} {time.perf_counter() - started:7.2f} s  {messages} over a year",
                    flush=True,
                )
                for what, ms, scans in recent_read(db):
                    print(
                        f"{'texted in 2 h: ' + what:<28} {ms:7.1f} ms  (messages read by: {scans})",
                        flush=True,
                    )

            backends = backend_pids(url)  # the pooled connection the tick will use (seeding opened it)
            db_cpu, queued = cpu_seconds(backends), _ready_to_run([os.getpid(), *backends])
            seconds, cpu, written, planned = one_tick(db, NOW)
            db_cpu, queued = cpu_seconds(backends) - db_cpu, _ready_to_run([os.getpid(), *backends]) - queued
            bases = {}
            for kind, what in BASELINES:
                bases[kind] = base = baseline(db, written, kind)
                print(
                    f"{'baseline: COPY into ' + kind:<28} {base:7.2f} s  {written} rows  {written / base:8.0f} rows/s"
                    f"  ({what})",
                    flush=True,
                )

            def ratios(wall: float) -> str:
                return "  ".join(f"{wall / bases[kind]:.2f} x COPY into {kind}" for kind, _ in BASELINES)

            print(
                f"{'first tick, 1 process':<28} {seconds:7.2f} s  {written} rows  {planned} groups planned"
                f"  = {ratios(seconds)}\n{'':<28} cpu: python {cpu:.2f} s, database {db_cpu:.2f} s;"
                f" waiting for a core {queued:.2f} s",
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
            rounds = max(1, int(os.environ.get("CHECKIN_BENCH_PLAN_ROUNDS", "1")))
            splits = []
            for round_ in range(rounds):
                times = {}
                for n in (1, 2):
                    reset(db)
                    wall, rows, jobs, cpus, db_cpus, queued, waits = spread_tick(db, environ, NOW, n)
                    times[n] = wall
                    busy = sum(cpus) + sum(db_cpus)
                    print(
                        f"{f'first tick, {n} worker(s)':<28} {wall:7.2f} s  {rows} rows  {jobs} jobs  = {ratios(wall)}"
                        f"\n{'':<28} cpu per worker: python {cpus} s, its database process {db_cpus} s;"
                        f" {busy:.1f} s in all = {busy / wall:.2f} cores busy on average;"
                        f" worker and database process waiting for a core {queued} s"
                        f"\n{'':<28} database sessions, sampled: {waits}",
                        flush=True,
                    )
                splits.append(times[2] / times[1])
                print(
                    f"{'2 workers / 1 worker':<28} {splits[-1]:7.2f}  (wall time; 0.5 would be a perfect split;"
                    f" round {round_ + 1} of {rounds})  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                    flush=True,
                )
            if rounds > 1:
                print(
                    f"{'2 workers / 1 worker':<28} {statistics.median(splits):7.2f}  median of {rounds} rounds"
                    f" {[round(x, 2) for x in splits]}",
                    flush=True,
                )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
