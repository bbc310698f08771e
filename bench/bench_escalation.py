"""Crisis webhook to facilitator alert: how long from a member's crisis SMS reaching the app to the
alert's request reaching Twilio, with 100 other members texting per second at the same time.

Parts, all real and on 127.0.0.1: the app under gunicorn on a throwaway PostgreSQL database, a
`rq worker` subprocess on Redis, the twilio library against the loopback Twilio server
(tests.fake_twilio.FakeTwilio, in this process so both clocks are the same), the real rules
engine. The latency is from just before the signed POST is sent to the moment the fake records the
alert SMS request. Baseline: the same crisis messages with no background load.
"""

from __future__ import annotations

import http.client
import os
import secrets
import threading
import time
from urllib.parse import urlencode

from bench.common import (
    RQ,
    ServerSettings,
    bench_env,
    foreign_redis_clients,
    free_port,
    gunicorn,
    percentile,
    scratch_dir,
    spawn,
    stop_process,
    temp_database,
)

REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_LOCK = "checkin:test-db-lock:14"  # the test suite's claim on a Redis database number; honour it
ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "bench-auth-token-" + "e" * 16
GROUP_NUMBER = "+15005550006"
FACILITATORS = ["+12025559001", "+12025559002"]
BACKGROUND = [f"+1202555{1000 + i:04d}" for i in range(100)]
CRISIS_PER_RUN = int(os.environ.get("CHECKIN_BENCH_CRISIS", "50"))
CRISIS = {run: [f"+1202556{run * 1000 + i:04d}" for i in range(CRISIS_PER_RUN)] for run in (0, 1)}
CRISIS_TEXT = "I am going to kill myself tonight"
BACKGROUND_BODIES = ["doing ok today", "tired but fine", "see you tuesday", "better than yesterday", "3"]
RATE = float(os.environ.get("CHECKIN_BENCH_BACKGROUND_RATE", "100"))  # background messages per second
CRISIS_INTERVAL = 0.2  # seconds between crisis messages: 50 of them over ~10 s
SERVER = ServerSettings(workers=4, worker_class="sync")
TARGET_P99 = 1.0
# RQ's default forking worker spends ~0.3-0.7 s per job in each fresh fork, so alerts queue behind
# each other; the Procfile runs SimpleWorker (no fork per job), as measured here.
WORKER_CLASS = os.environ.get("CHECKIN_BENCH_WORKER_CLASS", "workers.worker.Worker")


def app_env(database_url: str, port: int, instance: str, key: str, twilio_base: str) -> dict[str, str]:
    return bench_env(
        database_url,
        REDIS_URL,
        instance,
        key,
        f"http://127.0.0.1:{port}",
        MESSAGING_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=GROUP_NUMBER,
        TWILIO_API_BASE_URL=twilio_base,
    )


def seed(database_url: str, key: str) -> None:
    from checkin import crypto
    from checkin.db import Database
    from checkin.directory import add_group, add_member, add_staff

    db = Database(database_url)
    crypto.install(db.engine, [key])
    try:
        with db.session() as s:
            group = add_group(s, "Bench Group", "America/New_York", GROUP_NUMBER)
            for i, phone in enumerate(FACILITATORS):
                add_staff(s, f"Facilitator{i}", f"f{i}@bench.example.org", "facilitator", phone, [group.name])
            for i, phone in enumerate(BACKGROUND):
                add_member(s, group.name, phone, f"Member{i} Bench")
            for i in range(4):  # one crisis per gunicorn worker and the rq worker, untimed
                add_member(s, group.name, f"+12025557{i:03d}", f"Warm{i} Up")
            for run, phones in CRISIS.items():
                for i, phone in enumerate(phones):
                    add_member(s, group.name, phone, f"C{run}x{i} Bench")
    finally:
        db.dispose()


