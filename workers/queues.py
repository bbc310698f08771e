"""Enqueueing delivery jobs. Redis being down delays a message; it never loses one."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from checkin.outbox import ALERT_QUEUE, DEFAULT_QUEUE

log = logging.getLogger("checkin.queues")
QUEUES = (ALERT_QUEUE, DEFAULT_QUEUE)  # workers listen in this order: alerts first


def enqueue_deliveries(redis: Redis, items: Iterable[tuple[int, str]]) -> int:
    """Enqueue a delivery job per (outbox id, queue). Returns how many were enqueued.

    Failure is logged, not raised: the row is already committed and the sweeper will find it.
    """
    from workers import jobs

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
                        jobs.deliver, args=(i,), job_id=f"deliver-{i}", result_ttl=600, failure_ttl=86400
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


def dispatch(runtime, items) -> int:
    """After a commit: enqueue delivery of these outbox rows and note when, so the sweeper leaves them be."""
    from checkin import outbox
    from checkin.db import utcnow

    pairs = [(item.id, item.queue) for item in items]
    enqueued = enqueue_deliveries(runtime.redis, pairs)
    if enqueued:
        with runtime.db.session() as session:
            outbox.mark_enqueued(session, [i for i, _ in pairs], utcnow())
    return enqueued


CHUNK = 5000  # a planning tick can write a hundred thousand rows: enqueue and mark them in chunks


class RqDispatcher:
    """The unit of work's dispatcher for the web app, workers and cron: after a commit, enqueue
    delivery of the outbox rows it wrote (alerts first) and wake its escalations at their next action.

    Never raises: the rows are committed, so a Redis or database hiccup here only delays them until
    the sweeper (and the escalation cron tick) find them."""

    def __init__(self, runtime):
        self.runtime = runtime

    def dispatch(self, effects) -> None:
        from checkin import outbox
        from checkin.db import utcnow

        sends = effects.ordered_sends()
        for start in range(0, len(sends), CHUNK):
            pairs = [(s.id, s.queue) for s in sends[start : start + CHUNK]]
            if enqueue_deliveries(self.runtime.redis, pairs):
                with self.runtime.db.session() as session:
                    outbox.mark_enqueued(session, [i for i, _ in pairs], utcnow())
        if effects.timers:
            from workers.escalation_jobs import schedule

            schedule(self.runtime, effects.timers)
