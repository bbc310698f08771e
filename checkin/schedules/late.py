"""Planned sends that would now go out wrong: late (Redis down, workers stopped, a backlog, a retry's
backoff) or in the member's night.

The planner only writes a send when it is allowed, but delivery can lag. One rule, `judge`, says
what to do with a reminder, prompt, nudge or change notice (text or call) about to go out:
- a reminder or change notice whose meeting has started is cancelled ("meeting started"), and one
  that could only go after it, the member's night lasting until then, is cancelled for that
  ("quiet hours until the meeting"); a reminder held so long that its next reminder is near is
  superseded by it (the planner's own `reminder_deadline`), so two never go out together;
- a prompt or nudge older than the plan's staleness limit is cancelled;
- anything else that would land in the member's quiet hours waits for their window to open.
It is applied twice: each tick to the due rows still pending (`guard_late_sends`: their
next_attempt_at moves to the morning, so neither the sweeper nor a worker's claim takes them
overnight), and by the outbox at the moment of sending (`send_gate`), for what would otherwise slip
out between ticks. Only the planner's kinds are judged: replies to a member, crisis resources,
opt-out confirmations and every staff alert never wait here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, select, update
from sqlalchemy.orm import Session

from checkin import outbox, quiet_hours
from checkin.models import Group, GroupMember, Member, OutboxItem
from checkin.schedules.models import OccurrenceOverride, ReminderPlan
from checkin.schedules.plan import KINDS as PLANNED_KINDS
from checkin.schedules.plan import Plan
from checkin.schedules.planning import GroupState, next_reminder_at, reminder_at, reminder_deadline
from checkin.schedules.recurrence import parse_key, to_utc
from checkin.schedules.service import load_state, plan_from, planned_bodies

log = logging.getLogger("checkin.schedules.late")


@dataclass(frozen=True)
class Verdict:
    cancel: str | None = None  # why it must not go at all
    hold_until: datetime | None = None  # when it may go, if not now


def judge(
    kind: str,
    meeting: datetime | None,
    written_at: datetime,
    zone: str,
    plan: Plan,
    now: datetime,
    following: datetime | None = None,
    due: datetime | None = None,
) -> Verdict:
    """The rule for a planned send of `kind`, written at `written_at`, to a member in `zone`, at `now`.
    For a reminder, `following` is the time of the plan's next reminder of the same meeting (None if
    it is the last) and `due` its own time."""
    resume = quiet_hours.next_allowed(now, zone, plan.quiet_start, plan.quiet_end)
    if kind in ("reminder", "change") and meeting is not None:
        if now >= meeting:
            return Verdict(cancel="meeting started")
        if resume >= meeting:
            return Verdict(cancel="quiet hours until the meeting")
        if kind == "reminder" and following is not None and due is not None:
            deadline, reason = reminder_deadline(due, following, meeting)
            if now >= deadline:
                return Verdict(cancel=reason)
            if resume >= deadline:
                return Verdict(cancel="quiet hours until the next reminder")
    elif kind not in ("reminder", "change") and resume > written_at + timedelta(
        hours=plan.prompt_stale_hours
    ):
        return Verdict(cancel="stale")
    return Verdict(hold_until=resume if resume > now else None)


def occurrence_of(key: str) -> str | None:
    """The occurrence a planner key names (`{kind}:{member}:{occurrence}:...`), or None for any other key."""
    parts = key.split(":")
    try:
        return parts[2] if parse_key(parts[2]) else None
    except (IndexError, ValueError):
        return None


def reminder_times(
    kind: str, key: str, meeting: datetime | None, plan: Plan, zone: str
) -> tuple[datetime | None, datetime | None]:
    """(its own time, the next reminder's time) of a reminder key `reminder:{member}:{occ}:{offset}...`
    for a meeting at `meeting` in a group in `zone`; (None, None) for anything else."""
    parts = key.split(":")
    if kind != "reminder" or meeting is None or len(parts) < 4 or not parts[3].isdigit():
        return None, None
    offset = int(parts[3])
    following = next_reminder_at(plan.reminder_offsets_minutes, offset, meeting, zone)
    if following is None:
        return None, None
    return reminder_at(meeting, timedelta(minutes=offset), zone), following


def meeting_start(kind: str, occ_key: str | None, override, zone: str) -> datetime | None:
    """When the meeting a send is about starts. `override` (status, new_start_local) is its occurrence's, if any."""
    if occ_key is None:
        return None
    start = parse_key(occ_key)
    if override is not None and override.status == "moved" and override.new_start_local is not None:
        moved = to_utc(override.new_start_local, zone)
        # A change notice is moot once either time has passed; a reminder is for the new time.
        return min(start, moved) if kind == "change" else moved
    return start


def guard_late_sends(
    session: Session, now: datetime, groups: list[GroupState] | None = None
) -> dict[str, int]:
    """Cancel or hold the planner's due-but-undelivered rows that would now go out wrong. Returns counts.
    `groups`: the groups the rows come from, if loaded already (else only those groups are loaded)."""
    rows = session.execute(
        select(
            OutboxItem.id,
            OutboxItem.purpose,
            OutboxItem.idempotency_key,
            OutboxItem.from_number,
            OutboxItem.created_at,
            Member.timezone,
        )
        .join(Member, Member.id == OutboxItem.member_id)
        .where(
            OutboxItem.state == "pending",
            OutboxItem.purpose.in_(PLANNED_KINDS),
            OutboxItem.next_attempt_at <= now,
        )
    ).all()
    if not rows:
        return {}
    if groups is None:
        numbers = sorted({r.from_number for r in rows if r.from_number})
        ids = session.scalars(select(Group.id).where(Group.phone_number.in_(numbers))).all()
        groups, _ = load_state(session, now, list(ids)) if ids else ([], [])
    by_number = {g.phone_number: g for g in groups if g.phone_number}
    cancel: dict[str, list[int]] = {}
    hold: dict[datetime, list[int]] = {}
    for row in rows:
        group = by_number.get(row.from_number)
        if group is None:
            continue
        occ_key = occurrence_of(row.idempotency_key)
        meeting = meeting_start(row.purpose, occ_key, group.overrides.get(occ_key), group.zone)
        due, following = reminder_times(row.purpose, row.idempotency_key, meeting, group.plan, group.zone)
        verdict = judge(
            row.purpose,
            meeting,
            row.created_at,
            row.timezone or group.zone,
            group.plan,
            now,
            following=following,
            due=due,
        )
        if verdict.cancel:
            cancel.setdefault(verdict.cancel, []).append(row.id)
        elif verdict.hold_until:
            hold.setdefault(verdict.hold_until, []).append(row.id)
    for reason, ids in cancel.items():
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), OutboxItem.state == "pending")
            .values(state="cancelled", last_error=f"not sent: {reason}")
            .execution_options(synchronize_session=False)
        )
    for resume, ids in hold.items():
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), OutboxItem.state == "pending")
            .values(next_attempt_at=resume)
            .execution_options(synchronize_session=False)
        )
    counts = {f"cancelled: {reason}": len(ids) for reason, ids in cancel.items()}
    if hold:
        counts["held for quiet hours"] = sum(len(ids) for ids in hold.values())
    return counts


