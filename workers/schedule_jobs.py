"""The planner's cron tick. Thin: the domain plans and writes; this commits and enqueues delivery."""

from __future__ import annotations

import logging

from checkin.bootstrap import Runtime
from checkin.db import utcnow
from checkin.schedules import load_config
from checkin.schedules.tick import write_due
from workers.worker import takes_runtime

log = logging.getLogger("checkin.schedules.jobs")

# Validate config/plan.toml when the cron process starts: a wrong key stops it, named.
load_config()


@takes_runtime
def tick(now=None, *, runtime: Runtime) -> int:
    """Write every send due now to the outbox (once per key, however many ticks run) and enqueue them."""
    rt = runtime
    now = now or utcnow()
    with rt.db.session() as session:
        result = write_due(
            session, now, base_url=rt.settings.public_base_url, bulk_insert=rt.bulk_outbox_insert
        )
    # Committed: the unit of work handed the new rows to the queue (in chunks; a failed enqueue only
    # delays them, the sweeper finds the rows).
    return len(result.created)
