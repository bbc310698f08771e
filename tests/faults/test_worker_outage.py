"""The Procfile's worker, for real, through the faults that used to leave alerts waiting on a human:
Redis going away for a few seconds (the worker quit for good) and the worker SIGKILLed (/healthz said
"ok" for 8 minutes)."""

from __future__ import annotations

import time
import uuid
from contextlib import suppress

import requests

from tests.faults.harness import CRISIS, STAFF_PHONE, Stack, Text, _wait, member_phone, post_text


def _alerts_to_staff(stack: Stack) -> list[dict]:
    return [m for m in stack.fake.messages() if m["params"].get("To") == STAFF_PHONE]


def test_a_worker_rides_out_a_redis_outage_and_the_alert_texted_meanwhile_goes_out(database_url, tmp_path):
    assert database_url.startswith("postgresql"), "the fault harness needs PostgreSQL (127.0.0.1:5432)"
    # The alert texted during the outage is enqueued by the cron's sweep, which after the outage waits one
    # cron lease before its duties resume (20 s by default): a short lease here, the same wait.
    with Stack(tmp_path, extra_env={"CHECKIN_CRON_LEASE_SECONDS": "6"}) as stack:
        stack.add_members(0, 2)
        worker = stack.process("worker")
        # Redis goes while the worker is mid-send (Twilio slow to accept): the job's bookkeeping after the
        # send is what used to end the process ("found an unhandled exception, quitting...").
        stack.fake.delay(3)
        assert post_text(stack, Text(f"SM{uuid.uuid4().hex}", member_phone(0), CRISIS)) == 200
        _wait(lambda: "workers.jobs.deliver" in worker.log(), 30, "the worker took a send")
        stack.valkey.stop()
        time.sleep(2)
        # A crisis text while Redis is down: stored by the web (the database is up), its alert waits.
        assert post_text(stack, Text(f"SM{uuid.uuid4().hex}", member_phone(1), CRISIS)) == 200
        time.sleep(4)
        assert worker.alive(), worker.log()[-3000:]
        stack.fake.delay(0)
        stack.valkey.start()
        _wait(lambda: len(_alerts_to_staff(stack)) >= 2, 90, "both facilitator alerts reached Twilio")
        assert worker.alive(), worker.log()[-3000:]
        callbacks = [m["params"].get("StatusCallback") for m in _alerts_to_staff(stack)]
        assert len(callbacks) == len(set(callbacks)) == 2, callbacks  # each alert once
        log = worker.log()
        assert "quitting" not in log
        # Loud once (RQ's own line from its blocking pop, if that is where the outage found it, and ours),
        # and once when it is over: not a line per retry.
        outage_lines = [
            line
            for line in log.splitlines()
            if "REDIS UNREACHABLE" in line or "could not connect to Redis" in line
        ]
        assert 1 <= len(outage_lines) <= 2, log[-3000:]
        assert log.count("Redis answers again") == 1, log[-3000:]


def test_healthz_says_degraded_within_a_minute_of_the_worker_being_killed(database_url, tmp_path):
    assert database_url.startswith("postgresql"), "the fault harness needs PostgreSQL (127.0.0.1:5432)"
    # Two missed beats of the Procfile's --worker-ttl, as in production (30 s: a minute), with a ttl of
    # 10 s here (a beat a second, gone after 20 s) so the test waits a third as long. RQ's registration
    # still outlives the kill by ttl + 60 s, past the deadline below.
    ttl = 10
    with Stack(tmp_path, extra_env={"CHECKIN_WORKER_TTL": str(ttl)}) as stack:

        def workers() -> str:
            return requests.get(stack.base_url + "/healthz", timeout=5).json()["workers"]

        assert workers() == "ok"
        stack.process("worker").kill()
        killed_at = time.monotonic()
        _wait(lambda: workers() != "ok", ttl + 90, "/healthz said the worker is gone")
        assert time.monotonic() - killed_at <= 2 * ttl + 15
        assert workers() == f"no worker is taking alerts: no heartbeat for over {2 * ttl} s"
        assert "DEGRADED: workers" in stack.process("web").log()


def test_a_worker_stopped_during_a_redis_outage_exits_cleanly(database_url, tmp_path):
    """A deploy restarting workers while Redis is away: SIGTERM ends the worker at once, exit code 0."""
    import signal

    assert database_url.startswith("postgresql"), "the fault harness needs PostgreSQL (127.0.0.1:5432)"
    with Stack(tmp_path) as stack:
        worker = stack.process("worker")
        stack.valkey.stop()
        _wait(lambda: "REDIS UNREACHABLE" in worker.log(), 30, "the worker noticed the outage")
        worker.kill(signal.SIGTERM)
        assert worker.proc.wait(20) == 0, worker.log()[-3000:]
        assert "found an unhandled exception" not in worker.log()


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_scheduler_process_ends_when_its_worker_is_sigkilled(database_url, tmp_path):
    """RQ forks a scheduler process per worker (--with-scheduler) and stops it only from the worker's own
    shutdown: the worker SIGKILLed alone (the OOM killer) left it running, holding the scheduler locks."""
    import os
    import signal

    assert database_url.startswith("postgresql"), "the fault harness needs PostgreSQL (127.0.0.1:5432)"
    with Stack(tmp_path) as stack:
        worker = stack.process("worker")
        _wait(lambda: _children(worker.proc.pid), 30, "the worker forked its scheduler")
        [scheduler] = _children(worker.proc.pid)
        try:
            os.kill(worker.proc.pid, signal.SIGKILL)  # the worker alone, not its process group
            worker.proc.wait(10)

            def gone() -> bool:
                try:
                    os.kill(scheduler, 0)
                except ProcessLookupError:
                    return True
                # Exited but not yet reaped by whoever adopted it: gone too.
                with open(f"/proc/{scheduler}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"

            _wait(gone, 15, "the orphaned scheduler process exited")
        finally:
            with suppress(ProcessLookupError):
                os.kill(scheduler, signal.SIGKILL)
        assert "is gone; stopping and giving its locks back" in worker.log()
