"""`rq worker -w workers.worker.Worker alerts outbox`: RQ's forking worker, with the app imported once.

RQ forks a work horse per job and imports the job's function there. Without this class the app
(SQLAlchemy, psycopg, the twilio library, the escalation policy) is imported again in every fork,
which cost about 0.7 s per job in bench_escalation (an alert behind three others waited seconds).
Importing here, in the parent, lets every fork start with them loaded: p50 alert latency went
from ~10 s to ~2.8 s for a burst of crises there. Each fork still pays for its own connections and
RQ's per-job bookkeeping, so for alerts `rq worker -w rq.worker.SimpleWorker` (no fork) is faster
still (tens of milliseconds); see bench/bench_escalation.py. Connections are still made per fork
(workers.runtime.current() notices the new pid), so nothing is shared across processes.
"""

from __future__ import annotations

from rq.worker import Worker as _RQWorker

import checkin.escalation.service  # noqa: F401  (registers the alert outcome hooks)
import checkin.messaging.twilio_backend  # noqa: F401  (twilio.rest is the slowest import)
import checkin.rules  # noqa: F401
import workers.escalation_jobs  # noqa: F401
import workers.jobs  # noqa: F401
from checkin.escalation import policy

policy.load()  # parsed once, inherited by every fork


class Worker(_RQWorker):
    """The default RQ worker; only the imports above differ."""