class Poster:
    """Signed SMS webhooks over one keep-alive connection."""

    def __init__(self, port: int, public_url: str):
        self.port, self.public_url = port, public_url
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def build(self, from_: str, body: str) -> tuple[bytes, dict[str, str]]:
        from webhooks.simulate import sign, sms_params

        params = sms_params(
            from_, GROUP_NUMBER, body, sid="SM" + secrets.token_hex(16), account_sid=ACCOUNT_SID
        )
        return urlencode(params).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(AUTH_TOKEN, self.public_url, params),
        }

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (0, 1):
            try:
                self.conn.request("POST", "/twilio/sms", body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                return resp.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        return 0

    def close(self):
        self.conn.close()


def background_load(
    port: int, public_url: str, stop: threading.Event, stats: dict, threads: int = 10
) -> list[threading.Thread]:
    """`RATE` messages per second in total, paced (not as fast as possible), from the 100 members."""
    interval = threads / RATE
    lock = threading.Lock()

    def loop(index: int):
        poster = Poster(port, public_url)
        start = time.monotonic() + index * interval / threads
        k = 0
        try:
            while not stop.is_set():
                due = start + k * interval
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                member = BACKGROUND[(index * 10 + k) % len(BACKGROUND)]
                body, headers = poster.build(member, BACKGROUND_BODIES[k % len(BACKGROUND_BODIES)])
                try:
                    ok = poster.post(body, headers) == 200
                except Exception:
                    ok = False
                with lock:
                    stats["sent"] += 1
                    stats["errors"] += 0 if ok else 1
                k += 1
        finally:
            poster.close()

    out = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for t in out:
        t.start()
    return out


def crisis_run(fake, port: int, public_url: str, run: int, timeout: float = 60.0) -> list[float]:
    """Post one crisis message per member, `CRISIS_INTERVAL` apart; return each one's alert latency (s)."""
    poster = Poster(port, public_url)
    sent_at: dict[str, float] = {}
    try:
        for i, phone in enumerate(CRISIS[run]):
            body, headers = poster.build(phone, CRISIS_TEXT)
            name = f"C{run}x{i}"
            sent_at[name] = time.monotonic()
            status = poster.post(body, headers)
            if status != 200:
                raise RuntimeError(f"crisis webhook answered HTTP {status}")
            time.sleep(CRISIS_INTERVAL)
    finally:
        poster.close()

    def first_alerts() -> dict[str, float]:
        seen: dict[str, float] = {}
        for req in fake.requests():
            if not req["path"].endswith("/Messages.json"):
                continue
            body = req["params"].get("Body", "")
            text = body[0] if isinstance(body, list) else body
            if "ALERT" not in text or f"C{run}x" not in text:
                continue
            name = text.split("): ", 1)[1].split(",", 1)[0]
            seen[name] = min(seen.get(name, float("inf")), req["received_monotonic"])
        return seen

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = first_alerts()
        if len(seen) >= len(sent_at):
            break
        time.sleep(0.1)
    seen = first_alerts()
    missing = sorted(set(sent_at) - set(seen))
    if missing:
        raise RuntimeError(
            f"{len(missing)} crisis message(s) never produced an alert within {timeout:.0f}s (e.g. {missing[:3]})"
        )
    return sorted(seen[name] - sent_at[name] for name in sent_at)


def describe(label: str, latencies: list[float]) -> str:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return f"{label:<38} n={len(latencies):3d}  p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  max {latencies[-1] * 1000:7.1f} ms"


def main() -> None:
    from cryptography.fernet import Fernet
    from redis import Redis

    from tests.fake_twilio import FakeTwilio

    key = Fernet.generate_key().decode()
    control = Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=5)
    token = secrets.token_hex(16)
    if not control.set(REDIS_LOCK, token, nx=True, ex=600):
        raise RuntimeError(
            f"Redis database 14 is in use ({REDIS_LOCK} is held, e.g. by a test run); try again later"
        )
    redis = Redis.from_url(REDIS_URL, socket_timeout=5)
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    worker = None
    tmp_log: list = []
    try:
        redis.flushdb()
        others = foreign_redis_clients(redis)
        if others:
            # e.g. an `rq worker` left by an interrupted run: it would take this run's alert jobs and look
            # them up in its own (old) database, and no alert would ever reach this run's Twilio.
            raise RuntimeError(
                f"{len(others)} other connection(s) to Redis database 14 that this run did not make, "
                f"e.g. {others[0]}; stop that process (a leftover worker?) and try again"
            )
        fake.start()
        with scratch_dir() as tmp, temp_database("checkin_bench_esc") as database_url:
            seed(database_url, key)
            port = free_port()
            env = app_env(database_url, port, str(tmp / "instance"), key, fake.base_url)
            public_url = env["PUBLIC_BASE_URL"] + "/twilio/sms"
            tmp_log.append(tmp / "worker.log")
            worker = spawn(
                [
                    RQ,
                    "worker",
                    "--url",
                    REDIS_URL,
                    "--quiet",
                    "-w",
                    WORKER_CLASS,
                    "alerts",
                    "inbound",
                    "outbox",
                ],
                env=env,
                log_path=tmp / "worker.log",
            )
            with gunicorn("webhooks:create_app()", SERVER, env, tmp, port=port):
                print(
                    f"app: {SERVER} on PostgreSQL; one `rq worker -w {WORKER_CLASS} alerts inbound outbox`; loopback Twilio in-process"
                )
                print(
                    f"{CRISIS_PER_RUN} crisis SMS per run, {CRISIS_INTERVAL * 1000:.0f} ms apart; 2 on-call facilitators "
                    f"(each crisis: 2 SMS + 2 calls); latency to the first alert SMS request at Twilio"
                )
                # Warm up: one crisis and a few ordinary texts, not timed (imports, connections, rules load).
                warm = Poster(port, public_url)
                statuses = [warm.post(*warm.build(phone, "warming up")) for phone in BACKGROUND[:5]]
                statuses += [warm.post(*warm.build(f"+12025557{i:03d}", CRISIS_TEXT)) for i in range(4)]
                warm.close()
                if any(s != 200 for s in statuses):
                    raise RuntimeError(f"warm-up webhooks answered HTTP {statuses}")

                def warm_alerts() -> int:
                    return sum("ALERT" in str(m["params"].get("Body")) for m in fake.messages())

                expected = 4 * len(FACILITATORS)
                if not fake.wait_for(lambda: warm_alerts() >= expected, 30):
                    raise RuntimeError(
                        f"the warm-up crises produced {warm_alerts()} of {expected} alert SMS within 30 s: "
                        f"is the worker running (exit status {worker.poll()})? see its log below"
                    )

                baseline = crisis_run(fake, port, public_url, 0)
                print(describe("no background load (baseline)", baseline), flush=True)

                stop, stats = threading.Event(), {"sent": 0, "errors": 0}
                started = time.monotonic()
                threads = background_load(port, public_url, stop, stats)
                time.sleep(1.0)  # let the load settle
                try:
                    loaded = crisis_run(fake, port, public_url, 1)
                finally:
                    stop.set()
                    for t in threads:
                        t.join(10)
                elapsed = time.monotonic() - started
                print(describe(f"with {RATE:.0f} member SMS/s in the background", loaded), flush=True)
                rate = stats["sent"] / elapsed if elapsed else 0.0
                print(
                    f"background achieved {rate:.0f} SMS/s over {elapsed:.1f} s, {stats['errors']} error(s)"
                )
                p99_b, p99_l = percentile(baseline, 99), percentile(loaded, 99)
                ratio = p99_l / p99_b if p99_b else float("inf")
                verdict = "meets" if p99_l < TARGET_P99 else "MISSES"
                print(
                    f"p99 under load / baseline p99 = {ratio:.2f}x; p99 {p99_l * 1000:.0f} ms {verdict} the {TARGET_P99 * 1000:.0f} ms target"
                )
                if rate < RATE * 0.9:
                    print(
                        f"WARNING: the background load fell short of {RATE:.0f}/s: the figures understate the load"
                    )
    except BaseException:
        try:
            print("worker log tail:\n" + (tmp_log[0].read_text(errors="replace")[-3000:] if tmp_log else ""))
        except OSError:
            pass
        raise
    finally:
        stop_process(worker)
        fake.stop()
        try:
            redis.flushdb()
        finally:
            if control.get(REDIS_LOCK) == token.encode():
                control.delete(REDIS_LOCK)


if __name__ == "__main__":
    main()
