"""Shared pieces of the benchmarks: servers, a throwaway database, a load generator, figures.

Everything here talks to 127.0.0.1 only, is bounded in time, and cleans up after itself.
"""

from __future__ import annotations

import http.client
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = (
    str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
)
RQ = str(REPO / ".venv" / "bin" / "rq") if (REPO / ".venv" / "bin" / "rq").exists() else "rq"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


# --- small helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def midday_zone() -> str:
    """A fixed-offset zone where it is midday now: members there are in their day (quiet hours let sends go)."""
    from datetime import UTC, datetime

    shift = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # UTC+shift is midday; Etc/GMT signs are inverted
    return "Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}"


def section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(3, 72 - len(title)), flush=True)


def bench_env(
    database_url: str, redis_url: str, instance: str, key: str, public_base_url: str, **settings: str
) -> dict[str, str]:
    """The environment of a server or worker the bench starts: this process's without any Checkin, Twilio,
    database or Redis setting of its own, then the bench's (the keyword `settings` last)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "CHECKIN_", "DATABASE_", "REDIS_"))
    }
    env.update(
        CHECKIN_ENV="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-secret-key-" + "s" * 32,
        CHECKIN_ENCRYPTION_KEY=key,
        PUBLIC_BASE_URL=public_base_url,
        CHECKIN_INSTANCE_PATH=instance,
        **settings,
    )
    return env


# --- child processes -----------------------------------------------------------------------------

try:  # Linux: prctl(PR_SET_PDEATHSIG) ties a child's life to the bench's
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None
PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child, between fork and exec: nothing here may import or allocate much
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the bench died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def spawn(cmd: Sequence[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start a server or worker in its own session, logging to a file, that is sent SIGTERM when the
    bench process dies, however it dies. A child left running by a killed run is not harmless: an
    `rq worker` still attached to the bench's Redis database takes the next run's jobs and looks them
    up in the old run's database, so the new run never sees its alerts."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(cmd),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with(os.getpid()),
        )


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM (graceful), then SIGKILL to the child's whole session if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only this child and its children
        except ProcessLookupError:
            pass
        proc.wait(5)


def terminate_on_signals() -> None:
    """Turn SIGTERM and SIGHUP (a `timeout`, a closed terminal) into KeyboardInterrupt, so that every
    finally block runs: servers stopped, temporary databases dropped, Redis claims released."""

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def foreign_redis_clients(redis) -> list[str]:
    """Other connections to `redis`'s database (ours excluded), as short descriptions. Run after
    claiming the database: anything left is a process the bench did not start, e.g. a worker from an
    interrupted run, which would take this run's jobs."""
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    mine = redis.client_id()
    return [
        f"{c.get('addr')} (age {c.get('age')} s, last command {c.get('cmd')})"
        for c in redis.client_list()
        if int(c.get("db", -1)) == db and int(c.get("id", -1)) != mine
    ]


# --- gunicorn ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn settings; the benchmark and its baseline are always served with the same ones."""

    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1

    def args(self) -> list[str]:
        out = ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            out += ["--threads", str(self.threads)]
        return out

    def __str__(self) -> str:
        extra = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn --worker-class {self.worker_class} --workers {self.workers}{extra}"


class Gunicorn:
    """One gunicorn master serving `app_spec` on 127.0.0.1:port; logs go to a file, shown on failure."""

    def __init__(self, app_spec: str, port: int, server: ServerSettings, env: dict[str, str], log_dir: Path):
        self.app_spec = app_spec
        self.port = port
        self.server = server
        self.env = env
        self.log_path = Path(log_dir) / f"gunicorn-{port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.server.args(),
            "--log-level",
            "warning",
            self.app_spec,
        ]

    def start(self, timeout: float = 30.0) -> Gunicorn:
        self.proc = spawn(self.command(), env=self.env, log_path=self.log_path)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready once a worker answers HTTP (any status): the master binds before workers boot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/__bench_ready__")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(
            f"gunicorn did not answer on port {self.port} within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, timeout)  # SIGTERM is graceful: the master stops its own workers

    def pids(self) -> list[int]:
        """The master and its workers (for attaching a profiler)."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [self.proc.pid, *(int(p) for p in out.split())]


class Command(Gunicorn):
    """A server started from a fixed command line (waitress, the Procfile's line), run like a gunicorn."""

    def __init__(self, label: str, argv: list[str], port: int, env: dict[str, str], log_dir: Path):
        super().__init__("", port, ServerSettings(), env, log_dir)
        self.label, self.argv = label, argv
        self.log_path = Path(log_dir) / f"server-{port}.log"

    def command(self) -> list[str]:
        return self.argv


def serve(
    stack: ExitStack, server: Gunicorn, *, check: Callable[[], object] | None = None, timeout: float = 30.0
) -> Gunicorn:
    """Start `server`, stopped when `stack` closes, and wait until it is ready: it answers HTTP, and
    `check()` passes (e.g. one signed webhook answered as expected) before anything is measured."""
    stack.callback(server.stop)  # registered first: a server that fails its start is stopped too
    server.start(timeout)
    if check is not None:
        check()
    return server


@contextmanager
def gunicorn(
    app_spec: str,
    server: ServerSettings,
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    *,
    check: Callable[[], object] | None = None,
    timeout: float = 30.0,
) -> Iterator[Gunicorn]:
    """One gunicorn serving `app_spec` for the block, ready as `serve` says."""
    srv = Gunicorn(app_spec, port or free_port(), server, dict(env), log_dir)
    with ExitStack() as stack:
        yield serve(stack, srv, check=check, timeout=timeout)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc; 0 where unreadable)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


