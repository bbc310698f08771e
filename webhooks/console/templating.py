"""What every console template can use: the CSRF field, the navigation, the signed-in user, time filters."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, url_for
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from checkin import languages, timezones
from checkin.db import utcnow
from webhooks.console import words


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'5 min', '3 h 10 min', '2 days': how long since, short enough for a phone."""
    if when is None:
        return "-"
    seconds = int(((now or utcnow()) - when).total_seconds())
    if seconds < 60:
        return "under a minute" if seconds >= 0 else "in the future"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def first_upper(text: str | None) -> str:
    """A capital first letter and the rest as written ("every Tuesday at 6:00 pm, New York time"
    -> "Every Tuesday ..."); Jinja's capitalize lowercases the rest, names of days and cities too."""
    text = text or ""
    return text[:1].upper() + text[1:]


def local(when: datetime | None, tz: str | None = None, fmt: str | None = None) -> str:
    """'Tue, Dec 8, 6:30 pm CST' (words.when): the clock is named, as a member may live in another
    zone than the reader. `fmt` (a strftime format) is for pages not yet moved to the words filters."""
    if when is None:
        return "-"
    if fmt:
        return when.astimezone(ZoneInfo(tz or "UTC")).strftime(fmt)
    return words.when(when, tz)


def viewer_zone() -> str:
    """The zone the signed-in person reads times in (the audit log, links' expiry, their account): their
    first group's, else the organisation's (CHECKIN_TIMEZONE), else the first group's, else UTC; read
    once a request. Pages that show it name it ("New York time")."""
    from flask import current_app, g
    from sqlalchemy import select

    from checkin.models import Group, GroupStaff
    from webhooks.console.auth import current_staff, db

    if "viewer_zone" not in g:
        staff = current_staff()
        query = select(Group.timezone).order_by(Group.id).limit(1)
        mine = (
            db().scalar(
                query.join(GroupStaff, GroupStaff.group_id == Group.id).where(GroupStaff.staff_id == staff.id)
            )
            if staff is not None
            else None
        )
        org = current_app.extensions["checkin"].settings.timezone
        g.viewer_zone = mine or org or db().scalar(query) or "UTC"
    return g.viewer_zone


def here(when: datetime | None) -> str:
    """An instant in the viewer's zone, the zone named by its city: 'Tue, Dec 8, 6:30 pm New York time'."""
    if when is None:
        return "-"
    tz = viewer_zone()
    return f"{words.when(when, tz, zone=False)} {words.zone_name(tz)}"


rule_reasons = (
    words.rule_reasons
)  # kept under its old name: 'si.kill_self,combo.si_soon' as the rules' reasons


def masked_phone(number: str | None) -> str:
    """A member's number in a list: its last four digits, enough to tell two apart (revealed on purpose)."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return f"••• ••• {digits[-4:]}" if len(digits) > 4 else "••••"


def handed_to(event) -> int | None:
    """The staff id a "reassigned" escalation event hands the case to (its detail reads "to staff:12")."""
    detail = event.detail or ""
    if event.kind == "reassigned" and detail.startswith("to staff:") and detail[9:].isdigit():
        return int(detail[9:])
    return None


def _nav_links():
    from webhooks.console import NAV
    from webhooks.console.auth import current_staff

    staff = current_staff()
    links = []
    for label, endpoint, coordinator_only in NAV:
        if coordinator_only and (staff is None or staff.role != "coordinator"):
            continue
        try:
            links.append((label, endpoint, url_for(endpoint)))
        except BuildError:
            continue  # a page whose blueprint is not registered in this app
    return links


def console_alarms() -> dict:
    """What every console page shouts about (banner, the Escalations link's count, the tab title), for
    the signed-in user's groups: crisis and urgent cases nobody has taken, from the minute they open
    (still paging), and groups whose policy reaches nobody now. Read once per request."""
    from flask import current_app, g
    from sqlalchemy import select

    from checkin.escalation import reach
    from checkin.models import Member
    from webhooks.console.auth import current_staff, db, visible_group_ids

    if "console_alarms" in g:
        return g.console_alarms
    if current_staff() is None:
        return {"waiting": {}, "unreachable": [], "count": 0, "words": ""}
    session, ids = db(), visible_group_ids()  # None for a coordinator: cases with no group too
    try:
        unreachable = reach.unreachable_groups(
            session, utcnow(), current_app.extensions["checkin.escalation"].policy, ids
        )
        waiting = reach.waiting_by_level(session, ids, shown=BANNER_CASES)
    except Exception:
        import logging

        logging.getLogger("checkin.console").exception("console alarms could not be read")
        return {"waiting": {}, "unreachable": [], "failed": True, "count": 0, "words": ""}
    # The banner names each member (first name), not only the case number: "Dana (#1)".
    member_ids = {e.member_id for w in waiting.values() for e in w.shown if e.member_id}
    first = (
        dict(session.execute(select(Member.id, Member.display_name).where(Member.id.in_(member_ids))).all())
        if member_ids
        else {}
    )
    names = {
        e.id: (first.get(e.member_id) or "").split(" ")[0]
        for w in waiting.values()
        for e in w.shown
        if (first.get(e.member_id) or "").strip()
    }
    g.console_alarms = {
        "names": names,
        "waiting": waiting,
        "unreachable": unreachable,
        "count": sum(w.count for w in waiting.values()),
        "words": reach.waiting_words(waiting),
    }
    return g.console_alarms


BANNER_CASES = 12  # case links in the one banner per level; the rest are "N more", a link to the list


def register(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf

    from webhooks.console.auth import can_see_group, page_staff
    from webhooks.console.views_inbox import live_stamp, unread_for_nav

    def csrf_field() -> Markup:
        return Markup(f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">')  # noqa: S704 - the token is escaped

    @app.context_processor
    def _console_context():
        return {
            "csrf_field": csrf_field,
            # None while the person must first change a temporary password or set up an authenticator app.
            "current_staff": page_staff,
            "nav_links": _nav_links,
            "console_alarms": console_alarms,
            "can_see_group": can_see_group,
            "inbox_unread": unread_for_nav,
            "live_stamp": live_stamp,
        }

    app.add_template_filter(ago, "ago")
    app.add_template_filter(first_upper, "first_upper")
    app.add_template_filter(local, "local")
    app.add_template_filter(here, "here")
    app.add_template_filter(rule_reasons, "rule_reasons")
    app.add_template_filter(words.rule_details, "rule_details")
    app.add_template_filter(words.channel_words, "channel_words")
    app.add_template_filter(words.rule_why, "rule_why")
    app.add_template_filter(words.event_detail, "event_detail")
    app.add_template_filter(words.clock, "clock")
    app.add_template_filter(words.day, "day")
    app.add_template_filter(words.clock_in, "clock_in")
    app.add_template_filter(words.plain_error, "plain_error")
    app.add_template_filter(words.zone_name, "zone_name")
    app.add_template_filter(words.placeholder_name, "placeholder_name")
    app.add_template_global(words.schedule_words, "schedule_words")
    app.add_template_global(words.when, "when")
    app.add_template_global(timezones.choices, "timezone_choices")
    app.add_template_filter(timezones.as_typed, "zone_as_typed")
    app.add_template_global(languages.name, "language_name")
    app.add_template_global(words.SEND_KINDS, "send_kinds")
    app.add_template_filter(handed_to, "handed_to")
    app.add_template_filter(masked_phone, "masked_phone")
