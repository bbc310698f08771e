"""The planner's cron tick. Thin: the domain plans and writes; this commits and enqueues.

Two ways to run it, the same rows either way (the outbox keys make any overlap harmless):
- `dispatch`, what the cron leader enqueues each minute: the housekeeping, then it claims the groups
  the next-due index says are due and enqueues their planning in shards on the `planning` queue, for
  any worker on any host (`plan_groups`);
- `tick`, all of it in one process (tests, a one-off run).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from checkin.adapters.rq_dispatch import enqueue_planning
from checkin.bootstrap import Runtime
from checkin.db import unreachable, utcnow
from checkin.schedules import due_index, load_config
from checkin.schedules.tick import TickResult, housekeeping, write_due, write_groups
from workers.worker import takes_runtime

log = logging.getLogger("checkin.schedules.jobs")

# Validate config/plan.toml when the cron process starts: a wrong key stops it, named.
load_config()

# Groups per planning job: about 10,000 members at 50 a group, a few seconds' work for one worker.
SHARD_GROUPS = 200
# How long claimed groups wait for their job before the leader hands them out again (a lost job, a
# dead worker, Redis down).
CLAIM = timedelta(minutes=5)


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
    # delays them, the sweeper finds the rows). Then, apart, when each group planned is due next.
    with rt.db.session() as session:
        due_index.record(session, result.next_due)
    return len(result.created)


@takes_runtime
def dispatch(now=None, *, runtime: Runtime) -> int:
    """The cron leader's tick: housekeeping, then hand the due groups to the workers. Returns the jobs enqueued."""
    rt = runtime
    now = now or utcnow()
    with rt.db.session() as session:
        housekeeping(session, now)
    with rt.db.session() as session:
        claimed = [gid for gid, _ in due_index.claim_due(session, now, now + CLAIM)]
    if not claimed:
        return 0
    enqueued = enqueue_planning(rt.redis, shard(claimed), now)
    log.info("schedule dispatch groups=%d jobs=%d", len(claimed), enqueued)
    return enqueued


def shard(group_ids: list[int]) -> list[list[int]]:
    """The claimed groups cut into planning jobs, in the order they are handed out."""
    return [group_ids[i : i + SHARD_GROUPS] for i in range(0, len(group_ids), SHARD_GROUPS)]


class PlanningFailed(RuntimeError):
    """Some groups of a planning job could not be planned; the others were written."""


@takes_runtime
def plan_groups(group_ids: list[int], now=None, *, runtime: Runtime) -> int:
    """Plan these groups now and write what is due (a worker's share of a tick). Returns rows written.

    One transaction for the shard; if it fails, each group again in its own, so one group's failure
    costs only that group (it stays claimed, and is handed out again when the claim ends)."""
    rt = runtime
    now = now or utcnow()
    kwargs = dict(base_url=rt.settings.public_base_url, bulk_insert=rt.bulk_outbox_insert)
    with rt.db.session() as session:
        seq = due_index.seqs(session, group_ids)
    results: list[TickResult] = []
    failed: list[int] = []
    try:
        with rt.db.session() as session:
            results.append(write_groups(session, now, sorted(seq.items()), **kwargs))
    except Exception as exc:
        if len(seq) <= 1 or unreachable(exc):  # the database gone: one by one would fail each, loudly
            raise
        log.warning(
            "planning job of %d groups failed (%s); planning them one by one", len(seq), type(exc).__name__
        )
        for gid in sorted(seq):
            try:
                with rt.db.session() as session:
                    results.append(write_groups(session, now, [(gid, seq[gid])], **kwargs))
            except Exception as exc:
                if unreachable(exc):
                    raise
                log.exception("planning failed group=%s", gid)
                failed.append(gid)
    with rt.db.session() as session:
        due_index.record(session, {g: d for r in results for g, d in r.next_due.items()})
    if failed:
        raise PlanningFailed(f"groups {failed} not planned (the others were); retried when their claim ends")
    return sum(len(r.created) for r in results)
