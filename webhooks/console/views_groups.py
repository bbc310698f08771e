"""Groups and meetings: create and edit a group, build its schedule, cancel or move one meeting."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from checkin import calendar_feed, schedules, timezones
from checkin.answers import rsvp
from checkin.db import utcnow
from checkin.directory import ValidationError, add_group
from checkin.models import Group, GroupStaff, StaffUser
from webhooks.console import (
    bp,
    coordinator_required,
    db,
    forms,
    group_visible,
    is_coordinator,
    login_required,
    recurrence,
    visible_groups,
    words,
)
from webhooks.console.auth import audit_here

UPCOMING_WEEKS = 12
UPCOMING_MAX = 16


@bp.get("/groups")
@login_required
def groups():
    return _groups_page()


def _groups_page(form=None, problems=None, status=200):
    now = utcnow()
    rows = []
    for group in visible_groups():
        schedule = schedules.get_schedule(db(), group.id)
        rec = recurrence.parse(schedule.rrule) if schedule else None
        rows.append((group, schedule, rec, schedules.next_meeting(db(), group.id, now) if schedule else None))
    return render_template("console/groups.html", rows=rows, form=form or {}, problems=problems), status


@bp.post("/groups")
@coordinator_required
def create_group():
    form = request.form
    problems, name, timezone, number = _read_group(form, None)
    if problems:
        return _groups_page(form, problems.fields, 400)
    group = add_group(db(), name, timezone, number)
    # What it was made as, as an edit's row names the fields, so a later "name: A → B" has its start.
    made = "; ".join(f"{field}: {value}" for field, value in _details(group).items())
    audit_here("setting_changed", f"group:{group.id} created: {made}")
    db().commit()
    flash(f"Group {group.name} created. Now give it a meeting schedule.", "ok")
    return redirect(url_for(".group", group_id=group.id))


def _read_group(form, group_id: int | None):
    """The group form's name, time zone and number, with every mistake in it (not just the first)."""
    session = db()
    problems = forms.Problems()
    name = problems.check("name", forms.name, form.get("name"), max_len=120, what="the group's name")
    if name and session.scalar(select(Group.id).where(Group.name == name, Group.id != (group_id or 0))):
        problems.add("name", f"A group named {name} already exists: choose another name.")
    timezone = problems.check("timezone", timezones.resolve, form.get("timezone"))
    raw_number = (form.get("phone_number") or "").strip()
    number = None
    if raw_number:
        number = problems.phone("phone_number", raw_number)
        if number is not None and session.scalar(
            select(Group.id).where(Group.phone_number == number, Group.id != (group_id or 0))
        ):
            problems.add("phone_number", "Another group already uses this phone number.")
    return problems, name, timezone, number


@bp.get("/groups/<int:group_id>")
@login_required
def group(group_id: int):
    return _group_page(group_visible(group_id))


def _group_page(
    group: Group,
    *,
    details=None,
    builder=None,
    error=None,
    error_in=None,
    problems=None,
    problems_in="details",
    moving=None,
    status=200,
):
    """The group's page; a refused form's `problems` (field -> sentence) are shown in the form named by
    `problems_in` (details, builder or meetings), and `moving` keeps a refused move's typed time by meeting."""
    session = db()
    zone = ZoneInfo(group.timezone)
    schedule = schedules.get_schedule(session, group.id)
    now = utcnow()
    upcoming = (
        schedules.occurrences(session, group.id, now, now + timedelta(weeks=UPCOMING_WEEKS))[:UPCOMING_MAX]
        if schedule
        else []
    )
    current = recurrence.parse(schedule.rrule) if schedule else None
    # Members' answers to the reminders' "Reply 1 if you're coming, 2 if not".
    rsvps = {
        occ.key: rsvp.for_occurrence(session, group.id, occ.key)
        for occ in upcoming
        if occ.status != "cancelled"
    }
    passed = None
    if builder is None and schedule is not None and schedule.starts_on < now.astimezone(zone).date():
        passed = _passed_start(session, group, schedule.starts_on, now)
    if builder is None:
        builder = {
            "repeat": current.pattern if current else "weekly",
            "weekday": current.weekday if current else "TU",
            "nth": str(current.nth) if current and current.nth else "2",
            "starts_on": (schedule.starts_on if schedule else now.astimezone(zone).date()).isoformat(),
            "time": schedule.start_local.strftime("%H:%M") if schedule else "18:00",
            "duration": str(schedule.duration_minutes) if schedule else "90",
            "location": (schedule.location or "") if schedule else "",
            "dial_in": (schedule.dial_in or "") if schedule else "",
        }
    # A group nobody facilitates: its alerts reach coordinators only, so its own page says so.
    facilitators = session.scalar(
        select(func.count())
        .select_from(GroupStaff)
        .join(StaffUser, StaffUser.id == GroupStaff.staff_id)
        .where(GroupStaff.group_id == group.id, StaffUser.role == "facilitator", StaffUser.active.is_(True))
    )
    token = calendar_feed.token_for(session, group.id)
    session.commit()  # the token, made on first view
    feed_url = current_app.extensions["checkin"].settings.public_base_url.rstrip("/") + url_for(
        ".calendar", token=token
    )
    return render_template(
        "console/group.html",
        group=group,
        schedule=schedule,
        current=current,
        upcoming=upcoming,
        details=details
        or {"name": group.name, "timezone": group.timezone, "phone_number": group.phone_number or ""},
        builder=builder,
        rsvps=rsvps,
        patterns=recurrence.PATTERNS,
        weekdays=list(zip(recurrence.WEEKDAYS, recurrence.WEEKDAY_NAMES)),
        nths=recurrence.NTHS,
        error=error,
        error_in=error_in,
        problems=problems,
        problems_in=problems_in,
        moving=moving or {},
        no_facilitator=not facilitators,
        feed_url=feed_url,
        editable=is_coordinator(),
        today=now.astimezone(zone).date(),
        passed=passed,
    ), status


