"""The unit of work's dispatcher for the web app, workers and cron: RQ on Redis.

After a commit it enqueues delivery of the outbox rows the unit of work wrote (alerts first, on
their own queue) and wakes each escalation at its next action. It never raises: the rows are
committed, so a Redis or database hiccup here only delays them until the sweeper (and the
escalation cron tick) find them. Jobs are named by their import path, so nothing here imports the
workers package (RQ imports it in the worker process).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from redis.exceptions import RedisError
from rq import Queue

from checkin.db import utcnow
from checkin.unit_of_work import ALERT_QUEUE, DEFAULT_QUEUE, Effects, Timer

log = logging.getLogger("checkin.queues")
INBOUND_QUEUE = "inbound"  # routine texts to decide: after alerts, before deliveries (a member waits)
DECIDE_WAITING_JOB = "workers.jobs.decide_waiting"
PLANNING_QUEUE = "planning"  # after alerts and deliveries: planning waits, a written send does not
QUEUES = (ALERT_QUEUE, DEFAULT_QUEUE)  # workers listen in this order: alerts first
DELIVER_JOB = "workers.jobs.deliver"
PLAN_GROUPS_JOB = "workers.schedule_jobs.plan_groups"
ESCALATION_TICK_JOB = "workers.escalation_jobs.tick"
CHUNK = 5000  # a planning tick can write a hundred thousand rows: enqueue and mark them in chunks


def enqueue_deliveries(redis, items: Iterable[tuple[int, str]]) -> int:
    """Enqueue a delivery job per (outbox id, queue). Returns how many were enqueued.

    Failure is logged, not raised: the row is already committed and the sweeper will find it.
    """
    items = list(items)
    if not items:
        return 0
    try:
        by_queue: dict[str, list[int]] = {}
        for item_id, queue in items:
            by_queue.setdefault(queue if queue in QUEUES else DEFAULT_QUEUE, []).append(item_id)
        for name, ids in by_queue.items():
            queue = Queue(name, connection=redis)
            queue.enqueue_many(
                [
                    Queue.prepare_data(
                        DELIVER_JOB, args=(i,), job_id=f"deliver-{i}", result_ttl=600, failure_ttl=86400
                    )
                    for i in ids
                ]
            )
        return len(items)
    except (RedisError, OSError) as exc:
        log.warning(
            "enqueue failed for %d outbox items (%s); the sweeper will retry", len(items), type(exc).__name__
        )
        return 0


def enqueue_planning(redis, shards: list[list[int]], now: datetime) -> int:
    """Enqueue one planning job per shard of group ids, planning at the tick's `now`, on the planning queue
    for any worker to take.
    Returns how many were enqueued; failure is logged, not raised: the groups are claimed only for a
    while in the database, and the cron leader hands them out again after that."""
    if not shards:
        return 0
    try:
        Queue(PLANNING_QUEUE, connection=redis).enqueue_many(
            [
                Queue.prepare_data(
                    PLAN_GROUPS_JOB,
                    args=(ids, now),
                    job_id=f"plan-{now:%Y%m%dT%H%M%S}-{ids[0]}",
                    result_ttl=600,
                    failure_ttl=86400,
                )
                for ids in shards
            ]
        )
        return len(shards)
    except (RedisError, OSError) as exc:
        log.warning(
            "enqueue failed for %d planning jobs (%s); their groups are handed out again later",
            len(shards),
            type(exc).__name__,
        )
        return 0


def schedule_timers(redis, timers: list[Timer] | list[tuple[int, object]]) -> int:
    """Wake the escalation tick at each escalation's next action. Best effort: the cron tick is the guarantee."""
    if not timers:
        return 0
    done = 0
    try:
        queue = Queue(ALERT_QUEUE, connection=redis)
        for esc_id, when in timers:
            queue.enqueue_at(
                when,
                ESCALATION_TICK_JOB,
                job_id=f"escalation-{esc_id}-{int(when.timestamp())}",
                result_ttl=600,
                failure_ttl=86400,
            )
            done += 1
    except (RedisError, OSError) as exc:
        log.warning(
            "could not schedule %d escalation timer(s) (%s); the cron tick will catch them",
            len(timers),
            type(exc).__name__,
        )
    return done


