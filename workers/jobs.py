"""RQ jobs. Thin: each one takes the runtime its worker hands it (workers.worker) and calls the domain."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from checkin import intake, outbox
from checkin.bootstrap import Runtime
from checkin.db import unreachable, utcnow
from workers.queues import enqueue_deliveries
from workers.worker import takes_runtime

log = logging.getLogger("checkin.jobs")


@takes_runtime
def deliver(item_id: int, *, runtime: Runtime) -> str:
    rt = runtime
    outcome = outbox.deliver(
        rt.db,
        item_id,
        rt.port,
        status_callback_base=rt.status_callback_url,
        lease_seconds=rt.settings.outbox_lease_seconds,
        rules=rt.rules,
        pacer=rt.pacer,
    )
    if outcome.state == "retry":
        _schedule_retry(rt, item_id)
    elif outcome.state == "held":  # a 429 or a send-time gate: not an attempt, so a job id of its own
        _schedule_retry(rt, item_id, suffix=f"held-{uuid.uuid4().hex[:8]}")
    # What the outcome hooks wrote (a failed alert text's fallback call, the next facilitator) went
    # out when the outcome committed.
    return outcome.state


def _schedule_retry(rt, item_id: int, suffix: str | None = None) -> None:
    from rq import Queue

    with rt.db.session() as session:
        item = session.get(outbox.OutboxItem, item_id)
        when, queue_name = item.next_attempt_at, item.queue
    try:
        job_id = f"deliver-{item_id}-{suffix or f'retry{item.attempts}'}"
        Queue(queue_name, connection=rt.redis).enqueue_at(when, deliver, item_id, job_id=job_id)
    except Exception as exc:  # the sweeper picks it up when it is due
        log.warning("could not schedule retry for outbox=%s (%s)", item_id, type(exc).__name__)


@takes_runtime
def sweep(limit: int = 1000, *, runtime: Runtime) -> int:
    """Re-enqueue outbox rows that are due but not on their way (Redis was down, a worker died)."""
    rt = runtime
    now = utcnow()
    with rt.db.session() as session:
        due = outbox.due_ids(
            session,
            now,
            rt.settings.outbox_lease_seconds,
            requeue_after=max(60, rt.settings.sweep_interval_seconds * 4),
            limit=limit,
        )
    if not due:
        return 0
    enqueued = enqueue_deliveries(rt.redis, due)
    if enqueued:
        with rt.db.session() as session:
            outbox.mark_enqueued(session, [i for i, _ in due], now)
        log.info("sweeper enqueued %d outbox items", enqueued)
    return enqueued


@takes_runtime
def provider_cleanup(limit: int = 500, *, runtime: Runtime) -> int:
    """Delete at Twilio what erasures asked for and could not delete at the time (an outage)."""
    from checkin.member_data import provider

    return provider.run_pending(runtime.db, runtime.provider_data, limit=limit).deleted


@takes_runtime
def decide_text(message_id: int, *, runtime: Runtime):
    """Decide a routine text the SMS webhook stored (checkin.intake); its reply goes out on commit."""
    return intake.decide_stored(runtime.db, message_id, context=runtime.escalation)


# How long one `decide_waiting` job decides before it hands the rest to a new job. A worker listens to its
# queues in order, alerts first, but only between jobs: a job that decided "until none is left" never ended
# under a steady flood of routine texts, and a crisis alert queued behind it waited for minutes (bench
# escalation, 100 texts a second). A turn of a tenth of a second keeps an alert's wait near that.
DECIDE_TURN_SECONDS = 0.1


@takes_runtime
def decide_waiting(*, runtime: Runtime, batch: int = 200, turn: float | None = None) -> int:
    """Decide the routine texts stored undecided, oldest first, for at most `turn` seconds (the webhook
    rings for this job: checkin.adapters.rq_dispatch.ring). Texts still waiting then ring again, for a new
    job at the back of the queue, so the worker takes any alert queued meanwhile first. Returns how many
    it decided."""
    from checkin.adapters.rq_dispatch import answer_door, ring

    done = 0
    ends = time.monotonic() + (DECIDE_TURN_SECONDS if turn is None else turn)
    while True:
        answer_door(runtime.redis)  # before looking: a text stored after this look rings again
        with runtime.db.session() as session:
            ids = intake.undecided_ids(session, utcnow(), grace=timedelta(0), limit=batch)
        taken = 0
        for position, message_id in enumerate(ids):
            if position and time.monotonic() >= ends:  # the rest (undecided, unclaimed): a new job
                ring(runtime.redis)
                return done + taken
            try:
                if intake.decide_stored(runtime.db, message_id, context=runtime.escalation) is not False:
                    taken += 1
            except Exception as exc:  # this one stays undecided for the sweeper; the others go on
                if unreachable(exc):  # ...unless the database is gone: the next would fail the same way
                    raise
                log.exception("deciding stored message=%s failed; left for the sweeper", message_id)
        done += taken
        if not taken:  # none left, or all being decided by another job (it has them; else the sweeper)
            return done


@takes_runtime
def sweep_undecided(limit: int = 500, *, runtime: Runtime) -> int:
    """Decide routine texts left undecided after their grace (a worker died, Redis was down)."""
    return intake.sweep(runtime.db, context=runtime.escalation, limit=limit)