def _passed_start(session, group: Group, starts_on, now) -> str:
    """What the builder says at its date when that date has passed: the rule still counts from it (so
    "every other week" keeps its weeks), and the meeting it gives next is the one that happens."""
    upcoming = schedules.next_meeting(session, group.id, now)
    after = (
        f"counting from it, the next meeting is {words.day(upcoming.local_start, year=True)}"
        if upcoming
        else "there is no meeting to come"
    )
    return f"{words.day(starts_on, year=True)} has passed: {after}."


@bp.post("/groups/<int:group_id>")
@coordinator_required
def edit_group(group_id: int):
    group = group_visible(group_id)
    form = request.form
    problems, name, timezone, number = _read_group(form, group.id)
    if problems:
        return _group_page(group, details=form, problems=problems.fields, status=400)
    before = _details(group)
    _update_group(group, name, timezone, number)
    audit_here(
        "setting_changed",
        f"group:{group.id} " + (words.changes(before, _details(group)) or "saved unchanged"),
    )
    db().commit()
    flash("Group saved.", "ok")
    return redirect(url_for(".group", group_id=group_id))


def _details(group: Group) -> dict[str, str]:
    """The group's details as the audit row names them (the group's own number is the service's, not a
    person's)."""
    return {
        "name": group.name,
        "time zone": timezones.as_typed(group.timezone),
        "number": group.phone_number or "none",
    }


def _update_group(group: Group, name: str, timezone: str, number: str | None) -> None:
    session = db()
    zone_changed = timezone != group.timezone
    group.name, group.timezone, group.phone_number = name, timezone, number
    session.flush()
    schedule = schedules.get_schedule(session, group.id)
    if zone_changed and schedule is not None:
        # Same wall-clock meetings in the new zone: saving the schedule again re-plans what is not yet sent.
        schedules.set_schedule(
            session,
            group.id,
            rrule=schedule.rrule,
            start_local=schedule.start_local,
            duration_minutes=schedule.duration_minutes,
            location=schedule.location,
            dial_in=schedule.dial_in,
            starts_on=schedule.starts_on,
        )


@bp.get("/groups/<int:group_id>/schedule")
@bp.get("/groups/<int:group_id>/meetings/<key>/cancel")
@bp.get("/groups/<int:group_id>/meetings/<key>/move")
@login_required
def group_form_page(group_id: int, key: str | None = None):
    """A refused form's address, reloaded: the group's page, not "Method Not Allowed"."""
    return redirect(url_for(".group", group_id=group_id) + ("#meetings" if key else "#schedule"))


# The builder's fields and the labels its messages start with ("Time: a time of day as HH:MM").
SCHEDULE_LABELS = {
    "starts_on": "First meeting on or after",
    "time": "Time",
    "duration": "Length in minutes",
    "location": "Address",
    "dial_in": "Dial-in number",
}
# What set_schedule names in a refusal -> the builder's field.
_SCHEDULE_KEYS = {"duration": "duration", "address": "location", "dial-in": "dial_in", "rrule": "repeat"}


