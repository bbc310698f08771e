"""The planner's next-due index: per group, the earliest instant any of its sends can be due.

A tick plans only the groups whose `groups.next_due_at` has come (or is NULL: never planned, or
something the planner reads changed since), and afterwards stores each one's next instant, so an idle
minute reads one index and nothing else. The stored time is a lower bound, never later than the real
next send: waking a group early costs one group's planning and sends nothing twice (the outbox keys),
waking it late would delay a send. It is at most HORIZON ahead, so every group is re-planned at least
that often whatever happened to it outside the session events below.

Kept true by `watch`, on every session of a Database: a flush that changes a schedule, an occurrence
override, a reminder plan, a group's time zone, a membership, a member's time zone, pause or return
to active resets those groups to NULL and bumps `plan_seq`. A tick stores its times only where
`plan_seq` is still what it read before planning, so an edit committed during a tick is not
overwritten by times planned from the state before it.

Not seen: rows written with plain SQL (a COPY, an INSERT without the ORM); such groups are planned
again within HORIZON, or at once after `replan(session, ids)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, event, inspect, or_, select, update
from sqlalchemy.orm import Session

from checkin.models import Group, GroupMember, Member
from checkin.schedules.models import OccurrenceOverride, ReminderPlan, Schedule

# How far ahead a tick looks for a group's next send, and so the longest a group goes unplanned.
HORIZON = timedelta(days=1)
_PENDING = "checkin.due_index.changed"


def due_groups(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(group id, plan_seq) of every group due for planning at `now`, by id."""
    # Sorted here, not by the database: ORDER BY id could tempt the planner into walking the primary key.
    return sorted(
        (gid, seq)
        for gid, seq in session.execute(
            select(Group.id, Group.plan_seq).where(or_(Group.next_due_at.is_(None), Group.next_due_at <= now))
        )
    )


def claim_due(session: Session, now: datetime, until: datetime) -> list[tuple[int, int]]:
    """Take the groups due at `now` for one planning run: their next_due_at moves to `until`, so the next
    tick does not hand them out again while a worker plans them, and a lost job is handed out again
    then. Two leaders at once claim disjoint sets (the second's UPDATE re-checks after the first commits)."""
    # SKIP LOCKED: a group an edit holds right now is taken at the next tick, and nothing here waits on an
    # edit that may be waiting on it (no deadlock); a second leader skips what the first is claiming.
    due = (
        select(Group.id)
        .where(or_(Group.next_due_at.is_(None), Group.next_due_at <= now))
        .order_by(Group.id)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(Group)
        .where(Group.id.in_(due.scalar_subquery()))
        .values(next_due_at=until)
        .returning(Group.id, Group.plan_seq)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((gid, seq) for gid, seq in rows)


def seqs(session: Session, group_ids: list[int]) -> dict[int, int]:
    """The current plan_seq of these groups (a worker reads them before it plans)."""
    if not group_ids:
        return {}
    return dict(session.execute(select(Group.id, Group.plan_seq).where(Group.id.in_(group_ids))).all())


def record(session: Session, next_due: dict[int, tuple[int, datetime]]) -> int:
    """Store {group id: (plan_seq read before planning, next due instant)}; a group whose plan_seq has
    moved since keeps its NULL. Call in a transaction of its own, after the planning one committed. A
    group locked right now (an edit in progress) is skipped, not waited for: the edit resets it anyway,
    or, rolled back, leaves it due for the next tick; so this never waits on an edit that may be
    waiting on it. Returns how many were stored."""
    if not next_due:
        return 0
    ids = sorted(next_due)
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy import text

        ids = list(
            session.scalars(
                text("SELECT id FROM groups WHERE id = ANY(:ids) ORDER BY id FOR UPDATE SKIP LOCKED"),
                {"ids": ids},
            )
        )
        if not ids:
            return 0
        result = session.execute(
            text(
                "UPDATE groups SET next_due_at = v.due FROM unnest(:ids, :seqs, :dues) AS v(id, seq, due) "
                "WHERE groups.id = v.id AND groups.plan_seq = v.seq"
            ),
            {"ids": ids, "seqs": [next_due[i][0] for i in ids], "dues": [next_due[i][1] for i in ids]},
        )
        return result.rowcount or 0
    table = Group.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("gid"), table.c.plan_seq == bindparam("seq"))
        .values(next_due_at=bindparam("due"))
    )
    session.execute(stmt, [{"gid": i, "seq": next_due[i][0], "due": next_due[i][1]} for i in ids])
    return len(ids)


def replan(session: Session, group_ids: Iterable[int] = (), member_ids: Iterable[int] = ()) -> None:
    """Have the next tick plan these groups, and every group of these members, from scratch."""
    group_ids, member_ids = sorted(set(group_ids)), sorted(set(member_ids))
    if not group_ids and not member_ids:
        return
    conditions = []
    if group_ids:
        conditions.append(Group.id.in_(group_ids))
    if member_ids:
        conditions.append(
            Group.id.in_(select(GroupMember.group_id).where(GroupMember.member_id.in_(member_ids)))
        )
    session.connection().execute(
        update(Group.__table__)
        .where(or_(*conditions))
        .values(next_due_at=None, plan_seq=Group.__table__.c.plan_seq + 1)
    )


# --- keeping the index true on every flush ---------------------------------------------------------

_MEMBER_FIELDS = ("timezone", "paused_until")


def _changed(obj, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _collect(session: Session, _flush_context, _instances) -> None:
    groups: set[int] = set()
    members: set[int] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Schedule | OccurrenceOverride | ReminderPlan):
            if obj.group_id is not None:
                groups.add(obj.group_id)
        elif isinstance(obj, GroupMember):
            groups.add(obj.group_id)
        elif isinstance(obj, Group):
            if obj in session.dirty and _changed(obj, "timezone"):
                groups.add(obj.id)
        elif isinstance(obj, Member):
            if obj in session.new:
                groups.update(g.id for g in obj.groups if g.id is not None)
            elif obj in session.dirty:
                # A member back to active: sends held while they were away may be due again.
                back = _changed(obj, "status") and obj.status == "active"
                if back or _changed(obj, *_MEMBER_FIELDS):
                    members.add(obj.id)
                # Joining or leaving a group: that group only.
                history = inspect(obj).attrs.groups.history
                groups.update(g.id for g in (*history.added, *history.deleted) if g.id is not None)
    if groups or members:
        found = session.info.setdefault(_PENDING, (set(), set()))
        found[0].update(groups)
        found[1].update(members)


def _flushed(session: Session, _flush_context) -> None:
    found = session.info.pop(_PENDING, None)
    if found:
        replan(session, *found)


def watch(sessions) -> None:
    """Keep the index true in every session `sessions` (a sessionmaker or Session class) makes."""
    event.listen(sessions, "before_flush", _collect)
    # After the flush: new rows have their ids, and new memberships are in group_members.
    event.listen(sessions, "after_flush", _flushed)
