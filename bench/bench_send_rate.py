"""Send pacing: the achieved send rate of two real `rq worker` processes draining a fan-out of
outbox rows to the loopback Twilio server, against a configured CHECKIN_SEND_RATE, beside an
unpaced baseline in the same process.

Parts, all real and on 127.0.0.1: a throwaway PostgreSQL database, Redis, two `rq worker` processes
(SimpleWorker, with the scheduler for 429 retries), the twilio library against tests.fake_twilio
(in this process). In the paced run the fake refuses more than the configured rate per number in
any one-second window with 429 / 20429, as Twilio does, so every over-send shows as a 429.
Achieved rate = (messages - 1) / (last arrival - first arrival) at the fake.
"""

from __future__ import annotations

import os

from bench.common import SEND_FROM_NUMBER as FROM_NUMBER
from bench.common import SEND_WORKERS as WORKERS
from bench.common import WARM_UP_NUMBER, measure_paced_sends, midday_zone, send_rig

RATE = float(os.environ.get("CHECKIN_BENCH_SEND_RATE", "10"))
MESSAGES = int(os.environ.get("CHECKIN_BENCH_SEND_MESSAGES", "300"))
TARGET = 0.05  # within 5% of the configured rate


def write_fan_out(db, run: str, count: int = MESSAGES, from_number: str | None = None) -> list:
    """A reminder to each of `count` group members. They live where it is midday now, so the send-time
    quiet-hours gate looks each one up (its query is part of the figure) and lets it go."""
    from sqlalchemy import select

    from checkin import outbox
    from checkin.directory import add_group, add_member
    from checkin.models import Member

    with db.session() as s:
        members = dict(s.execute(select(Member.phone, Member.id)).all())
        if not members:
            group = add_group(s, "Bench Group", midday_zone(), FROM_NUMBER)
            for i in range(MESSAGES):
                member = add_member(s, group.name, f"+1202555{i:04d}", f"Member {i}")
                members[member.phone] = member.id
        return [
            outbox.add(
                s,
                f"reminder:bench:{run}:{i}",
                to=f"+1202555{i:04d}",
                body=f"{run} reminder {i}",
                purpose="reminder",
                member_id=members[f"+1202555{i:04d}"],
                from_number=from_number,
            )[0]
            for i in range(count)
        ]


def run_once(label: str, rig, env: dict[str, str], rate_limit: float | None):
    from workers.queues import dispatch

    def send(run: str, count: int, from_number: str | None = None) -> int:
        items = write_fan_out(rig.runtime.db, run, count, from_number)
        dispatch(rig.runtime, items)
        return len(items)

    return measure_paced_sends(
        label,
        rig,
        env,
        rate_limit,
        warm_up=lambda: send(f"{label}-warm-up", 2 * WORKERS, WARM_UP_NUMBER),
        send=lambda: send(label, MESSAGES),
    )


def main() -> None:
    from checkin import pacing

    with send_rig("checkin_bench_pace", RATE) as rig:
        paced_env = rig.env
        unpaced_env = dict(paced_env, CHECKIN_SEND_RATE="0")
        print(
            f"{MESSAGES} reminders from one number, {WORKERS} `rq worker -w SimpleWorker --with-scheduler` processes, "
            f"PostgreSQL + Redis, loopback Twilio in-process"
        )
        baseline = run_once("unpaced", rig, unpaced_env, None)
        print(
            f"{'unpaced (CHECKIN_SEND_RATE=0), baseline':<44} {baseline.rate:7.1f} msg/s over {baseline.span:5.1f} s  "
            f"duplicates {baseline.duplicates}  busiest second {baseline.max_per_second}",
            flush=True,
        )
        paced = run_once("paced", rig, paced_env, RATE)
        ratio = paced.rate / RATE
        print(
            f"{f'paced at CHECKIN_SEND_RATE={RATE:g} (Twilio limit {RATE:g}/s)':<44} {paced.rate:7.2f} msg/s over {paced.span:5.1f} s  "
            f"duplicates {paced.duplicates}  429s {paced.count_429}  busiest second {paced.max_per_second}",
            flush=True,
        )
        load = os.getloadavg()[0]
        print(
            f"load average {load:.1f} on {os.cpu_count()} CPUs during the runs"
            + (
                " (a busy machine: late wake-ups bunch sends, which Twilio may answer with 429)"
                if load > (os.cpu_count() or 1)
                else ""
            )
        )
        ok = (
            abs(1 - ratio) <= TARGET
            and paced.duplicates == 0
            and paced.count_429 == 0
            and paced.sent == MESSAGES
        )
        print(
            f"achieved / configured = {ratio:.3f} (headroom {pacing.HEADROOM:.0%} below the limit); "
            f"{'meets' if ok else 'MISSES'} the target: within {TARGET:.0%}, 0 duplicates, 0 429s"
        )


if __name__ == "__main__":
    main()