def _read_schedule(form):
    """The builder's schedule, with every mistake in it kept for its field (not just the first), in the
    page's order so the summary lists them as the form does."""
    problems = forms.Problems(SCHEDULE_LABELS)
    rec = None
    try:
        rec = recurrence.from_form(form)
    except recurrence.RecurrenceError as exc:
        problems.add(exc.field, str(exc))
    at = problems.check("time", forms.clock, form, "time", SCHEDULE_LABELS["time"])
    duration = problems.check(
        "duration", forms.whole, form, "duration", SCHEDULE_LABELS["duration"], 5, 24 * 60
    )
    starts_from = problems.check("starts_on", forms.day, form, "starts_on", SCHEDULE_LABELS["starts_on"])
    location = problems.check("location", forms.text, form, "location", "Address", max_len=200)
    dial_in = problems.check("dial_in", forms.text, form, "dial_in", "Dial-in number", max_len=40)
    if dial_in:  # a number members can call, as every phone field reads one
        dial_in = problems.phone("dial_in", dial_in)
    return problems, rec, starts_from, at, duration, location, dial_in


@bp.post("/groups/<int:group_id>/schedule")
@coordinator_required
def save_schedule(group_id: int):
    group = group_visible(group_id)
    form = request.form
    problems, rec, starts_from, at, duration, location, dial_in = _read_schedule(form)
    if not problems:
        try:
            first = rec.first_on_or_after(starts_from, at)
            schedules.set_schedule(
                db(),
                group.id,
                rrule=rec.rrule(),
                start_local=at,
                duration_minutes=duration,
                location=location,
                dial_in=dial_in,
                starts_on=first.date(),
            )
            audit_here("setting_changed", f"group:{group.id} meeting schedule saved")
            db().commit()
        except (ValidationError, recurrence.RecurrenceError) as exc:
            db().rollback()
            head = str(exc).partition(":")[0].partition(" ")[0]
            problems.add(_SCHEDULE_KEYS.get(head, "repeat"), str(exc))
    if problems:
        # Rendered here, not redirected: the page keeps what was typed, and a reload sends it again.
        return _group_page(group, builder=form, problems=problems.fields, problems_in="builder", status=400)
    meets = words.schedule_words(rec.rrule(), at, group.timezone)
    now = utcnow()
    if first.date() < now.astimezone(ZoneInfo(group.timezone)).date():
        # A start that has passed is kept (the rule counts from it); what happens next is said plainly.
        flash(f"Schedule saved: meets {meets}. {_passed_start(db(), group, first.date(), now)}", "ok")
    else:
        flash(f"Schedule saved: meets {meets}, from {words.day(first, year=True)}.", "ok")
    return redirect(url_for(".group", group_id=group_id) + "#meetings")


@bp.post("/groups/<int:group_id>/meetings/<key>/cancel")
@coordinator_required
def cancel_meeting(group_id: int, key: str):
    group = group_visible(group_id)
    try:
        schedules.cancel_occurrence(db(), group.id, key)
        audit_here("setting_changed", f"group:{group.id} meeting {key} cancelled")
        db().commit()
    except ValidationError as exc:
        db().rollback()
        return _group_page(group, error=str(exc), error_in="meetings", status=400)
    flash("Meeting cancelled. Members who would have been reminded are told once.", "ok")
    return redirect(url_for(".group", group_id=group_id) + "#meetings")


@bp.post("/groups/<int:group_id>/meetings/<key>/move")
@coordinator_required
def move_meeting(group_id: int, key: str):
    group = group_visible(group_id)
    field = f"move-{key}"  # the meeting's own box: one form per upcoming meeting
    problems = forms.Problems({field: "New date and time"})
    try:
        new_start = forms.local_datetime(request.form, "new_start", "New date and time")
        schedules.move_occurrence(db(), group.id, key, new_start)
        audit_here("setting_changed", f"group:{group.id} meeting {key} moved")
        db().commit()
    except ValidationError as exc:
        db().rollback()
        problems.add(field, str(exc))
        return _group_page(
            group,
            problems=problems.fields,
            problems_in="meetings",
            moving={key: request.form.get("new_start", "")},
            status=400,
        )
    flash(
        f"Meeting moved to {words.day(new_start)}, {words.clock(new_start)}. "
        "Members who would have been reminded are told once.",
        "ok",
    )
    return redirect(url_for(".group", group_id=group_id) + "#meetings")


@bp.post("/groups/<int:group_id>/calendar/rotate")
@coordinator_required
def rotate_calendar(group_id: int):
    group = group_visible(group_id)
    calendar_feed.rotate(db(), group.id)
    audit_here("setting_changed", f"group:{group.id} calendar address renewed")
    db().commit()
    flash("New calendar address made; the old one no longer works.", "ok")
    return redirect(url_for(".group", group_id=group_id) + "#calendar")
