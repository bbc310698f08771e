"""Inbound SMS webhook (POST /twilio/sms) under gunicorn on PostgreSQL, beside a bare Flask baseline.

All servers run with the same gunicorn settings and get the same load: signed, form-encoded
requests as Twilio sends them, each with its own MessageSid (a repeated one would be answered from
the dedupe path), so every request takes the real path: verify the signature, look the member up,
store the message, decide, reply with TwiML.

The webhook is measured twice per round, on the same server: with the everyday mix of texts (MIX:
mostly a digit answering an open check-in prompt, some free texts for the inbox, a few keywords, 1%
at watch level) from 200 members who each have open prompts, which is the headline; and with free
texts only (the inbox path, a fifth of them at watch level) from 200 other members, the figure this
bench reported before the mix, so that the costliest everyday path cannot hide behind the cheap one.
After the servers, each kind of text is sent in this process through Flask's test client, for its
CPU and SQL statements per request.

The machine is usually shared (the load generator, gunicorn and PostgreSQL on the same cores, and
often other work), so the servers are measured in interleaved rounds, each round in a rotated
order, and the ratio reported is the median of the per-round ratios. A third server, the floor
(bench/bare_app.py: read the form, one durable INSERT, constant TwiML), shows what storing before
answering costs by itself on this machine.

Set CHECKIN_BENCH_SWEEP=1 to first compare candidate gunicorn settings on the webhook (slower), or
CHECKIN_BENCH_SERVER=procfile to serve all three apps as production does: the Procfile's `web:` line
(waitress, one process, 8 threads) with its app replaced.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shlex
import statistics
import time
from contextlib import ExitStack
from functools import partial
from urllib.parse import urlencode

from bench.common import (
    PYTHON,
    REPO,
    Command,
    Gunicorn,
    LoadResult,
    ServerSettings,
    backend_pids,
    bench_env,
    cpu_seconds,
    format_result,
    free_port,
    gunicorn,
    print_result,
    run_load,
    scratch_dir,
    serve,
    temp_database,
)

PATH = "/twilio/sms"
REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS_LOCK = "checkin:test-db-lock:15"  # the test suite's claim on a Redis database number; honour it
AUTH_TOKEN = "bench-auth-token-" + "b" * 16
GROUP_NUMBER = "+15005550006"
MEMBERS = [f"+1202555{100 + i:04d}" for i in range(200)]
# Members who answer: each has PROMPTS open check-in prompts (a digit answers the newest one, so
# enough stay open for the whole run; the bench reports how many were answered).
REPLYING = [f"+1202556{100 + i:04d}" for i in range(200)]
PROMPTS = 40
BODIES = [
    "doing ok today",
    "Feeling pretty good, thanks for checking in",
    "rough morning but hanging in there",
    "better than yesterday",
    "tired but fine",
]
# The everyday mix, per 100 texts: 80 check-in answers (3 and 4 only: a drop of 2 or more from a
# member's recent scores is urgent by rule, which is not an everyday text), 14 free texts, 5 keywords,
# 1 at watch level.
DIGITS = ["4", "3"]
FREE_TEXTS = [b for b in BODIES if b != "rough morning but hanging in there"]
KEYWORDS = ["WHEN", "INFO", "CUANDO", "WHEN", "INFO"]
WATCH_TEXT = "rough morning but hanging in there"
KINDS = {"digit": 80, "free text": 14, "keyword": 5, "watch": 1}


def mix_body(position: int) -> tuple[str, str]:
    """(kind, body) of the text at `position` in the everyday mix."""
    n = position % 100
    if n == 0:
        return "watch", WATCH_TEXT
    if n <= 5:
        return "keyword", KEYWORDS[n - 1]
    if n <= 19:
        return "free text", FREE_TEXTS[n % len(FREE_TEXTS)]
    return "digit", DIGITS[(position // 100 + n) % len(DIGITS)]


TARGET = 0.50  # webhook / floor (issue 18): half of what one durable INSERT allows

# Chosen with CHECKIN_BENCH_SWEEP=1 on a 2-core machine: gthread 2 x 4 gave the webhook the best throughput
# (in paired runs 1.4-1.7x sync with 3 workers; sync 2 and 4 and gthread 4 x 2 were lower still): the
# webhook spends much of each request waiting on PostgreSQL, which threads overlap.
SERVER = ServerSettings(workers=2, worker_class="gthread", threads=4)
CANDIDATES = [
    ServerSettings(2, "sync"),
    ServerSettings(3, "sync"),
    ServerSettings(4, "sync"),
    ServerSettings(2, "gthread", 4),
    ServerSettings(4, "gthread", 2),
]

WARMUP = float(os.environ.get("CHECKIN_BENCH_WARMUP", "1"))
DURATION = float(os.environ.get("CHECKIN_BENCH_DURATION", "3"))  # per server per round
ROUNDS = int(os.environ.get("CHECKIN_BENCH_ROUNDS", "3"))
WEBHOOK, BARE, FLOOR = "inbound sms webhook", "bare flask twiml", "floor: 1 insert"
FREE_ONLY = "webhook, free texts only"  # the same server as WEBHOOK, another load
APPS = {
    BARE: "bench.bare_app:create_app()",
    FLOOR: "bench.bare_app:create_floor_app()",
    WEBHOOK: "webhooks:create_app()",
}


def procfile_server(label: str, app_spec: str, port: int, env: dict[str, str], tmp) -> Command:
    """`app_spec` ("module:factory") served by the Procfile's `web:` options, on 127.0.0.1:port."""
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            words = shlex.split(
                line.removeprefix("web:")
                .replace("${PORT:-5000}", str(port))
                .replace("${WEB_THREADS:-8}", env.get("WEB_THREADS", "8"))
                .replace("0.0.0.0", "127.0.0.1")
            )
            if words[:3] != ["python", "-m", "webhooks.server"] or words[-2] != "--call":
                raise RuntimeError(
                    f"the Procfile's web: line is not 'python -m webhooks.server ... --call app': {line}"
                )
            return Command(label, [PYTHON, *words[1:-1], app_spec.removesuffix("()")], port, env, tmp)
    raise RuntimeError("no web: line in the Procfile")


