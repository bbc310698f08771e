"""RQ jobs for escalation timers. Thin: the state is in the database, these only wake it up.

`tick` runs from the cron duties (`checkin-cron`) every few seconds (see cron_config) and is also scheduled with
`enqueue_at` for each escalation's next action, so a re-notification is on time rather than up
to a sweep late. Losing Redis loses only the scheduled wake-ups: the cron tick still finds every
due escalation in the database, so a re-notification is delayed by at most a cron interval.
"""

from __future__ import annotations

import logging

from checkin import unit_of_work
from checkin.adapters.rq_dispatch import schedule_timers
from checkin.bootstrap import Runtime
from checkin.db import utcnow
from checkin.escalation import service
from workers.worker import takes_runtime

log = logging.getLogger("checkin.escalation.jobs")


@takes_runtime
def tick(*, runtime: Runtime) -> int:
    """Advance every due escalation, then send what that decided and schedule the next wake-ups."""
    rt = runtime
    with rt.db.session() as session:
        count = service.advance(session, utcnow(), rt.escalation)
        alerts = len(unit_of_work.pending(session).sends)
    # Committed: the alerts it wrote are on their way and the next wake-ups scheduled.
    if count:
        log.info("escalation tick advanced %d escalation(s), %d alert(s)", count, alerts)
    return count


def schedule(rt, timers) -> int:
    """Wake `tick` at each escalation's next action. Best effort: the cron tick is the guarantee."""
    return schedule_timers(rt.redis, timers)


@takes_runtime
def digest(*, runtime: Runtime) -> int:
    """Send each group's daily watch digest once its local hour has come (keys make reruns harmless)."""
    from checkin.escalation import digest as digest_module

    rt = runtime
    with rt.db.session() as session:
        count = digest_module.send_due(session, utcnow(), rt.escalation)
    return count
