"""The cron duties, loaded by RQ's CronScheduler inside `checkin-cron` (workers/cron_runner.py), which
runs on every host and lets one at a time enqueue them, under a lease in Redis.

Every job here is idempotent on its own, so even two schedulers at once (`rq cron workers.cron_config`
started by hand beside the runners) would delay nothing and duplicate nothing.
"""

from rq import cron

from config import load_settings
from workers import escalation_jobs, jobs, retention_jobs, schedule_jobs

# Read from the environment and checked before anything is registered. The jobs run in the workers,
# each with its worker's runtime (workers.worker); this process only enqueues them on time.
settings = load_settings()

cron.register(jobs.sweep, queue_name="outbox", interval=settings.sweep_interval_seconds)
# Routine texts the SMS webhook stored and no job decided (a dead worker, Redis down): decided here.
cron.register(jobs.sweep_undecided, queue_name="inbound", interval=settings.sweep_interval_seconds)
# Escalation timers: wake every due escalation (re-notify, widen, re-alert). Also scheduled per
# escalation with enqueue_at; this tick is the guarantee that survives losing Redis.
cron.register(
    escalation_jobs.tick,
    queue_name="alerts",
    interval=settings.escalation_tick_seconds,
)
# The daily watch digest: checked every 5 minutes, written once per group, day and facilitator.
cron.register(escalation_jobs.digest, queue_name="outbox", interval=300)
# Meeting reminders, check-in prompts, nudges and change notices: the leader hands the groups that are
# due (the next-due index) to the workers in shards on the planning queue; each writes what is due once.
cron.register(
    schedule_jobs.dispatch,
    queue_name="outbox",
    interval=settings.schedule_tick_seconds,
)
# Retention: every night at 03:17 (the host's local time, as RQ reads cron lines), remove what has
# outlived config/retention.toml's periods, here and at Twilio, in short slices that re-enqueue
# themselves. Running it twice removes nothing twice.
cron.register(retention_jobs.run, queue_name=retention_jobs.QUEUE, cron="17 3 * * *")

# Twilio's copies an erasure listed but could not delete then (an outage): tried again every hour.
cron.register(jobs.provider_cleanup, queue_name="outbox", interval=3600)