def app_env(database_url: str, port: int, instance: str, encryption_key: str) -> dict[str, str]:
    return bench_env(
        database_url,
        REDIS_URL,
        instance,
        encryption_key,
        f"http://127.0.0.1:{port}",
        MESSAGING_BACKEND="console",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
    )


def seed(database_url: str, encryption_key: str, replying: bool = False) -> None:
    """The group and MEMBERS; with `replying`, also REPLYING, each with PROMPTS open check-in prompts
    asked over the last six days (within the answer window)."""
    from datetime import timedelta

    from checkin import crypto
    from checkin.checkins import CheckIn
    from checkin.db import Database, utcnow
    from checkin.directory import add_group, add_member

    db = Database(database_url)
    crypto.install(db.engine, [encryption_key])
    try:
        with db.session() as s:
            group = add_group(s, "Bench Group", "America/New_York", GROUP_NUMBER)
            for i, phone in enumerate(MEMBERS):
                add_member(s, group.name, phone, f"Member{i} Bench", "es" if i % 10 == 0 else "en")
            if replying:
                now = utcnow()
                for i, phone in enumerate(REPLYING):
                    member = add_member(
                        s, group.name, phone, f"Replier{i} Bench", "es" if i % 10 == 0 else "en"
                    )
                    s.flush()
                    s.execute(
                        CheckIn.__table__.insert(),
                        [
                            {
                                "member_id": member.id,
                                "group_id": group.id,
                                "channel": "sms",
                                "prompt_key": f"bench:{member.id}:{p}",
                                "prompted_at": now - timedelta(days=6) + timedelta(minutes=p),
                                "state": "open",
                                "created_at": now,
                            }
                            for p in range(PROMPTS)
                        ],
                    )
    finally:
        db.dispose()


