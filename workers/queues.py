"""Enqueueing delivery jobs (the RQ adapter lives in checkin.adapters.rq_dispatch)."""

from __future__ import annotations

from checkin.adapters.rq_dispatch import QUEUES, RqDispatcher, enqueue_deliveries

__all__ = ["QUEUES", "dispatch", "enqueue_deliveries"]


def dispatch(runtime, items) -> int:
    """Enqueue delivery of outbox rows already committed and note when (tests; the sweeper's way)."""
    return RqDispatcher(runtime).enqueue(items)
