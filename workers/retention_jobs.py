"""The nightly retention run (checkin.retention.run), as time slices that share a worker with alerts."""

from __future__ import annotations

import logging

from checkin.bootstrap import Runtime
from checkin.retention import run as retention
from workers.worker import takes_runtime

log = logging.getLogger("checkin.jobs")

QUEUE = "outbox"
# A worker takes the alerts queue first, but only between jobs: a slice this long is the most an alert
# can wait behind retention on a host with a single worker.
SLICE_SECONDS = 5.0


# At most this many slices a night (about three hours of work); what is left waits for the next night.
MAX_SLICES = 2000


@takes_runtime
def run(run_id: int | None = None, slice_number: int = 1, *, runtime: Runtime) -> str:
    """One slice of tonight's run; enqueues the next slice until nothing expired is left."""
    rt = runtime
    report = retention.run(
        rt.db, rt.provider_data, rt.settings.retention, seconds=SLICE_SECONDS, run_id=run_id
    )
    if not report.complete and slice_number >= MAX_SLICES:
        log.error(
            "retention run %s: stopped after %d slices; the next night goes on", report.run_id, slice_number
        )
    elif not report.complete:
        from rq import Queue

        try:
            Queue(QUEUE, connection=rt.redis).enqueue(run, report.run_id, slice_number + 1)
        except Exception as exc:  # tomorrow night's run starts where this one stopped
            log.warning(
                "retention run %s: could not enqueue its next slice (%s)", report.run_id, type(exc).__name__
            )
    return f"run {report.run_id} {'done' if report.complete else 'continues'}"
