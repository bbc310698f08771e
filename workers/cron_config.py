"""`rq cron workers.cron_config`: run exactly one of these processes.

Every job here is idempotent on its own, so an accidental second cron process delays
nothing and duplicates nothing.
"""

import os

from rq import cron

from workers import jobs

cron.register(jobs.sweep, queue_name="outbox", interval=int(os.environ.get("CHECKIN_SWEEP_INTERVAL_SECONDS", "15")))
