"""The iCalendar feed of a group's meetings, at a secret URL (no sign-in: calendar apps cannot sign in)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app

from checkin import calendar_feed, schedules
from checkin.db import utcnow
from checkin.models import Group
from webhooks.console import bp, db


@bp.get("/calendar/<token>.ics")
def calendar(token: str):
    session = db()
    group_id = calendar_feed.group_id_for(session, token)
    group = session.get(Group, group_id) if group_id is not None else None
    if group is None:
        abort(404, "no such calendar (the address may have been replaced)")
    now = utcnow()
    start, end = calendar_feed.window(now)
    host = urlsplit(current_app.extensions["checkin"].settings.public_base_url).hostname or "checkin"
    body = calendar_feed.build(
        group.name, group.timezone, schedules.occurrences(session, group.id, start, end), host=host, now=now
    )
    return (
        body,
        200,
        {
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="meetings.ics"',
            # Calendar apps poll; the URL is a secret, so no shared cache may keep a copy.
            "Cache-Control": "private, max-age=300",
            "X-Robots-Tag": "noindex",
        },
    )
