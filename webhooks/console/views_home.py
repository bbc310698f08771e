"""Home: what needs a person now, what goes out today, how yesterday went.

"Today" and "yesterday" are read in one zone when there is one to read them in (every group the viewer
sees shares it, or the organisation has one, CHECKIN_TIMEZONE), else in each member's own zone; every
time shown names its zone."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import select

from checkin import schedules
from checkin.db import utcnow
from checkin.messaging.errors import meaning
from checkin.models import GroupMember, Member, Message, OutboxItem
from webhooks.console import bp
from webhooks.console.auth import db, login_required, visible_group_ids, visible_groups
from webhooks.console.views_escalations import alerted_names, live_escalations

log = logging.getLogger("checkin.console")
FAILED = ("failed", "undelivered")


def home_zone(groups) -> str | None:
    """The one zone the home page's days are read in: the zone every visible group shares, else the
    organisation's (CHECKIN_TIMEZONE); None when the groups' zones differ and there is none, so each
    member's own day counts (never whichever group sorts first)."""
    zones = {g.timezone for g in groups}
    if len(zones) == 1:
        return zones.pop()
    return current_app.extensions["checkin"].settings.timezone or (None if zones else "UTC")


def _local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


def _days(zones, now: datetime, offset: int = 0) -> list[tuple[date, list[str]]]:
    """The date today (+offset) is in each zone, and the zones on it: [(Tue Dec 8, [Auckland]), ...]."""
    by_day: dict[date, list[str]] = {}
    for tz in sorted(zones):
        by_day.setdefault(_local_day(now, tz) + timedelta(days=offset), []).append(tz)
    return sorted(by_day.items())


def _visible_members(query, column):
    ids = visible_group_ids()
    if ids is None:
        return query
    return query.where(column.in_(select(GroupMember.member_id).where(GroupMember.group_id.in_(ids or [-1]))))


def _planned_today(now: datetime, zone: str | None) -> list[dict]:
    """Sends still to come today (in `zone`, else in each member's own zone): queued outbox rows, plus
    what the planner will queue later today."""
    end = now + timedelta(days=1)  # the latest midnight of any zone is less than a day away

    def today(at: datetime, member: Member) -> bool:
        tz = zone or member.effective_timezone
        return _local_day(at, tz) == _local_day(now, tz)

    rows = (
        db()
        .execute(
            _visible_members(
                select(OutboxItem, Member)
                .join(Member, Member.id == OutboxItem.member_id)
                .where(OutboxItem.state.in_(("pending", "sending")), OutboxItem.next_attempt_at < end)
                .order_by(OutboxItem.next_attempt_at)
                .limit(200),
                OutboxItem.member_id,
            )
        )
        .all()
    )
    planned = [
        {
            "at": item.next_attempt_at,
            "member": member,
            "kind": item.purpose,
            "channel": item.channel,
            "state": "queued" if item.state == "pending" else "sending now",
            "tz": member.effective_timezone,
        }
        for item, member in rows
        if today(item.next_attempt_at, member)
    ]
    sends = [s for s in _preview_today(now, end) if s.held_reason is None]
    keys = [s.key for s in sends if s.key]
    queued = (
        set(db().scalars(select(OutboxItem.idempotency_key).where(OutboxItem.idempotency_key.in_(keys))))
        if keys
        else set()
    )
    members = {
        m.id: m
        for m in db().scalars(select(Member).where(Member.id.in_({s.member_id for s in sends} or {-1})))
    }
    for send in sends:
        if (
            send.key not in queued
            and send.member_id in members
            and today(send.send_at_utc, members[send.member_id])
        ):
            member = members[send.member_id]
            planned.append(
                {
                    "at": send.send_at_utc,
                    "member": member,
                    "kind": send.kind,
                    "channel": send.channel,
                    "state": "planned",
                    "tz": member.effective_timezone,
                }
            )
    return sorted(planned, key=lambda p: p["at"])


def _preview_today(now: datetime, end: datetime) -> list:
    """The planner's own preview (checkin.schedules)."""
    sends = []
    for group in visible_groups():
        try:
            sends += [
                s for s in schedules.preview(db(), group.id, now, 1, now=now) if now <= s.send_at_utc < end
            ]
        except Exception:  # the home page must show even if one group's plan cannot be read
            log.exception("preview failed for group=%s", group.id)
    return sends


def _yesterday(now: datetime, zone: str | None) -> dict:
    """Yesterday's sends and replies: the day before today in `zone`, else in each member's own zone."""

    def yesterday(at: datetime, member: Member) -> bool:
        tz = zone or member.effective_timezone
        return _local_day(at, tz) == _local_day(now, tz) - timedelta(days=1)

    start, end = now - timedelta(days=2), now  # holds yesterday in every zone
    rows = (
        db()
        .execute(
            _visible_members(
                select(Message, Member)
                .join(Member, Member.id == Message.member_id)
                .where(Message.created_at >= start, Message.created_at < end)
                .order_by(Message.created_at),
                Message.member_id,
            )
        )
        .all()
    )
    rows = [(m, member) for m, member in rows if yesterday(m.created_at, member)]
    out = [(m, member) for m, member in rows if m.direction == "outbound"]
    counts = Counter(
        "delivered" if m.status == "delivered" else "failed" if m.status in FAILED else "sent" for m, _ in out
    )
    failures = [
        (m, member, m.error_message or meaning(m.error_code)) for m, member in out if m.status in FAILED
    ]
    replies = [(m, member) for m, member in rows if m.direction == "inbound"]
    return {
        "sent": len(out),
        "delivered": counts["delivered"],
        "in_flight": counts["sent"],
        "failed": failures,
        "reasons": Counter(reason for _, _, reason in failures).most_common(),
        "replies": replies,
    }


@bp.route("/")
@login_required
def home():
    now = utcnow()
    groups = visible_groups()
    zone = home_zone(groups)
    zones = [zone] if zone else {g.timezone for g in groups}
    escalations = live_escalations()
    return render_template(
        "console/home.html",
        escalations=escalations,
        alerted=alerted_names(escalations),
        now=now,
        zone=zone,
        planned=_planned_today(now, zone),
        yesterday=_yesterday(now, zone),
        today_days=_days(zones, now),
        yesterday_days=_days(zones, now, -1),
    )
