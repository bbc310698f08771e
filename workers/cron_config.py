"""`rq cron workers.cron_config`: run exactly one of these processes.

Every job here is idempotent on its own, so an accidental second cron process delays
nothing and duplicates nothing.
"""

import os

from rq import cron

from workers import escalation_jobs, jobs, schedule_jobs

cron.register(
    jobs.sweep, queue_name="outbox", interval=int(os.environ.get("CHECKIN_SWEEP_INTERVAL_SECONDS", "15"))
)
# Escalation timers: wake every due escalation (re-notify, widen, re-alert). Also scheduled per
# escalation with enqueue_at; this tick is the guarantee that survives losing Redis.
cron.register(
    escalation_jobs.tick,
    queue_name="alerts",
    interval=int(os.environ.get("CHECKIN_ESCALATION_TICK_SECONDS", "15")),
)
# The daily watch digest: checked every 5 minutes, written once per group, day and facilitator.
cron.register(escalation_jobs.digest, queue_name="outbox", interval=300)
# Meeting reminders, check-in prompts, nudges and change notices: plan what is due, write it once.
cron.register(
    schedule_jobs.tick,
    queue_name="outbox",
    interval=int(os.environ.get("CHECKIN_SCHEDULE_TICK_SECONDS", "60")),
)
