"""RQ jobs. Thin: each one looks up the process runtime and calls the domain."""

from __future__ import annotations

import logging
import os
import uuid

from checkin import outbox, pacing
from checkin.db import utcnow
from workers import runtime
from workers.queues import enqueue_deliveries

log = logging.getLogger("checkin.jobs")


def deliver(item_id: int) -> str:
    rt = runtime.current()
    import checkin.schedules.late
    import checkin.voice.outbound  # noqa: F401 - registers the cap on member calls in progress
    from workers.escalation_jobs import context  # registers the alert outcome hooks, links to this runtime

    context(rt)
    outcome = outbox.deliver(
        rt.db,
        item_id,
        rt.port,
        status_callback_base=rt.status_callback_url,
        lease_seconds=rt.settings.outbox_lease_seconds,
        pacer=pacer(rt),
    )
    if outcome.state == "retry":
        _schedule_retry(rt, item_id)
    elif outcome.state == "held":  # a 429 or a send-time gate: not an attempt, so a job id of its own
        _schedule_retry(rt, item_id, suffix=f"held-{uuid.uuid4().hex[:8]}")
    # What the outcome hooks wrote (a failed alert text's fallback call, the next facilitator) went
    # out when the outcome committed.
    return outcome.state


def pacer(rt) -> pacing.Pacer:
    """The process's pacer: rates from CHECKIN_SEND_RATE(S), buckets in the shared Redis.

    Alerts are not paced behind reminders: they have their own queue, which every worker takes
    first, and the pacer lets an alert go at once (it books a slot, so the reminders after it make
    room). A fan-out's backlog waits in the outbox queue, not in the pacer, so it never holds an alert.
    """
    found = getattr(rt, "_pacer", None)
    if found is None:
        settings = rt.settings
        sender = settings.twilio_from_number or settings.twilio_messaging_service_sid or "default"
        try:
            rates = pacing.load_rates(os.environ)
        except pacing.PacingConfigError as exc:
            # The app refuses to start with this (webhooks.create_app); a worker still delivers, at
            # the default pace, rather than hold every alert over a typo.
            log.error("invalid pacing setting %s; using the default rate", exc.key)
            rates = pacing.Rates()
        found = rt._pacer = pacing.Pacer(lambda: rt.redis, rates, default_sender=sender)
    return found


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


def sweep(limit: int = 1000) -> int:
    """Re-enqueue outbox rows that are due but not on their way (Redis was down, a worker died)."""
    rt = runtime.current()
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