def send_gate(session: Session, item: OutboxItem, now: datetime) -> datetime | outbox.Cancel | None:
    """Outbox gate: the same rule at the moment a planned send would go out (one query, for planned sends only)."""
    if item.member_id is None or item.purpose not in PLANNED_KINDS:
        return None
    occ_key = occurrence_of(item.idempotency_key)
    # The member's zone and the group the send comes from (its number; else the member's first group),
    # with that group's plan overrides and the occurrence's override, in one round trip.
    row = session.execute(
        select(
            Member.timezone.label("member_zone"),
            Group.id.label("group_id"),
            Group.timezone.label("group_zone"),
            ReminderPlan.overrides,
            OccurrenceOverride.status,
            OccurrenceOverride.new_start_local,
        )
        .select_from(Member)
        .outerjoin(GroupMember, GroupMember.member_id == Member.id)
        .outerjoin(Group, Group.id == GroupMember.group_id)
        .outerjoin(ReminderPlan, ReminderPlan.group_id == Group.id)
        .outerjoin(
            OccurrenceOverride,
            and_(OccurrenceOverride.group_id == Group.id, OccurrenceOverride.occurrence_key == occ_key),
        )
        .where(Member.id == item.member_id)
        .order_by(case((Group.phone_number == item.from_number, 0), else_=1), Group.id)
        .limit(1)
    ).first()
    if row is None:
        return None  # no such member any more: nobody's night to keep
    group_zone = row.group_zone or "UTC"
    override = row if row.status is not None else None
    meeting = meeting_start(item.purpose, occ_key, override, group_zone)
    plan = plan_from(row.overrides, row.group_id)
    due, following = reminder_times(item.purpose, item.idempotency_key, meeting, plan, group_zone)
    verdict = judge(
        item.purpose,
        meeting,
        item.created_at,
        row.member_zone or group_zone,
        plan,
        now,
        following=following,
        due=due,
    )
    if verdict.cancel:
        return outbox.Cancel(f"not sent: {verdict.cancel}")
    if verdict.hold_until:
        log.info(
            "outbox id=%s member=%s held for quiet hours until %s",
            item.id,
            item.member_id,
            verdict.hold_until.isoformat(),
        )
        return verdict.hold_until
    _reword_for_today(session, item, row.group_id, ZoneInfo(row.member_zone or group_zone), now)
    return None


def _reword_for_today(
    session: Session, item: OutboxItem, group_id: int | None, zone: ZoneInfo, now: datetime
) -> None:
    """A reminder text says "today" or "tomorrow" as of when it was written; one going out on a later
    local day (held overnight, or a long backlog) would be a day wrong, so it is worded afresh."""
    if item.purpose != "reminder" or item.channel != "sms" or group_id is None:
        return
    if now.astimezone(zone).date() == item.created_at.astimezone(zone).date():
        return
    body = planned_bodies(session, group_id, now, item.member_id).get(item.idempotency_key)
    if body is not None and body != item.body:
        item.body = body
        log.info("outbox id=%s member=%s reminder reworded for the day it goes out", item.id, item.member_id)