def count_inbound(database_url: str) -> tuple[int, int]:
    """(inbound messages stored, of which from a known member)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT count(*), count(member_id) FROM messages WHERE direction = 'inbound'")
            ).one()
            return int(row[0]), int(row[1])
    finally:
        engine.dispose()


def count_answers(database_url: str) -> int:
    """Check-in prompts answered (by the mix's digits)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM checkins WHERE state = 'answered'")).scalar_one()
            )
    finally:
        engine.dispose()


def request_builder(public_url: str, mix: bool = False):
    """Builds, per load connection, requests with unique MessageSids signed for `public_url`: free texts
    from MEMBERS, or (`mix`) the everyday mix from REPLYING."""
    from webhooks.simulate import sign, sms_params

    tag = secrets.randbits(32)

    def build(proc: int, thread: int, count: int):
        out = []
        senders = REPLYING if mix else MEMBERS
        for k in range(count):
            sid = f"SM{tag:08x}{proc:02x}{thread:02x}{k:020x}"
            member = senders[(k * 7 + thread * 31 + proc * 101) % len(senders)]
            body = mix_body(k + thread * 13 + proc * 53)[1] if mix else BODIES[k % len(BODIES)]
            params = sms_params(member, GROUP_NUMBER, body, sid=sid, account_sid="AC" + "0" * 32)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(AUTH_TOKEN, public_url, params),
            }
            out.append((urlencode(params).encode(), headers))
        return out

    return build