# --- PostgreSQL ----------------------------------------------------------------------------------


@contextmanager
def temp_database(prefix: str = "checkin_bench") -> Iterator[str]:
    """A fresh PostgreSQL database with migrations applied; dropped afterwards whatever happens."""
    from sqlalchemy import create_engine, text

    from migrations import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def backend_pids(database_url: str) -> list[int]:
    """PostgreSQL server processes connected to the database (for CPU accounting)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                {"d": make_url(database_url).database},
            )
            return [int(r[0]) for r in rows]
    finally:
        admin.dispose()


@contextmanager
def scratch_dir(prefix: str = "checkin-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield Path(d)


# --- load generator ------------------------------------------------------------------------------

# (body, headers) for one POST; built before timing starts.
Request = tuple[bytes, dict[str, str]]
# build(process_index, thread_index, count) -> that many requests for one connection
RequestBuilder = Callable[[int, int, int], list[Request]]


@dataclass
class LoadResult:
    label: str
    requests: int  # completed with 200 inside the measured window
    seconds: float  # length of the measured window
    latencies_ms: list[float] = field(repr=False)  # sorted, of those requests
    errors: int  # non-200 or failed requests, warm-up included
    first_error: str | None = None
    exhausted: bool = False  # a connection ran out of pre-built requests before the end
    cpu_ms_per_request: float | None = None  # server-side CPU (gunicorn + database), if measured

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)

    @property
    def valid(self) -> bool:
        return self.errors == 0 and not self.exhausted and self.requests > 0


def _connection_loop(port, path, requests, warm_end, end, lat, stats, lock):
    """One keep-alive connection sending its requests back to back until `end` (monotonic)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = errors = 0
    first_error = None
    exhausted = True
    for body, headers in requests:
        start = time.monotonic()
        if start >= end:
            exhausted = False
            break
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            status = None
            conn.close()  # the next request reconnects
            detail = f"{type(exc).__name__}: {exc}"
        done = time.monotonic()
        if status == 200:
            if warm_end <= start and done <= end:
                lat.append((done - start) * 1000.0)
                ok += 1
        else:
            errors += 1
            if first_error is None:
                first_error = f"HTTP {status}" if status is not None else detail
    conn.close()
    with lock:
        stats["ok"] += ok
        stats["errors"] += errors
        stats["exhausted"] = stats["exhausted"] or exhausted
        if first_error and not stats["first_error"]:
            stats["first_error"] = first_error


