"""Signed SMS webhooks while N connections trickle request bodies one byte a second.

A slow or hostile client that sends its headers and then a byte a second holds whatever reads its body.
gunicorn's sync workers read it in the worker (two workers: two such clients stall every webhook); its
gthread workers read it in a pool thread (one thread per trickler); waitress reads every connection in
its asyncore loop and hands a request to a thread only once the whole body is in.

For each server setup: the latency of signed webhooks (one new connection each, as Twilio makes them)
with nobody else connected (the baseline) and with CHECKIN_BENCH_TRICKLERS (50) trickling connections
open, as the ratio of the two; how many answered within a second; and each setup's throughput with no
tricklers (closed loop, 2 x 4 connections) beside gunicorn gthread 2 x 4 (what `inbound` measures with),
all servers up at once and measured in CHECKIN_BENCH_ROUNDS (3) interleaved rounds, as `inbound` does.
The `procfile` setup is the Procfile's own `web:` line, run as written.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shlex
import socket
import statistics
import threading
import time
from contextlib import ExitStack
from functools import partial
from urllib.parse import urlencode

from bench.bench_inbound import (
    AUTH_TOKEN,
    GROUP_NUMBER,
    MEMBERS,
    PATH,
    REDIS_LOCK,
    REDIS_URL,
    app_env,
    check_webhook,
    count_inbound,
    request_builder,
    seed,
)
from bench.common import (
    REPO,
    Command,
    Gunicorn,
    LoadResult,
    ServerSettings,
    free_port,
    percentile,
    run_load,
    scratch_dir,
    serve,
    temp_database,
)

TRICKLERS = int(os.environ.get("CHECKIN_BENCH_TRICKLERS", "50"))
PROBES = int(os.environ.get("CHECKIN_BENCH_PROBES", "20"))
PROBE_TIMEOUT = 10.0  # seconds; a probe that waits this long counts as starved
STARVED_AFTER = 2  # timed-out probes before a setup is declared starved (keeps the bench short)
THROUGHPUT_SECONDS = float(os.environ.get("CHECKIN_BENCH_DURATION", "3"))
ROUNDS = int(os.environ.get("CHECKIN_BENCH_ROUNDS", "3"))
BASE_SETUP = "gunicorn gthread 2x4"  # the setting `inbound` measures with
BODY_LENGTH = 4096  # what each trickler announces: under every limit, so the server must wait for it


def procfile_web(port: int) -> list[str]:
    """The Procfile's `web:` line, run by a shell as a process manager would, on 127.0.0.1:port."""
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            cmd = line.removeprefix("web:").strip().replace("0.0.0.0", "127.0.0.1")
            venv_bin = shlex.quote(str(REPO / ".venv" / "bin"))
            return ["sh", "-c", f"export PATH={venv_bin}:$PATH PORT={port}; exec {cmd}"]
    raise RuntimeError("no web: line in the Procfile")


def setups(port: int) -> list[tuple[str, list[str] | ServerSettings]]:
    from bench.common import PYTHON

    return [
        ("gunicorn sync 2 (before)", ServerSettings(2, "sync")),
        (BASE_SETUP, ServerSettings(2, "gthread", 4)),
        (
            "waitress 8 threads",
            [
                PYTHON,
                "-m",
                "waitress",
                f"--listen=127.0.0.1:{port}",
                "--threads=8",
                "--call",
                "webhooks:create_app",
            ],
        ),
        ("procfile web", procfile_web(port)),
    ]


# --- tricklers -------------------------------------------------------------------------------------


