"""RQ jobs for escalation timers. Thin: the state is in the database, these only wake it up.

`tick` runs from `rq cron` every few seconds (see cron_config) and is also scheduled with
`enqueue_at` for each escalation's next action, so a re-notification is on time rather than up
to a sweep late. Losing Redis loses only the scheduled wake-ups: the cron tick still finds every
due escalation in the database, so a re-notification is delayed by at most a cron interval.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis.exceptions import RedisError

from checkin import unit_of_work
from checkin.db import utcnow
from checkin.escalation import service
from checkin.outbox import ALERT_QUEUE
from workers import runtime

log = logging.getLogger("checkin.escalation.jobs")


def context(rt) -> service.Context:
    """The escalation context for this runtime (links to its public URL, the policy from config/)."""
    ctx = service._context
    if ctx is None or ctx.base_url != rt.settings.public_base_url.rstrip("/"):
        ctx = service.configure(rt.settings.public_base_url)
    return ctx


def tick() -> int:
    """Advance every due escalation, then send what that decided and schedule the next wake-ups."""
    rt = runtime.current()
    ctx = context(rt)
    with rt.db.session() as session:
        count = service.advance(session, utcnow(), ctx)
        alerts = len(unit_of_work.pending(session).sends)
    # Committed: the alerts it wrote are on their way and the next wake-ups scheduled.
    if count:
        log.info("escalation tick advanced %d escalation(s), %d alert(s)", count, alerts)
    return count


def schedule(rt, timers: list[tuple[int, datetime]] | tuple) -> int:
    """Wake `tick` at each escalation's next action. Best effort: the cron tick is the guarantee."""
    if not timers:
        return 0
    from rq import Queue

    done = 0
    try:
        queue = Queue(ALERT_QUEUE, connection=rt.redis)
        for esc_id, when in timers:
            queue.enqueue_at(
                when,
                tick,
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


def digest() -> int:
    """Send each group's daily watch digest once its local hour has come (keys make reruns harmless)."""
    from checkin.escalation import digest as digest_module

    rt = runtime.current()
    with rt.db.session() as session:
        count = digest_module.send_due(session, utcnow(), context(rt))
    return count