def check_once(port: int, public_url: str, *, reply_expected: bool = True) -> str:
    """One request before timing: the answer must be 200 TwiML, with a reply unless `reply_expected` is
    False (the webhook answers a routine text with empty TwiML: a worker decides it, checkin.intake).
    Returns the reply text."""
    from webhooks.simulate import replies_from_twiml

    body, headers = request_builder(public_url)(99, 99, 1)[0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", PATH, body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"sanity request to port {port} got HTTP {resp.status}: {text[:300]}")
    replies = replies_from_twiml(text)
    if reply_expected and not replies:
        raise RuntimeError(f"sanity request to port {port} got no reply: {text[:300]}")
    return " ".join(replies)


def check_webhook(port: int, public_url: str) -> None:
    """The webhook must take the everyday path: a routine text from a known member, stored for a worker
    to decide and answered with empty TwiML (its reply goes by REST, checkin.intake)."""
    reply = check_once(port, public_url, reply_expected=False)
    if reply:
        print(
            f"WARNING: the webhook answered a routine text inline, so the figures measure another path "
            f"(check the server log / rules config): {reply!r}",
            flush=True,
        )


def measure(
    label: str,
    port: int,
    public_url: str,
    database_url: str,
    server_pids: list[int],
    duration: float = DURATION,
    warmup: float = WARMUP,
    mix: bool = False,
):
    """Load one server; also account the CPU its gunicorn processes and database connections use while measured."""

    def probe() -> dict[int, float]:
        pids = server_pids + backend_pids(database_url)
        return {pid: cpu_seconds([pid]) for pid in pids}

    return run_load(
        label,
        port,
        PATH,
        request_builder(public_url, mix=mix),
        processes=2,
        threads=4,
        max_rps=10000,
        warmup=warmup,
        duration=duration,
        cpu_probe=probe,
    )


def sweep(database_url: str, tmp, key: str) -> ServerSettings:
    print("sweep: webhook throughput per gunicorn setting (3 s each)")
    best, best_rps = None, -1.0
    for server in CANDIDATES:
        port = free_port()
        env = app_env(database_url, port, str(tmp / "instance"), key)
        check = partial(check_webhook, port, env["PUBLIC_BASE_URL"] + PATH)
        with gunicorn("webhooks:create_app()", server, env, tmp, port, check=check) as srv:
            r = measure(
                str(server),
                port,
                env["PUBLIC_BASE_URL"] + PATH,
                database_url,
                srv.pids(),
                duration=3.0,
                mix=True,
            )
        print("  " + format_result(r).replace(f"{server!s:<22}", f"{server!s:<48}"), flush=True)
        if r.valid and r.rps > best_rps:
            best, best_rps = server, r.rps
    if best is None:
        raise RuntimeError("no gunicorn setting gave a valid webhook run")
    print(f"sweep: best is {best}")
    return best


def combine(label: str, runs: list[LoadResult]) -> LoadResult:
    """One result from several rounds: all requests over all measured seconds, latencies merged."""
    cpu = [r.cpu_ms_per_request * r.requests for r in runs if r.cpu_ms_per_request is not None]
    total = sum(r.requests for r in runs)
    return LoadResult(
        label,
        total,
        sum(r.seconds for r in runs),
        sorted(x for r in runs for x in r.latencies_ms),
        sum(r.errors for r in runs),
        next((r.first_error for r in runs if r.first_error), None),
        any(r.exhausted for r in runs),
        (sum(cpu) / total) if cpu and total else None,
    )


def per_kind(database_url: str, tmp, key: str, count: int = 150) -> None:
    """Each kind of text through Flask's test client in this process (no server, no load generator):
    Python CPU and SQL statements per request, after 20 requests of warm-up. The database's own CPU
    is not in these figures (the load figures above have it)."""
    import logging

    from sqlalchemy import event

    from webhooks import create_app
    from webhooks.simulate import sign, sms_params

    public_url = "http://127.0.0.1:1" + PATH
    os.environ.update(app_env(database_url, 1, str(tmp / "instance-per-kind"), key))
    logging.disable(logging.WARNING)  # an urgent text logs its escalation at WARNING and above
    app = create_app()
    statements = [0]
    # psycopg parses a statement's placeholders again on every execution once it is longer than this
    # (its cache skips longer ones): a hot-path statement past it costs CPU on every text.
    from psycopg import _queries

    cached_up_to = getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", 4096)
    too_long: set[int] = set()

    def counted(_conn, _cursor, statement, *_args):
        statements[0] += 1
        if len(statement) > cached_up_to:
            too_long.add(len(statement))

    from checkin import intake

    runtime = app.extensions["checkin"]
    engine = runtime.db.engine
    event.listen(engine, "before_cursor_execute", counted)
    # The webhook's INSERT through the driver (checkin.adapters.pg_intake) passes no engine event: count it here.
    if runtime.intake_insert is not None:
        insert = runtime.intake_insert

        def counted_insert(db, values):
            statements[0] += 1
            return insert(db, values)

        runtime.intake_insert = counted_insert
    client = app.test_client()
    tag = secrets.randbits(32)
    kinds = {
        "digit": (REPLYING, DIGITS),
        "free text": (REPLYING, FREE_TEXTS),
        "keyword": (REPLYING, KEYWORDS),
        "watch": (REPLYING, [WATCH_TEXT]),
        "free text (no prompt)": (MEMBERS, BODIES),
    }
    print(f"per kind, in this process ({count} texts each; Python CPU, no database CPU):", flush=True)
    try:
        for n, (kind, (senders, bodies)) in enumerate(kinds.items()):
            requests = []
            for k in range(count + 20):
                params = sms_params(
                    senders[(k * 7 + n) % len(senders)],
                    GROUP_NUMBER,
                    bodies[k % len(bodies)],
                    sid=f"SM{tag:08x}{n:04x}{k:020x}",
                    account_sid="AC" + "0" * 32,
                )
                requests.append((params, {"X-Twilio-Signature": sign(AUTH_TOKEN, public_url, params)}))
            for i, (params, headers) in enumerate(requests):
                if i == 20:
                    statements[0], cpu, wall = 0, time.process_time(), time.perf_counter()
                response = client.post(public_url, data=params, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{kind}: HTTP {response.status_code}")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            webhook_statements = statements[0]
            # What a worker then spends deciding those texts (checkin.intake.decide_stored), in turn.
            undecided = _undecided_ids(app, f"SM{tag:08x}{n:04x}")
            statements[0], decide_cpu = 0, time.process_time()
            for message_id in undecided:
                intake.decide_stored(runtime.db, message_id, context=runtime.escalation)
            decide_cpu = time.process_time() - decide_cpu
            decided = (
                f"; worker: {1000 * decide_cpu / len(undecided):5.2f} ms CPU, "
                f"{statements[0] / len(undecided):4.1f} statements per text decided"
                if undecided
                else "; answered inline (no worker)"
            )
            print(
                f"  {kind:<22} {1000 * cpu / count:5.2f} ms CPU, {1000 * wall / count:5.2f} ms wall, "
                f"{webhook_statements / count:4.1f} statements per text{decided}",
                flush=True,
            )
        if too_long:
            print(
                f"WARNING: statements of {sorted(too_long)} characters ran, longer than psycopg caches "
                f"({cached_up_to}): each is parsed again on every execution",
                flush=True,
            )
    finally:
        event.remove(engine, "before_cursor_execute", counted)
        app.extensions["checkin"].db.dispose()
        logging.disable(logging.NOTSET)


def _undecided_ids(app, sid_prefix: str) -> list[int]:
    """The texts whose MessageSid starts with `sid_prefix` that are stored undecided, for a worker."""
    from sqlalchemy import select

    from checkin import intake
    from checkin.models import Message

    with app.extensions["checkin"].db.session() as s:
        return list(
            s.scalars(
                select(Message.id)
                .where(Message.status == intake.UNDECIDED, Message.provider_sid.startswith(sid_prefix))
                .order_by(Message.id)
            )
        )


def main() -> None:
    from cryptography.fernet import Fernet
    from redis import Redis

    key = Fernet.generate_key().decode()
    control = Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=5)
    token = secrets.token_hex(16)
    if not control.set(REDIS_LOCK, token, nx=True, ex=600):
        raise RuntimeError(
            f"Redis database 15 is in use ({REDIS_LOCK} is held, e.g. by a test run); try again later"
        )
    redis = Redis.from_url(REDIS_URL, socket_timeout=5)
    started = time.monotonic()
    try:
        redis.flushdb()
        with scratch_dir() as tmp, temp_database() as database_url:
            seed(database_url, key, replying=True)
            server = sweep(database_url, tmp, key) if os.environ.get("CHECKIN_BENCH_SWEEP") == "1" else SERVER
            procfile = os.environ.get("CHECKIN_BENCH_SERVER") == "procfile"
            print(
                f"server: {'the Procfile web: line (waitress)' if procfile else server}, bind 127.0.0.1; load: 2 processes x 4 keep-alive connections, {ROUNDS} rounds of "
                f"{WARMUP:g} s warm-up + {DURATION:g} s measured per server; database: PostgreSQL, "
                f"{len(MEMBERS) + len(REPLYING)} members; {os.cpu_count()} CPUs, load average "
                f"{os.getloadavg()[0]:.2f} before start",
                flush=True,
            )
            print(
                "webhook load: the everyday mix per 100 texts: "
                + ", ".join(f"{n} {kind}" for kind, n in KINDS.items())
                + f"; '{FREE_ONLY}': the free texts this bench sent before the mix",
                flush=True,
            )
            with ExitStack() as stack:
                urls, pids = {}, {}
                for label, spec in APPS.items():
                    port = free_port()
                    env = app_env(database_url, port, str(tmp / "instance"), key)
                    urls[label] = (port, env["PUBLIC_BASE_URL"] + PATH)
                    check = partial(check_webhook if label == WEBHOOK else check_once, *urls[label])
                    srv = (
                        procfile_server(label, spec, port, env, tmp)
                        if procfile
                        else Gunicorn(spec, port, server, env, tmp)
                    )
                    pids[label] = serve(stack, srv, check=check, timeout=90).pids()
                urls[FREE_ONLY], pids[FREE_ONLY] = urls[WEBHOOK], pids[WEBHOOK]
                labels = [*APPS, FREE_ONLY]
                runs: dict[str, list[LoadResult]] = {label: [] for label in labels}
                ratios: dict[str, list[float]] = {WEBHOOK: [], FLOOR: []}
                of_floor: dict[str, list[float]] = {WEBHOOK: [], FREE_ONLY: []}  # per round
                for n in range(ROUNDS):
                    order = labels[n % len(labels) :] + labels[: n % len(labels)]  # each goes first once
                    this = {
                        label: measure(label, *urls[label], database_url, pids[label], mix=label == WEBHOOK)
                        for label in order
                    }
                    for label, r in this.items():
                        runs[label].append(r)
                    for label in ratios:
                        ratios[label].append(this[label].rps / this[BARE].rps if this[BARE].rps else 0.0)
                    for label in of_floor:
                        of_floor[label].append(this[label].rps / this[FLOOR].rps if this[FLOOR].rps else 0.0)
                    print(
                        f"round {n + 1}: "
                        + ", ".join(f"{label} {this[label].rps:.0f} req/s" for label in labels)
                        + f"; webhook / floor {of_floor[WEBHOOK][-1]:.3f} (free texts only "
                        + f"{of_floor[FREE_ONLY][-1]:.3f}), webhook / bare {ratios[WEBHOOK][-1]:.3f}, "
                        + f"floor / bare {ratios[FLOOR][-1]:.3f} (load average {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
            real, free, bare, floor = (
                combine(label, runs[label]) for label in (WEBHOOK, FREE_ONLY, BARE, FLOOR)
            )
            for r in (real, free, floor, bare):
                print_result(r)
            ratio = statistics.median(of_floor[WEBHOOK])
            print(
                f"{'ratio (webhook / floor)':<22} {ratio:7.3f} req/s, median of {ROUNDS} rounds "
                f"(target >= {TARGET:.2f}: {'met' if ratio >= TARGET else 'NOT met'}); "
                f"p50 {real.p(50):.1f} ms vs {floor.p(50):.1f} ms, p99 {real.p(99):.1f} ms vs {floor.p(99):.1f} ms",
                flush=True,
            )
            print(
                f"{'ratio (free texts only / floor)':<22} {statistics.median(of_floor[FREE_ONLY]):7.3f} req/s; "
                f"p50 {free.p(50):.1f} ms, p99 {free.p(99):.1f} ms",
                flush=True,
            )
            print(
                f"{'ratio (webhook / bare)':<22} {statistics.median(ratios[WEBHOOK]):7.3f} req/s; "
                f"p50 latency x{real.p(50) / bare.p(50) if bare.p(50) else 0.0:.1f}",
                flush=True,
            )
            print(
                f"{'ratio (floor / bare)':<22} {statistics.median(ratios[FLOOR]):7.3f} req/s: the ceiling for any webhook "
                f"that stores before it answers, on this machine now",
                flush=True,
            )
            stored, from_members = count_inbound(database_url)
            answered = count_answers(database_url)
            print(
                f"stored {stored} inbound messages ({from_members} from known members); {answered} check-in "
                f"prompts answered of {len(REPLYING) * PROMPTS} open",
                flush=True,
            )
            if answered >= len(REPLYING) * PROMPTS:
                print(
                    "WARNING: every prompt was answered, so later digits took the 'nothing asked' path",
                    flush=True,
                )
            if os.environ.get("CHECKIN_BENCH_PER_KIND", "1") == "1":
                per_kind(database_url, tmp, key)
            print(f"section took {time.monotonic() - started:.0f} s", flush=True)
            if not all(r.valid for r in (real, free, bare, floor)):
                raise RuntimeError("invalid run: errors or exhausted requests (see above)")
            if ratio < TARGET:
                print(f"note: webhook / floor {ratio:.2f} is below the {TARGET:.2f} target", flush=True)
    finally:
        try:
            redis.flushdb()
        finally:
            if control.get(REDIS_LOCK) == token.encode():
                control.delete(REDIS_LOCK)
