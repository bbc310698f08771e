"""The planner's cron tick. Thin: the domain plans and writes; this commits and enqueues delivery."""

from __future__ import annotations

import logging

from checkin.db import utcnow
from checkin.schedules import load_config
from checkin.schedules.tick import write_due
from workers import runtime
from workers.queues import enqueue_deliveries

log = logging.getLogger("checkin.schedules.jobs")
CHUNK = 5000

# Validate config/plan.toml when the cron process starts: a wrong key stops it, named.
load_config()


def tick(now=None) -> int:
    """Write every send due now to the outbox (once per key, however many ticks run) and enqueue them."""
    from checkin import outbox

    rt = runtime.current()
    now = now or utcnow()
    with rt.db.session() as session:
        result = write_due(session, now, base_url=rt.settings.public_base_url)
    # After the commit, in chunks: a failed enqueue only delays, the sweeper finds the rows.
    for start in range(0, len(result.created), CHUNK):
        chunk = result.created[start : start + CHUNK]
        if enqueue_deliveries(rt.redis, chunk):
            with rt.db.session() as session:
                outbox.mark_enqueued(session, [i for i, _ in chunk], utcnow())
    return len(result.created)