def _load_process(
    index, port, path, build, threads, per_thread, ready, go, start_at, warmup, duration, results
):
    signalled = False
    try:
        batches = [build(index, t, per_thread) for t in range(threads)]
        ready.release()
        signalled = True
        go.wait()
        warm_end = start_at.value + warmup
        end = warm_end + duration
        stats = {"ok": 0, "errors": 0, "exhausted": False, "first_error": None}
        lats = [array("d") for _ in range(threads)]
        lock = threading.Lock()
        workers = [
            threading.Thread(
                target=_connection_loop, args=(port, path, batches[t], warm_end, end, lats[t], stats, lock)
            )
            for t in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        all_lat = array("d")
        for a in lats:
            all_lat.extend(a)
        results.put((stats, all_lat.tobytes()))
    except BaseException:
        if not signalled:
            ready.release()
        results.put(({"ok": 0, "errors": 1, "exhausted": False, "first_error": traceback.format_exc()}, b""))


def run_load(
    label: str,
    port: int,
    path: str,
    build: RequestBuilder,
    *,
    processes: int = 2,
    threads: int = 4,
    warmup: float = 1.0,
    duration: float = 5.0,
    max_rps: float = 6000.0,
    cpu_probe: Callable[[], dict[int, float]] | None = None,
) -> LoadResult:
    """Closed-loop load: processes x threads keep-alive connections, each sending pre-built POSTs.

    Requests are built in the load processes before the clock starts (enough for `max_rps` over warm-up
    plus the measured window); the run stops by itself at the deadline. `cpu_probe` ({pid: CPU seconds} of
    the server side) is read at both ends of the measured window to give server CPU per request.
    """
    ctx = multiprocessing.get_context("fork")
    per_thread = math.ceil(max_rps * (warmup + duration) / (processes * threads)) + 16
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_load_process,
            daemon=True,
            args=(i, port, path, build, threads, per_thread, ready, go, start_at, warmup, duration, results),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise RuntimeError("load generator processes did not get ready within 60s")
        start_at.value = time.monotonic() + 0.05
        go.set()
        cpu_used = None
        if cpu_probe is not None:
            time.sleep(max(0.0, start_at.value + warmup - time.monotonic()))
            before = cpu_probe()
            time.sleep(max(0.0, start_at.value + warmup + duration - time.monotonic()))
            after = cpu_probe()
            cpu_used = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
        collected = []
        for _ in procs:
            collected.append(results.get(timeout=warmup + duration + 60))
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
    ok = errors = 0
    exhausted = False
    first_error = None
    lat = array("d")
    for stats, raw in collected:
        ok += stats["ok"]
        errors += stats["errors"]
        exhausted = exhausted or stats["exhausted"]
        first_error = first_error or stats["first_error"]
        chunk = array("d")
        chunk.frombytes(raw)
        lat.extend(chunk)
    result = LoadResult(label, ok, duration, sorted(lat), errors, first_error, exhausted)
    if cpu_used is not None and ok:
        result.cpu_ms_per_request = cpu_used * 1000.0 / ok
    return result


# --- printing ------------------------------------------------------------------------------------

LABEL_WIDTH = 22


def format_result(r: LoadResult) -> str:
    line = (
        f"{r.label:<{LABEL_WIDTH}} {r.rps:7.0f} req/s  p50 {r.p(50):5.1f} ms  p99 {r.p(99):5.1f} ms"
        f"  errors {r.errors}"
    )
    if r.cpu_ms_per_request is not None:
        line += f"  server cpu {r.cpu_ms_per_request:.2f} ms/req"
    if r.exhausted:
        line += "  (RAN OUT OF PRE-BUILT REQUESTS: raise max_rps)"
    return line


def print_result(r: LoadResult) -> None:
    print(format_result(r), flush=True)
    if r.first_error:
        print(f"{'':<{LABEL_WIDTH}} first error: {r.first_error.strip()}", flush=True)


def print_ratio(what: str, measured: LoadResult, baseline: LoadResult, target: float | None = None) -> float:
    ratio = measured.rps / baseline.rps if baseline.rps else 0.0
    lat = measured.p(50) / baseline.p(50) if baseline.p(50) else 0.0
    line = f"{'ratio (' + what + ')':<{LABEL_WIDTH}} {ratio:7.2f} req/s"
    if target is not None:
        line += f"   (target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'})"
    line += f"   p50 latency x{lat:.2f}"
    print(line, flush=True)
    return ratio


# --- paced sends through real rq workers ---------------------------------------------------------

# send_rate and announce share these: Redis database 13 under the test suite's claim, the loopback Twilio.
SEND_REDIS_URL = "redis://127.0.0.1:6379/13"
SEND_REDIS_LOCK = "checkin:test-db-lock:13"  # the test suite's claim on a Redis database number; honour it
SEND_ACCOUNT_SID = "AC" + "3" * 32
SEND_AUTH_TOKEN = "bench-auth-token-" + "r" * 16
SEND_FROM_NUMBER = "+15005550006"
WARM_UP_NUMBER = (
    "+15005550009"  # its own pace and Twilio window: warming up costs the measured number nothing
)
SEND_WORKERS = 2


def send_worker_env(
    database_url: str, instance: str, key: str, twilio_base: str, rate: float
) -> dict[str, str]:
    """The environment of a worker sending through the loopback Twilio at CHECKIN_SEND_RATE=`rate`."""
    return bench_env(
        database_url,
        SEND_REDIS_URL,
        instance,
        key,
        "http://127.0.0.1:9",
        MESSAGING_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=SEND_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=SEND_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=SEND_FROM_NUMBER,
        TWILIO_API_BASE_URL=twilio_base,
        CHECKIN_SEND_RATE=f"{rate:g}",
    )


@dataclass
class SendRig:
    runtime: object  # checkin.bootstrap.Runtime, built from `env`
    fake: object  # tests.fake_twilio.FakeTwilio, serving in this process
    env: dict[str, str]  # for the rq workers
    scratch: Path


@contextmanager
def send_rig(db_prefix: str, rate: float) -> Iterator[SendRig]:
    """Redis database 13 claimed under the test suite's lock, the loopback Twilio, a throwaway database
    and a Runtime on them; all released afterwards whatever happens."""
    from cryptography.fernet import Fernet
    from redis import Redis

    from checkin.bootstrap import Runtime
    from config import load_settings
    from tests.fake_twilio import FakeTwilio

    key = Fernet.generate_key().decode()
    control = Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=5)
    token = uuid.uuid4().hex
    if not control.set(SEND_REDIS_LOCK, token, nx=True, ex=900):
        raise RuntimeError(
            f"Redis database 13 is in use ({SEND_REDIS_LOCK} is held, e.g. by a test run); try again later"
        )
    fake = FakeTwilio(SEND_ACCOUNT_SID, SEND_AUTH_TOKEN)
    runtime = None
    try:
        fake.start()
        with scratch_dir() as tmp, temp_database(db_prefix) as database_url:
            env = send_worker_env(database_url, str(tmp / "instance"), key, fake.base_url, rate)
            runtime = Runtime.from_settings(load_settings(env))
            yield SendRig(runtime, fake, env, tmp)
    finally:
        if runtime is not None:
            runtime.db.dispose()
        fake.stop()
        try:
            Redis.from_url(SEND_REDIS_URL).flushdb()
        finally:
            if control.get(SEND_REDIS_LOCK) == token.encode():
                control.delete(SEND_REDIS_LOCK)


