"""Home: what needs a person now, what goes out today, how yesterday went."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import render_template
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


def _day(zone: ZoneInfo, now: datetime, offset: int = 0) -> tuple[datetime, datetime]:
    day = now.astimezone(zone).date() + timedelta(days=offset)
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def _visible_members(query, column):
    ids = visible_group_ids()
    if ids is None:
        return query
    return query.where(column.in_(select(GroupMember.member_id).where(GroupMember.group_id.in_(ids or [-1]))))


def _planned_today(now: datetime, end: datetime) -> list[dict]:
    """Sends still to come today: queued outbox rows, plus what the planner will queue later today."""
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
        if send.key not in queued and send.member_id in members:
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


def _yesterday(start: datetime, end: datetime) -> dict:
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
    zone = ZoneInfo(groups[0].timezone if groups else "UTC")
    today_start, today_end = _day(zone, now)
    y_start, y_end = _day(zone, now, -1)
    escalations = live_escalations()
    return render_template(
        "console/home.html",
        escalations=escalations,
        alerted=alerted_names(escalations),
        now=now,
        zone=zone.key,
        planned=_planned_today(now, today_end),
        yesterday=_yesterday(y_start, y_end),
        today=today_start,
        yesterday_date=y_start,
    )