# The intake's doorbell: set (NX) by the webhook after it stores a routine text; whoever sets it enqueues
# one `decide_waiting` job, which clears it before each look for undecided texts. So a text stored while
# it is set is seen by a job yet to look, and one stored after a job's last look sets it again. One Redis
# round trip per text instead of an RQ enqueue (a job hash, a queue push: half the webhook's CPU).
DOORBELL = "checkin:intake:doorbell"
DOORBELL_SECONDS = 60  # a job lost with its worker: the bell rings again after this (the sweeper meanwhile)


def ring(redis) -> bool:
    """Ask for a worker to decide the texts stored undecided (checkin.intake). Best effort: a text whose
    job is never enqueued (Redis down) is decided by the cron sweeper after its grace."""
    try:
        if not redis.set(DOORBELL, b"1", nx=True, ex=DOORBELL_SECONDS):
            return False  # a job is queued and has yet to look: it will find this text
        Queue(INBOUND_QUEUE, connection=redis).enqueue(DECIDE_WAITING_JOB, result_ttl=0, failure_ttl=86400)
        return True
    except (RedisError, OSError) as exc:
        log.warning("could not ring the intake's doorbell (%s); the sweeper will decide", type(exc).__name__)
        return False


def answer_door(redis) -> None:
    """The job, before it looks for undecided texts: a text stored from now on rings again."""
    try:
        redis.delete(DOORBELL)
    except (RedisError, OSError) as exc:  # it expires by itself; the sweeper covers the gap
        log.warning("could not clear the intake's doorbell (%s)", type(exc).__name__)


class CoalescedDecider:
    """The webhook's `decide_later` in production: the doorbell (see `ring`) rung from a thread of the web
    process, once for all the texts it stored in the last `every` seconds, instead of by every request.
    A Redis round trip cost the webhook more CPU than the rest of its answer bar the INSERT (issue 18),
    and under load the bell is nearly always set already. A text's request only raises a flag after its
    INSERT committed; the thread lowers the flag before it rings, so every text is followed by a ring
    that starts after it was stored (what `ring` needs), at most `every` later. A process that stops
    rings for what it stored on its way out; one killed outright leaves its last texts to the sweeper,
    as when Redis is down."""

    def __init__(self, runtime, every: float = 0.02):
        self.runtime = runtime
        self.every = every
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def __call__(self, message_id: int) -> None:
        # Set already: the thread has not lowered it yet, so its next ring starts after this text was
        # stored. Event.set() takes a lock and notifies even then.
        if not self._wanted.is_set():
            self._wanted.set()
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            self._start()

    def flush(self) -> None:
        """Ring now for what is waiting (at exit; tests)."""
        if self._wanted.is_set():
            self._wanted.clear()
            ring(self.runtime.redis)

    def _start(self) -> None:
        with self._lock:
            # Not ours: none yet, or one of the parent's before a fork (it did not come along).
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            if self._thread is None:
                atexit.register(self.flush)
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="checkin-intake-doorbell", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self.every)  # the texts of the next moment share this ring
            try:
                self.flush()
            except Exception:  # never the thread's end: the next text rings again; the sweeper meanwhile
                log.exception("ringing the intake's doorbell failed")


class RqDispatcher:
    def __init__(self, runtime):
        self.runtime = runtime  # read at each dispatch: a forked worker gets its own Redis socket

    def dispatch(self, effects: Effects) -> None:
        from checkin import outbox

        sends = effects.ordered_sends()
        for start in range(0, len(sends), CHUNK):
            pairs = [(s.id, s.queue) for s in sends[start : start + CHUNK]]
            if enqueue_deliveries(self.runtime.redis, pairs):
                with self.runtime.db.session() as session:
                    outbox.mark_enqueued(session, [i for i, _ in pairs], utcnow())
        schedule_timers(self.runtime.redis, effects.timers)

    def enqueue(self, items) -> int:
        """Enqueue delivery of outbox rows already committed (the sweeper, tests) and note when."""
        from checkin import outbox

        pairs = [(item.id, item.queue) for item in items]
        enqueued = enqueue_deliveries(self.runtime.redis, pairs)
        if enqueued:
            with self.runtime.db.session() as session:
                outbox.mark_enqueued(session, [i for i, _ in pairs], utcnow())
        return enqueued