@dataclass
class PacedRun:
    sent: int
    rate: float  # (messages - 1) / (last arrival - first arrival) at the fake
    span: float
    duplicates: int  # a member texted twice
    count_429: int
    max_per_second: int  # the most arrivals in any one-second window


def measure_paced_sends(
    label: str,
    rig: SendRig,
    env: dict[str, str],
    rate_limit: float | None,
    *,
    warm_up: Callable[[], int],
    send: Callable[[], int],
) -> PacedRun:
    """The send rate SEND_WORKERS real `rq worker` processes hold draining what `send()` enqueues (it
    returns how many), after an untimed `warm_up()` (its own number); the fake refuses more than
    `rate_limit` per number per second with 429, as Twilio does."""
    from rq import Worker

    runtime, fake = rig.runtime, rig.fake
    fake.reset()
    runtime.redis.flushdb()
    log_path = rig.scratch / "workers.log"
    cmd = [
        RQ,
        "worker",
        "--url",
        SEND_REDIS_URL,
        "-w",
        "workers.worker.Worker",
        "--with-scheduler",
        "--quiet",
    ]
    workers = [spawn([*cmd, "alerts", "outbox"], env=env, log_path=log_path) for _ in range(SEND_WORKERS)]
    try:
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=runtime.redis)) < SEND_WORKERS:  # started: not part of the figure
            if time.monotonic() > deadline:
                raise RuntimeError(f"the rq workers did not start; see {log_path}")
            time.sleep(0.1)
        # Untimed warm-up from another number: each worker's first send pays for imports and connections.
        warm = warm_up()
        if not fake.wait_for(lambda: len(fake.messages()) >= warm, 60):
            raise RuntimeError(f"{label}: the warm-up messages did not reach Twilio; see {log_path}")
        fake.reset()
        fake.rate_limit(rate_limit)
        total = send()
        timeout = total / (rate_limit or 50) * 2 + 30
        if not fake.wait_for(lambda: len(fake.messages()) >= total, timeout):
            raise RuntimeError(
                f"{label}: only {len(fake.messages())} of {total} messages reached Twilio in {timeout:.0f} s"
            )
        time.sleep(1.0)  # a duplicate would arrive now
        sent, count_429 = fake.messages(), fake.count_429()
    finally:
        for worker in workers:
            stop_process(worker, 15)
    arrivals = sorted(m["created_wall"] for m in sent)
    span = arrivals[-1] - arrivals[0]
    return PacedRun(
        sent=len(sent),
        rate=(len(sent) - 1) / span if span else float("inf"),
        span=span,
        duplicates=sum(n - 1 for n in Counter(m["params"]["To"] for m in sent).values()),
        count_429=count_429,
        max_per_second=max(sum(1 for b in arrivals[i:] if b - a < 1.0) for i, a in enumerate(arrivals)),
    )