class Tricklers:
    """N connections that send a POST's headers, then one body byte per second per connection, from one
    thread. A connection the server closes is opened again (a hostile client would)."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.socks: list[socket.socket | None] = [None] * count
        self.reopened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            s.sendall(
                (
                    f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
                ).encode()
            )
            return s
        except OSError:
            return None

    def __enter__(self) -> Tricklers:
        self.socks = [self._open() for _ in range(self.count)]
        self.thread.start()
        time.sleep(1.5)  # every trickler has sent headers and a byte or two
        return self

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for i, s in enumerate(self.socks):
                try:
                    if s is None:
                        raise OSError
                    s.sendall(b"a")
                except OSError:
                    if s is not None:
                        s.close()
                    self.socks[i] = self._open()
                    self.reopened += 1

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            if s is not None:
                s.close()


# --- probes ----------------------------------------------------------------------------------------


def probe(port: int, public_url: str, tag: str, k: int) -> float | None:
    """One signed webhook on a new connection: seconds to a 200, or None when it timed out or failed."""
    from webhooks.simulate import sign, sms_params

    params = sms_params(
        MEMBERS[k % len(MEMBERS)],
        GROUP_NUMBER,
        "doing ok today",
        sid=f"SM{tag}{k:024x}",
        account_sid="AC" + "0" * 32,
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(AUTH_TOKEN, public_url, params),
    }
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("POST", PATH, body=urlencode(params).encode(), headers=headers)
        resp = conn.getresponse()
        resp.read()
        return time.monotonic() - started if resp.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def probes(port: int, public_url: str) -> tuple[list[float], int]:
    """PROBES webhooks one after another: (sorted latencies in ms of those answered, number timed out)."""
    tag = secrets.token_hex(4)
    answered, failed = [], 0
    for k in range(PROBES):
        took = probe(port, public_url, tag, k)
        if took is None:
            failed += 1
            if failed >= STARVED_AFTER:
                break
        else:
            answered.append(took * 1000.0)
    return sorted(answered), failed


def describe(label: str, lat: list[float], failed: int) -> str:
    if not lat:
        return f"{label:<34} no answer: {failed} probes timed out after {PROBE_TIMEOUT:g} s (starved)"
    within = sum(1 for x in lat if x <= 1000.0)
    line = (
        f"{label:<34} p50 {percentile(lat, 50):7.1f} ms  max {lat[-1]:7.1f} ms  "
        f"{within}/{len(lat) + failed} within 1 s"
    )
    if failed:
        line += f"  ({failed} timed out after {PROBE_TIMEOUT:g} s: starved)"
    return line


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
    print(
        f"{TRICKLERS} trickling connections (headers, then 1 body byte/s of {BODY_LENGTH}); {PROBES} signed webhooks "
        f"in turn, each on a new connection; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        redis.flushdb()
        with scratch_dir() as tmp, temp_database() as database_url, ExitStack() as stack:
            seed(database_url, key)
            servers: dict[str, tuple[int, str]] = {}
            for label, _ in setups(0):
                port = free_port()
                env = app_env(database_url, port, str(tmp / "instance"), key)
                spec = dict(setups(port))[label]
                srv = (
                    Gunicorn("webhooks:create_app()", port, spec, env, tmp)
                    if isinstance(spec, ServerSettings)
                    else Command(label, spec, port, env, tmp)
                )
                servers[label] = (port, env["PUBLIC_BASE_URL"] + PATH)
                serve(stack, srv, check=partial(check_webhook, *servers[label]), timeout=90)

            # Throughput first (it also warms every worker and thread), in interleaved rounds, each round
            # in a rotated order; the ratio to gthread 2 x 4 is the median of the per-round ratios.
            labels = list(servers)
            runs: dict[str, list[LoadResult]] = {label: [] for label in labels}
            for n in range(ROUNDS):
                for label in labels[n % len(labels) :] + labels[: n % len(labels)]:
                    port, public_url = servers[label]
                    runs[label].append(
                        run_load(
                            label,
                            port,
                            PATH,
                            request_builder(public_url),
                            processes=2,
                            threads=4,
                            max_rps=10000,
                            warmup=1.0,
                            duration=THROUGHPUT_SECONDS,
                        )
                    )

            starved: list[str] = []
            for label in labels:
                port, public_url = servers[label]
                idle, idle_failed = probes(port, public_url)
                with Tricklers(port, TRICKLERS) as trick:
                    slow, slow_failed = probes(port, public_url)
                print(f"--- {label}", flush=True)
                print("  " + describe("idle (baseline)", idle, idle_failed), flush=True)
                print("  " + describe(f"with {TRICKLERS} tricklers", slow, slow_failed), flush=True)
                if idle and slow and not slow_failed:
                    ratio = percentile(slow, 50) / percentile(idle, 50)
                    print(f"  {'ratio (trickling / idle)':<34} p50 x{ratio:.2f}", flush=True)
                else:
                    starved.append(label)
                if trick.reopened:
                    print(
                        f"  (the server closed tricklers {trick.reopened} times; they reconnected)",
                        flush=True,
                    )

            base = BASE_SETUP
            print(
                f"throughput with no tricklers (closed loop, 2 x 4 connections, {ROUNDS} rounds of "
                f"{THROUGHPUT_SECONDS:g} s; ratio: median per-round req/s against {base}):",
                flush=True,
            )
            for label in labels:
                rps = [r.rps for r in runs[label]]
                ratios = [a / b for a, b in zip(rps, (r.rps for r in runs[base])) if b]
                errors = sum(r.errors for r in runs[label])
                print(
                    f"  {label:<32} {statistics.median(rps):6.0f} req/s (median)  errors {errors}"
                    f"  x{statistics.median(ratios) if ratios else 0:.2f}",
                    flush=True,
                )
            stored, _ = count_inbound(database_url)
            print(f"stored {stored} inbound messages; starved: {', '.join(starved) or 'none'}", flush=True)
            if "procfile web" in starved:
                raise RuntimeError("the Procfile's web server was starved by slow clients")
    finally:
        try:
            redis.flushdb()
        finally:
            if control.get(REDIS_LOCK) == token.encode():
                control.delete(REDIS_LOCK)
