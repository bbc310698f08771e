"""Group announcements: the time to write and enqueue an announcement to 10,000 members (one coordinator's
press: the outbox rows by COPY, the RQ jobs after commit), beside the same 10,000 rows written one
`outbox.add` at a time; then the send rate two real `rq worker` processes hold while an announcement goes
out from one number, against CHECKIN_SEND_RATE (the loopback Twilio refuses more than that rate per
number in any one-second window with 429, as Twilio does).

Parts, all real and on 127.0.0.1: a throwaway PostgreSQL database, Redis (database 13, under the test
suite's lock for it), two `rq worker` processes, the twilio library against tests.fake_twilio in this
process. Members live where it is midday, so every send is due now and passes the quiet-hours gate's query.
"""

from __future__ import annotations

import os
import time

from bench.common import SEND_FROM_NUMBER as FROM_NUMBER
from bench.common import SEND_WORKERS as WORKERS
from bench.common import WARM_UP_NUMBER, measure_paced_sends, midday_zone, send_rig

ENQUEUE_MEMBERS = int(os.environ.get("CHECKIN_BENCH_ANNOUNCE_MEMBERS", "10000"))
RATE = float(os.environ.get("CHECKIN_BENCH_SEND_RATE", "10"))
RATE_MESSAGES = int(os.environ.get("CHECKIN_BENCH_ANNOUNCE_SENDS", "300"))
# The baseline writes this many of the rows one at a time (all 10,000 take minutes); compared per send.
BASELINE_MEMBERS = int(os.environ.get("CHECKIN_BENCH_ANNOUNCE_BASELINE", "1000"))
TARGET = 0.05  # the send rate within 5% of the configured rate


def make_group(db, name: str, number: str, count: int, first: int):
    """A group and `count` members (numbers +1202xxxxxxx from `first`), a fifth of them Spanish speakers."""
    from sqlalchemy import insert

    from checkin.db import utcnow
    from checkin.directory import add_group
    from checkin.models import GroupMember, Member

    now = utcnow()
    with db.session() as s:
        group = add_group(s, name, midday_zone(), number)
        rows = [
            dict(
                phone=f"+1202{first + i:07d}",
                display_name=f"Member {first + i}",
                language="es" if i % 5 == 0 else "en",
                channel="sms",
                status="active",
                created_at=now,
            )
            for i in range(count)
        ]
        ids = s.scalars(insert(Member).returning(Member.id), rows).all()
        s.execute(insert(GroupMember), [dict(group_id=group.id, member_id=i, joined_at=now) for i in ids])
        return group.id


def announce(runtime, group_id: int, key: str) -> int:
    from checkin import announcements
    from checkin.models import Group

    with runtime.db.session() as s:
        announcement, _ = announcements.send(
            s,
            s.get(Group, group_id),
            f"{key}: no meeting tonight, the building is closed.",
            f"{key}: no hay reunion esta noche, el edificio esta cerrado.",
            request_key=key,
            bulk_insert=runtime.bulk_outbox_insert,
        )
        return announcement.recipients


def one_at_a_time(runtime, group_id: int, limit: int) -> int:
    """The baseline: `limit` of the same rows, each written by outbox.add and queued after the same commit."""
    from sqlalchemy import select

    from checkin import outbox
    from checkin.models import GroupMember, Member

    with runtime.db.session() as s:
        members = s.execute(
            select(Member.id, Member.phone, Member.language)
            .join(GroupMember, GroupMember.member_id == Member.id)
            .where(GroupMember.group_id == group_id)
            .order_by(Member.id)
            .limit(limit)
        ).all()
        for m in members:
            outbox.add(
                s,
                f"baseline:{m.id}",
                to=m.phone,
                body="Bench: no meeting tonight." if m.language == "en" else "Bench: no hay reunion.",
                purpose="announcement",
                member_id=m.id,
                from_number=FROM_NUMBER,
            )
        return len(members)


def queued(runtime) -> int:
    from rq import Queue

    return len(Queue("outbox", connection=runtime.redis))


def measure_enqueue(runtime) -> None:
    group_id = make_group(runtime.db, "Bench Enqueue", "+15005550010", ENQUEUE_MEMBERS, 0)
    runtime.redis.flushdb()
    started = time.perf_counter()
    rows = one_at_a_time(runtime, group_id, BASELINE_MEMBERS)
    baseline = time.perf_counter() - started
    assert queued(runtime) == rows, "the baseline's sends were not all queued"
    runtime.redis.flushdb()
    started = time.perf_counter()
    written = announce(runtime, group_id, "bench-enqueue")
    elapsed = time.perf_counter() - started
    in_queue = queued(runtime)
    runtime.redis.flushdb()
    print(
        f"{'one outbox.add per member, baseline':<44} {baseline:7.2f} s for {rows:,} sends ({rows / baseline:,.0f}/s)",
        flush=True,
    )
    print(
        f"{'announcement (COPY + one enqueue_many)':<44} {elapsed:7.2f} s for {written:,} sends ({written / elapsed:,.0f}/s); "
        f"queued {in_queue:,}; x{(written / elapsed) / (rows / baseline):.1f} the baseline's sends per second",
        flush=True,
    )


def measure_rate(rig) -> None:
    runtime = rig.runtime
    warm_group = make_group(runtime.db, "Bench Warm-up", WARM_UP_NUMBER, 2 * WORKERS, 2_000_000)
    group_id = make_group(runtime.db, "Bench Rate", FROM_NUMBER, RATE_MESSAGES, 1_000_000)
    run = measure_paced_sends(
        "announcement",
        rig,
        rig.env,
        RATE,
        warm_up=lambda: announce(runtime, warm_group, "bench-warm-up"),
        send=lambda: announce(runtime, group_id, "bench-rate"),
    )
    ratio = run.rate / RATE
    ok = abs(1 - ratio) <= TARGET and run.duplicates == 0 and run.count_429 == 0 and run.sent == RATE_MESSAGES
    print(
        f"{f'announcement to {run.sent} members at CHECKIN_SEND_RATE={RATE:g}':<44} {run.rate:7.2f} msg/s over {run.span:5.1f} s  "
        f"duplicates {run.duplicates}  429s {run.count_429}",
        flush=True,
    )
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs during the runs")
    print(
        f"achieved / configured = {ratio:.3f}; {'meets' if ok else 'MISSES'} the target: within {TARGET:.0%}, "
        "0 duplicates, 0 429s"
    )


def main() -> None:
    with send_rig("checkin_bench_announce", RATE) as rig:
        print(f"{ENQUEUE_MEMBERS:,} members (a fifth Spanish speakers), PostgreSQL + Redis")
        measure_enqueue(rig.runtime)
        print(
            f"{RATE_MESSAGES} members from one number, {WORKERS} `rq worker` processes, loopback Twilio in-process"
        )
        measure_rate(rig)


if __name__ == "__main__":
    main()
