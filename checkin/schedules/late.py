"""Planned sends that were written but not delivered in time (Redis down, workers stopped, a backlog).

The planner only writes a send when it is allowed, but delivery can lag. Each tick looks at the
planner's rows that are due and still pending, and before a worker can send them late:
- a reminder or change notice whose meeting has started is cancelled;
- a prompt or nudge older than the plan's staleness limit is cancelled;
- anything else that would now land in the member's quiet hours waits for them to end (its
  next_attempt_at moves to the morning, so neither a worker's claim nor the sweeper takes it).
A worker that already claimed a row is not affected: only rows still 'pending' are touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from checkin import quiet_hours
from checkin.models import Member, OutboxItem
from checkin.schedules.planning import GroupState
from checkin.schedules.recurrence import parse_key, to_utc

PLANNED_KINDS = ("reminder", "prompt", "nudge", "change")


def _meeting_start(group: GroupState, occ_key: str) -> datetime:
    override = group.overrides.get(occ_key)
    if override is not None and override.status == "moved" and override.new_start_local is not None:
        return min(parse_key(occ_key), to_utc(override.new_start_local, group.zone))
    return parse_key(occ_key)


def guard_late_sends(session: Session, now: datetime, groups: list[GroupState]) -> dict[str, int]:
    """Cancel or hold the planner's due-but-undelivered rows that would now go out wrong. Returns counts."""
    by_number = {g.phone_number: g for g in groups if g.phone_number}
    rows = session.execute(
        select(OutboxItem.id, OutboxItem.purpose, OutboxItem.idempotency_key, OutboxItem.from_number,
               OutboxItem.next_attempt_at, Member.timezone)
        .join(Member, Member.id == OutboxItem.member_id)
        .where(OutboxItem.state == "pending", OutboxItem.purpose.in_(PLANNED_KINDS), OutboxItem.next_attempt_at <= now)
    ).all()
    cancel: dict[str, list[int]] = {}
    hold: dict[datetime, list[int]] = {}
    for row in rows:
        group = by_number.get(row.from_number)
        if group is None:
            continue
        try:
            occ_key = row.idempotency_key.split(":")[2]
            meeting = _meeting_start(group, occ_key)
        except (IndexError, ValueError):
            continue
        zone = row.timezone or group.zone
        plan = group.plan
        resume = quiet_hours.next_allowed(now, zone, plan.quiet_start, plan.quiet_end)
        if row.purpose in ("reminder", "change"):
            if resume >= meeting:
                cancel.setdefault("meeting started", []).append(row.id)
                continue
        elif resume > row.next_attempt_at + timedelta(hours=plan.prompt_stale_hours):
            cancel.setdefault("stale", []).append(row.id)
            continue
        if resume > now:
            hold.setdefault(resume, []).append(row.id)
    for reason, ids in cancel.items():
        session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.state == "pending")
                        .values(state="cancelled", last_error=f"not sent: {reason}")
                        .execution_options(synchronize_session=False))
    for resume, ids in hold.items():
        session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.state == "pending")
                        .values(next_attempt_at=resume).execution_options(synchronize_session=False))
    counts = {f"cancelled: {reason}": len(ids) for reason, ids in cancel.items()}
    if hold:
        counts["held for quiet hours"] = sum(len(ids) for ids in hold.values())
    return counts
