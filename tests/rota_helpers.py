"""Rota windows relative to the real clock, for tests that go through webhooks (which use it)."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from checkin import rota
from checkin.db import utcnow
from checkin.models import Group, GroupStaff


def _link(session, group_id: int, staff_id: int) -> tuple[GroupStaff, ZoneInfo]:
    return session.get(GroupStaff, (group_id, staff_id)), ZoneInfo(session.get(Group, group_id).timezone)


def on_shift_now(session, group_id: int, staff_id: int) -> None:
    """A weekly shift for today that covers the next hour or so, and nothing else."""
    link, zone = _link(session, group_id, staff_id)
    local = utcnow().astimezone(zone) - timedelta(hours=1)
    rota.add_weekly(
        session,
        link,
        [local.isoweekday()],
        time(local.hour, local.minute),
        time(local.hour, local.minute),
        span_days=1,
    )


def off_shift_now(session, group_id: int, staff_id: int) -> None:
    """A weekly shift three days from now: never today."""
    link, zone = _link(session, group_id, staff_id)
    day = (utcnow().astimezone(zone) + timedelta(days=3)).isoweekday()
    rota.add_weekly(session, link, [day], time(9), time(17))
