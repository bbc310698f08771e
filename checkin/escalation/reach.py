"""Who can be paged, group by group: what `/healthz` and every console page warn about.

A group's policy reaches nobody when none of its facilitators on call now (for the policy's primary
and backup steps) and no coordinator (for its coordinator step) has a phone. Its cases are then paged
to whoever `service.reachable` finds, but that is a fallback, not a plan: say so until it is mended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkin import rota
from checkin.escalation import effective
from checkin.escalation.models import Escalation
from checkin.escalation.policy import Policy
from checkin.models import Group, StaffUser


def _coordinator_with_phone(session: Session) -> bool:
    return (
        session.scalar(
            select(StaffUser.id)
            .where(StaffUser.role == "coordinator", StaffUser.active.is_(True), StaffUser.phone.is_not(None))
            .limit(1)
        )
        is not None
    )


def unreachable_groups(
    session: Session, now: datetime, policy: Policy, group_ids: set[int] | None = None
) -> list[Group]:
    """The groups (of `group_ids`, or all) whose escalation policy reaches nobody at `now`."""
    coordinator = _coordinator_with_phone(session)
    policies = [policy.default, *policy.groups.values(), *effective.override_policies(session, policy)]
    if coordinator and all(
        "coordinator" in gp.crisis.levels and "coordinator" in gp.urgent.levels for gp in policies
    ):
        return []  # every step list ends with someone who has a phone: the common case, one query
    query = select(Group).order_by(Group.name)
    if group_ids is not None:
        query = query.where(Group.id.in_(group_ids or [-1]))
    out = []
    for group in session.scalars(query):
        gp = effective.group_policy(session, policy, group)
        for lp in (gp.crisis, gp.urgent):
            if coordinator and "coordinator" in lp.levels:
                continue
            tiers = set(lp.levels)
            if not any(
                p.staff.role != "coordinator" and p.link.tier in tiers
                for p in rota.on_call_places(session, group.id, now)
            ):
                out.append(group)
                break
    return out


@dataclass(frozen=True)
class Waiting:
    count: int
    shown: list[Escalation]


# A crisis or urgent case nobody has taken: from the first minute (open, paging its first steps) and
# after a whole round of the policy (unacknowledged, still paging). Every console page says so.
WAITING_STATES = ("open", "unacknowledged")


def waiting_by_level(
    session: Session, group_ids: set[int] | None = None, shown: int = 12
) -> dict[str, Waiting]:
    """Cases nobody has taken (WAITING_STATES) by level (crisis, urgent): how many, and the oldest
    `shown` of them."""
    waiting = Escalation.state.in_(WAITING_STATES)
    query = select(Escalation.level, func.count()).where(waiting)
    if group_ids is not None:
        query = query.where(Escalation.group_id.in_(group_ids or [-1]))
    counts = dict(session.execute(query.group_by(Escalation.level)).all())
    out = {}
    for level in ("crisis", "urgent"):
        if counts.get(level):
            cases = (
                select(Escalation)
                .where(waiting, Escalation.level == level)
                .order_by(Escalation.opened_at, Escalation.id)
                .limit(shown)
            )
            if group_ids is not None:
                cases = cases.where(Escalation.group_id.in_(group_ids or [-1]))
            out[level] = Waiting(counts[level], list(session.scalars(cases)))
    return out


def waiting_words(waiting: dict[str, Waiting]) -> str:
    """The tab title's alarm: "1 crisis waiting", "2 crisis and 1 urgent waiting"; "" when none."""
    parts = [f"{w.count} {level}" for level, w in waiting.items() if w.count]
    return f"{' and '.join(parts)} waiting" if parts else ""
