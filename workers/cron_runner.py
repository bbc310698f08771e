"""`checkin-cron` (or `python -m workers.cron_runner`): the cron duties, on every host, active on one.

RQ's own CronScheduler stays the engine: it loads `workers.cron_config` and enqueues the sweeper, the
escalation timers, the digest and the planning tick on their intervals. This module only decides
*when* this process may let it enqueue, and keeps the process alive through Redis outages.

One active runner at a time, by a lease in Redis (redis-py's Lock: SET NX PX with a random token,
renewed by a compare-and-set script). Redis rather than a PostgreSQL advisory lock because the
duties themselves are nothing but enqueues into that same Redis: a runner that cannot reach Redis
can do no duty anyway, so the lease and the work fail together; a lease expires by itself after
CHECKIN_CRON_LEASE_SECONDS, whereas an advisory lock held by a frozen or partitioned host lives as
long as PostgreSQL believes its connection (TCP keepalive, minutes by default); and it costs no
dedicated database connection per host.

Safety of the hand-over, with L = the lease:
- the holder counts its lease from *before* each renew request, so its own view ends no later than
  Redis's expiry; it stops enqueueing the moment a renew fails or any Redis call errors;
- a runner that takes the lease waits one more L before its first duty. Whatever happened to the
  old holder (died, frozen, partitioned, or Redis restarted without the key), that holder's last
  successful renew was before the new SET succeeded, so its view ran out before the new one starts.
So a dead holder is replaced within about 2.25 L (expiry + a poll of L/4 + L): 45 s by default.

Every duty is idempotent (outbox keys, escalation levels), so even the one case no lease without
fencing can exclude (a command sent to a frozen Redis, run when it thaws) duplicates no send.

Redis errors never end the process: it logs the outage once at ERROR, then a reminder a minute at
most, and once when it ends (workers.outage; ids only: the runner's name and the error's class), backs
off with jitter up to 5 s, and when Redis answers again either
keeps its lease (the token still there: nobody else can have held it) or competes for it anew.
The runner never touches the database: the jobs it enqueues do, in the workers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from enum import Enum

from redis.backoff import EqualJitterBackoff
from redis.exceptions import LockNotOwnedError
from rq.cron import CronScheduler

from checkin.bootstrap import Runtime
from config import ConfigError
from workers.outage import OutageLog

log = logging.getLogger("checkin.cron")

LEASE_KEY = "checkin:cron:lease"
CONFIG = "workers.cron_config"
BACKOFF_CAP_SECONDS = 5.0


class State(Enum):
    FOLLOWER = "follower"  # polling for the lease
    SETTLING = "settling"  # holds the lease, waits one lease before its first duty
    LEADER = "leader"  # holds the lease, runs the duties


class CronRunner:
    def __init__(self, rt: Runtime | None = None, *, config: str = CONFIG):
        self.rt = rt or Runtime.build()
        self.lease_seconds = float(self.rt.settings.cron_lease_seconds)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.redis = self.rt.redis  # built by the composition root: short socket timeouts
        self.lease = self.redis.lock(LEASE_KEY, timeout=self.lease_seconds, thread_local=False)
        self.scheduler = CronScheduler(connection=self.redis, name=self.name)
        self.scheduler.load_config_from_file(config)
        for job in self.scheduler.get_jobs():  # each duty's job says which runner enqueued it
            job.job_options["meta"] = {**job.job_options.get("meta", {}), "cron_runner": self.name}
        self.state = State.FOLLOWER
        self.valid_until = 0.0  # monotonic: our own view of the lease's end
        self.renew_at = 0.0
        self.settle_until = 0.0
        self.stopping = threading.Event()
        self.backoff = EqualJitterBackoff(cap=BACKOFF_CAP_SECONDS, base=0.5)
        self.failures = 0
        self.outage = OutageLog(log, f"cron {self.name}")

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> int:
        log.info("cron %s: started (lease %s s on %s)", self.name, int(self.lease_seconds), LEASE_KEY)
        while not self.stopping.is_set():
            try:
                pause = self.step()
            except Exception as exc:  # never exit: a cron that is gone delays every alert
                pause = self.failed(exc)
            else:
                self.recovered()
            self.stopping.wait(max(0.05, pause))
        self.shutdown()
        return 0

    def step(self) -> float:
        """One turn: take, renew or keep the lease, run what is due. Returns how long to sleep."""
        now = time.monotonic()
        if self.state is State.FOLLOWER:
            if self.lease.local.token is not None and self._still_ours(now):
                # Redis came back and the lease is still ours, so nobody else can have held it meanwhile:
                # carry on (after what is left of the wait, if the outage came before the first duty).
                self.state = State.SETTLING
                log.warning("cron %s: Redis is back and the lease is still ours", self.name)
            elif self.lease.acquire(blocking=False, token=self.name):
                self.valid_until = now + self.lease_seconds
                self.renew_at = now + self.lease_seconds / 3
                self.settle_until = now + self.lease_seconds
                self.state = State.SETTLING
                log.warning(
                    "cron %s: took the lease; duties start in %d s, once any previous holder's lease has run out",
                    self.name,
                    int(self.lease_seconds),
                )
                return self.lease_seconds / 3
            else:
                return self.lease_seconds / 4
        elif now >= self.renew_at:
            self._renew(now)
        if self.state is State.SETTLING:
            if time.monotonic() < self.settle_until:
                return min(self.renew_at, self.settle_until) - time.monotonic()
            self.state = State.LEADER
            self.scheduler.register_birth()
            log.warning("cron %s: active; running the cron duties", self.name)
        return self._leader_turn()

    def _leader_turn(self) -> float:
        if time.monotonic() < self.valid_until:
            if self.scheduler.enqueue_jobs():
                self.scheduler.save()
            self.scheduler.heartbeat()
        return max(0.0, min(self.renew_at - time.monotonic(), self.scheduler.calculate_sleep_interval()))

    def _renew(self, now: float) -> None:
        try:
            self.lease.reacquire()  # our token only (compare-and-set): PEXPIRE to a full lease
        except LockNotOwnedError:
            was_active = self.state is State.LEADER
            self.step_down("the lease was no longer ours (expired, or Redis lost it)")
            if was_active:
                self.scheduler.register_death()  # Redis answers: RQ's list of cron schedulers drops us too
            raise
        self.valid_until = now + self.lease_seconds
        self.renew_at = now + self.lease_seconds / 3

    def _still_ours(self, now: float) -> bool:
        try:
            self._renew(now)
        except LockNotOwnedError:
            self.lease.local.token = None
            return False
        return True

    # --- failures -----------------------------------------------------------------------------

    def failed(self, exc: Exception) -> float:
        if isinstance(exc, LockNotOwnedError):
            return 0.0  # not an outage: stepped down already; compete for the lease again at once
        self.step_down("Redis could not be reached to keep the lease")
        self.failures += 1
        pause = self.backoff.compute(self.failures)
        if _is_connection_error(exc):
            # Once when it starts, a reminder a minute, once when it ends: not a line per attempt.
            self.outage.failed(exc, "CRON DUTIES STOPPED on this host")
        else:  # a bug, not an outage: every time, and where
            log.error("cron %s: a cron turn failed (%s)", self.name, type(exc).__name__, exc_info=exc)
        return pause

    def recovered(self) -> None:
        self.outage.recovered(f"state {self.state.value}")
        self.failures = 0

    def step_down(self, why: str) -> None:
        if self.state is State.FOLLOWER:
            return
        log.error("cron %s: stepped down, no duties from this host: %s", self.name, why)
        self.state = State.FOLLOWER
        self.valid_until = 0.0

    def stop(self, *_args) -> None:
        self.stopping.set()

    def shutdown(self) -> None:
        """On SIGTERM: give the lease back so another host starts after one lease, not two."""
        held = self.state is not State.FOLLOWER
        self.state = State.FOLLOWER
        try:
            if held:
                self.scheduler.register_death()
                self.lease.release()
        except Exception as exc:
            log.warning(
                "cron %s: could not give the lease back (%s); it expires by itself",
                self.name,
                type(exc).__name__,
            )
        log.info("cron %s: stopped", self.name)


def _is_connection_error(exc: Exception) -> bool:
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | OSError)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        runner = CronRunner()
    except ConfigError as exc:  # every bad setting in one message, as the `checkin` command prints them
        print(f"checkin-cron: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, runner.stop)
    signal.signal(signal.SIGINT, runner.stop)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
