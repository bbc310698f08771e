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
import secrets
import subprocess
import time
from collections import Counter
from datetime import UTC

from bench.common import REPO, scratch_dir, temp_database

REDIS_URL = "redis://127.0.0.1:6379/13"
REDIS_LOCK = "checkin:test-db-lock:13"  # the test suite's claim on a Redis database number; honour it
ACCOUNT_SID = "AC" + "3" * 32
AUTH_TOKEN = "bench-auth-token-" + "r" * 16
FROM_NUMBER = "+15005550006"
WARM_UP_NUMBER = (
    "+15005550009"  # its own pace and Twilio window: warming up costs the measured number nothing
)
RATE = float(os.environ.get("CHECKIN_BENCH_SEND_RATE", "10"))
MESSAGES = int(os.environ.get("CHECKIN_BENCH_SEND_MESSAGES", "300"))
WORKERS = 2
TARGET = 0.05  # within 5% of the configured rate
RQ = str(REPO / ".venv" / "bin" / "rq") if (REPO / ".venv" / "bin" / "rq").exists() else "rq"


def worker_env(database_url: str, instance: str, key: str, twilio_base: str, rate: float) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "CHECKIN_", "DATABASE_", "REDIS_"))
    }
    env.update(
        CHECKIN_ENV="test",
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-secret-key-" + "s" * 32,
        CHECKIN_ENCRYPTION_KEY=key,
        PUBLIC_BASE_URL="http://127.0.0.1:9",
        MESSAGING_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=FROM_NUMBER,
        TWILIO_API_BASE_URL=twilio_base,
        CHECKIN_INSTANCE_PATH=instance,
        CHECKIN_SEND_RATE=f"{rate:g}",
    )
    return env


def write_fan_out(db, run: str, count: int = MESSAGES, from_number: str | None = None) -> list:
    """A reminder to each of `count` group members. They live where it is midday now, so the send-time
    quiet-hours gate looks each one up (its query is part of the figure) and lets it go."""
    from datetime import datetime

    from sqlalchemy import select

    from checkin import outbox
    from checkin.directory import add_group, add_member
    from checkin.models import Member

    with db.session() as s:
        members = dict(s.execute(select(Member.phone, Member.id)).all())
        if not members:
            shift = (
                12 - datetime.now(UTC).hour + 12
            ) % 24 - 12  # UTC+shift is midday; Etc/GMT signs are inverted
            group = add_group(
                s, "Bench Group", "Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}", FROM_NUMBER
            )
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


def run_once(label: str, runtime, fake, env: dict[str, str], log_path, rate_limit: float | None) -> dict:
    from rq import Worker

    from workers.queues import dispatch

    fake.reset()
    runtime.redis.flushdb()
    items = write_fan_out(runtime.db, label)
    warm_up = write_fan_out(runtime.db, f"{label}-warm-up", 2 * WORKERS, WARM_UP_NUMBER)
    workers = []
    with open(log_path, "ab") as log:
        for _ in range(WORKERS):
            workers.append(
                subprocess.Popen(
                    [
                        RQ,
                        "worker",
                        "--url",
                        REDIS_URL,
                        "-w",
                        "workers.worker.Worker",
                        "--with-scheduler",
                        "--quiet",
                        "alerts",
                        "outbox",
                    ],
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while (
            len(Worker.all(connection=runtime.redis)) < WORKERS
        ):  # started and listening: not part of the figure
            if time.monotonic() > deadline:
                raise RuntimeError(f"the rq workers did not start; see {log_path}")
            time.sleep(0.1)
        # Untimed warm-up on another number: each worker's first send pays for imports and connections.
        dispatch(runtime, warm_up)
        if not fake.wait_for(lambda: len(fake.messages()) >= len(warm_up), 60):
            raise RuntimeError(f"{label}: the warm-up messages did not reach Twilio; see {log_path}")
        fake.reset()
        fake.rate_limit(rate_limit)
        dispatch(runtime, items)
        timeout = MESSAGES / (rate_limit or 50) * 2 + 30
        if not fake.wait_for(lambda: len(fake.messages()) >= MESSAGES, timeout):
            raise RuntimeError(
                f"{label}: only {len(fake.messages())} of {MESSAGES} messages reached Twilio in {timeout:.0f} s"
            )
        time.sleep(1.0)  # a duplicate would arrive now
        sent = fake.messages()
        count_429 = fake.count_429()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)
    arrivals = sorted(m["created_wall"] for m in sent)
    span = arrivals[-1] - arrivals[0]
    bodies = Counter(m["params"]["Body"] for m in sent)
    worst = max(sum(1 for b in arrivals[i:] if b - a < 1.0) for i, a in enumerate(arrivals))
    return {
        "sent": len(sent),
        "rate": (len(sent) - 1) / span if span else float("inf"),
        "span": span,
        "duplicates": sum(n - 1 for n in bodies.values()),
        "429s": count_429,
        "max_per_second": worst,
    }


def main() -> None:
    from cryptography.fernet import Fernet
    from redis import Redis

    from checkin import pacing
    from checkin.bootstrap import Runtime
    from config import load_settings
    from tests.fake_twilio import FakeTwilio

    key = Fernet.generate_key().decode()
    control = Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=5)
    token = secrets.token_hex(16)
    if not control.set(REDIS_LOCK, token, nx=True, ex=900):
        raise RuntimeError(
            f"Redis database 13 is in use ({REDIS_LOCK} is held, e.g. by a test run); try again later"
        )
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    runtime = None
    try:
        fake.start()
        with scratch_dir() as tmp, temp_database("checkin_bench_pace") as database_url:
            paced_env = worker_env(database_url, str(tmp / "instance"), key, fake.base_url, RATE)
            unpaced_env = dict(paced_env, CHECKIN_SEND_RATE="0")
            runtime = Runtime.from_settings(load_settings(paced_env))
            print(
                f"{MESSAGES} reminders from one number, {WORKERS} `rq worker -w SimpleWorker --with-scheduler` processes, "
                f"PostgreSQL + Redis, loopback Twilio in-process"
            )
            baseline = run_once("unpaced", runtime, fake, unpaced_env, tmp / "workers.log", None)
            print(
                f"{'unpaced (CHECKIN_SEND_RATE=0), baseline':<44} {baseline['rate']:7.1f} msg/s over {baseline['span']:5.1f} s  "
                f"duplicates {baseline['duplicates']}  busiest second {baseline['max_per_second']}",
                flush=True,
            )
            paced = run_once("paced", runtime, fake, paced_env, tmp / "workers.log", RATE)
            ratio = paced["rate"] / RATE
            print(
                f"{f'paced at CHECKIN_SEND_RATE={RATE:g} (Twilio limit {RATE:g}/s)':<44} {paced['rate']:7.2f} msg/s over {paced['span']:5.1f} s  "
                f"duplicates {paced['duplicates']}  429s {paced['429s']}  busiest second {paced['max_per_second']}",
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
                and paced["duplicates"] == 0
                and paced["429s"] == 0
                and paced["sent"] == MESSAGES
            )
            print(
                f"achieved / configured = {ratio:.3f} (headroom {pacing.HEADROOM:.0%} below the limit); "
                f"{'meets' if ok else 'MISSES'} the target: within {TARGET:.0%}, 0 duplicates, 0 429s"
            )
    finally:
        if runtime is not None:
            runtime.db.dispose()
        fake.stop()
        try:
            Redis.from_url(REDIS_URL).flushdb()
        finally:
            if control.get(REDIS_LOCK) == token.encode():
                control.delete(REDIS_LOCK)


if __name__ == "__main__":
    main()
