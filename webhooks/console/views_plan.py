"""Reminder plan and texts for a group, and a preview of the next two weeks of sends.

The preview calls checkin.schedules.preview, the same planning function the cron tick uses, so what
it lists (and what it marks as held back by quiet hours, pauses, opt-outs or a live exchange) is what will happen.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from checkin import quiet_hours, schedules
from checkin.db import utcnow
from checkin.directory import ValidationError
from checkin.models import Group, Member, OutboxItem
from checkin.schedules.plan import LANGUAGE_NAMES
from webhooks.console import (
    bp,
    coordinator_required,
    db,
    forms,
    group_visible,
    is_coordinator,
    login_required,
    texts,
    words,
)
from webhooks.console.auth import audit_here

PREVIEW_DAYS = 14

# Form field -> (plan key, label). Labels are what the page shows, so errors use them too.
FIELDS = {
    "reminders": ("reminder_offsets_minutes", "Reminders before each meeting"),
    "prompt_days_after": ("prompt_days_after", "Check-in prompt, days after each meeting"),
    "prompt_time": ("prompt_time", "Check-in prompt time"),
    "nudge_after_hours": ("nudge_after_hours", "Nudge after (hours without an answer)"),
    "quiet_start": ("quiet_start", "Sending window opens at"),
    "quiet_end": ("quiet_end", "Sending window closes at"),
    "prompt_stale_hours": ("prompt_stale_hours", "Drop a held prompt after (hours)"),
    "inbox_answer_hours": ("inbox_answer_hours", "A facilitator reads members' texts within (hours)"),
}


def _hours(minutes: int) -> str:
    return f"{minutes / 60:g}"


def plan_form(plan) -> dict[str, str]:
    return {
        "reminders": ", ".join(_hours(m) for m in plan.reminder_offsets_minutes),
        "prompt_days_after": str(plan.prompt_days_after),
        "prompt_time": plan.prompt_time.strftime("%H:%M"),
        "nudge_after_hours": f"{plan.nudge_after_hours:g}",
        "quiet_start": plan.quiet_start.strftime("%H:%M"),
        "quiet_end": plan.quiet_end.strftime("%H:%M"),
        "prompt_stale_hours": f"{plan.prompt_stale_hours:g}",
        "inbox_answer_hours": f"{plan.inbox_answer_hours:g}",
    }


def reminder_minutes(raw: str) -> list[int]:
    """'24, 2' (hours) -> [1440, 120]. Blank means no reminders."""
    label = FIELDS["reminders"][1]
    parts = [p for p in re.split(r"[,\s]+", (raw or "").strip()) if p]
    minutes = []
    for part in parts:
        try:
            hours = float(part)
        except ValueError:
            raise ValidationError(
                f"{label}: hours before the meeting separated by commas, e.g. 24, 2"
            ) from None
        if not 0 < hours <= 14 * 24 or hours * 60 != int(hours * 60):
            raise ValidationError(
                f"{label}: each from 1 minute to 14 days before the meeting, typed in hours, such as 24, 2"
            )
        minutes.append(int(hours * 60))
    return minutes


def _overrides(form) -> tuple[forms.Problems, dict]:
    """The plan form's values for checkin.schedules.set_plan, with every mistake in it kept for its
    field (not just the first)."""
    problems = forms.Problems({field: label for field, (_key, label) in FIELDS.items()})

    def read(field, reader, *args):
        return problems.check(field, reader, form, field, FIELDS[field][1], *args)

    values = {
        "reminder_offsets_minutes": problems.check("reminders", reminder_minutes, form.get("reminders", "")),
        "prompt_days_after": read("prompt_days_after", forms.whole, 0, 6),
        "prompt_time": read("prompt_time", forms.clock),
        "nudge_after_hours": read("nudge_after_hours", forms.number, 0, 144),
        "quiet_start": read("quiet_start", forms.clock),
        "quiet_end": read("quiet_end", forms.clock),
        "prompt_stale_hours": read("prompt_stale_hours", forms.number, 0.5, 72),
    }
    if "inbox_answer_hours" in form:  # a form from before the field existed leaves the group's value alone
        values["inbox_answer_hours"] = read("inbox_answer_hours", forms.number, 0, 168)
    clocks = (values["prompt_time"], values["quiet_start"], values["quiet_end"])
    if values["prompt_days_after"] and None not in clocks and values["prompt_stale_hours"] is not None:
        night = night_prompt(*clocks, values["prompt_stale_hours"])
        if night and night[1]:  # a plan that would never ask anyone is refused, not saved to do nothing
            problems.add("prompt_time", night[0], named=True)
    for key in ("prompt_time", "quiet_start", "quiet_end"):
        if values[key] is not None:
            values[key] = values[key].strftime("%H:%M")
    return problems, values


def night_prompt(prompt_time, quiet_start, quiet_end, stale_hours: float) -> tuple[str, bool] | None:
    """What the planner does with check-in prompts due in members' night, in words, and whether that
    means none is ever sent; None when the prompt time is inside the sending window. The planner moves a
    send to the window's start (checkin.quiet_hours.next_allowed) and drops a prompt held longer than
    the limit, so both are said, as it does them."""
    wait = quiet_hours.wait_for_window(prompt_time, quiet_start, quiet_end)
    if wait is None:
        return None
    side = "before" if prompt_time < quiet_start else "after"
    night = (
        f"{words.clock(prompt_time)} is in members' night ({side} the sending window, {words.clock(quiet_start)} to "
        f"{words.clock(quiet_end)}), and no automated message goes out then"
    )
    hours = wait.total_seconds() / 3600
    if hours >= stale_hours:
        return (
            f"{night}: a prompt would wait {hours:g} hours for {words.clock(quiet_start)}, longer than the "
            f"{stale_hours:g}-hour limit for a held prompt, so no check-in prompt would ever be sent. "
            "Choose a time inside the sending window.",
            True,
        )
    when = "the next morning at " if prompt_time >= quiet_end else ""
    return (
        f"{night}: check-in prompts go out {when}{words.clock(quiet_start)} instead, when the window opens "
        "(each member's own time).",
        False,
    )


def _before(minutes: int) -> str:
    """A reminder's offset as people say it: "12-hour", "90-minute", "2-day"."""
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}-day"
    if minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


_DROPPED = {
    "quiet hours until the meeting": "it is not sent, since the window opens only after the meeting starts",
    "quiet hours until the next reminder": "it is not sent, since by the time the window opens the next "
    "reminder is due",
    "quiet hours until stale": "it is not sent, since it would wait longer than the limit for a held prompt",
}


def night_lines(nights, quiet_start, quiet_end) -> list[str]:
    """The plan's reminders and nudges that land in members' night (checkin.schedules.night), a sentence
    each saying what the planner does with it. The check-in prompt has its own warning at its field."""
    window = f"the sending window, {words.clock(quiet_start)} to {words.clock(quiet_end)}"
    lines = []
    for night in nights:
        if night.kind == "reminder":
            what = (
                f"The {_before(night.offset_minutes)} reminder before a {words.clock(night.meeting)} meeting"
            )
        elif night.kind == "nudge":
            what = "The nudge after an unanswered check-in prompt"
        else:
            continue
        side = "before" if night.due < quiet_start else "after"
        outcome = (
            f"it is held until {words.clock(night.moved_to)}"
            + (" the next morning" if side == "after" else "")
            + ", when the window opens"
            if night.moved_to is not None
            else _DROPPED.get(night.dropped or "", "it is not sent")
        )
        lines.append(f"{what} is due at {words.clock(night.due)}, {side} {window}: {outcome}.")
    return lines


def _in_words(error: str) -> str:
    """The planner names its config keys ("quiet_end: must be later than quiet_start"); say them with the form's labels."""
    for _field, (key, label) in FIELDS.items():
        if error.startswith(key + ":"):
            error = label + error[len(key) :]
        error = re.sub(rf"\b{key}\b", f'"{label}"', error)
    return error


def _plan_field(error: str) -> str:
    """The form field a planner's refusal is about ("quiet_end: ..."), the first one if it names none."""
    key = error.partition(":")[0]
    return next((field for field, (k, _label) in FIELDS.items() if k == key), "reminders")


@bp.get("/groups/<int:group_id>/plan")
@login_required
def plan(group_id: int):
    return _plan_page(group_visible(group_id))


def _preview_days(sends, names, today, page_day: int):
    """The preview one day at a time (each member's own date): [(date, count)] for the 14 days and the
    chosen day's sends, in time order."""
    days = [today + timedelta(days=n) for n in range(PREVIEW_DAYS)]
    by_day = {d: [] for d in days}
    for s in sends:
        by_day.setdefault(s.local_time.date(), []).append(s)
    counts = [(d, len(by_day.get(d, []))) for d in days]
    shown = sorted(
        by_day.get(days[page_day], []),
        key=lambda s: (s.send_at_utc, names.get(s.member_id, s.member_name), s.member_id),
    )
    return counts, shown


def _plan_page(group: Group, form=None, problems=None, status=200, texts_form=None, text_problems=None):
    session = db()
    now = utcnow()
    if texts_form is None:
        texts_form, text_problems = _stored_refusals(session, group)
    settings = current_app.extensions["checkin"].settings
    has_schedule = schedules.get_schedule(session, group.id) is not None
    sends = (
        schedules.preview(
            session, group.id, now, PREVIEW_DAYS, now=now, base_url=settings.public_base_url, written=True
        )
        if has_schedule
        else []
    )
    # The planner knows first names (what texts use); the coordinator needs to tell members apart.
    names = dict(
        session.execute(
            select(Member.id, Member.display_name).where(Member.id.in_({s.member_id for s in sends}))
        ).all()
    )
    try:
        page_day = min(max(int(request.args.get("day", 0)), 0), PREVIEW_DAYS - 1)
    except ValueError:
        page_day = 0
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    # "The next 14 days": today and the 13 after it (the planner's 14 x 24 hours from now reach a 15th).
    sends = [s for s in sends if s.local_time.date() < today + timedelta(days=PREVIEW_DAYS)]
    day_counts, day_sends = _preview_days(sends, names, today, page_day)
    spoken = _spoken(session, group, day_sends, now)
    # What already went out (or is going) says so: "sent", not "will send" (its outbox row, by key).
    written = dict(
        session.execute(
            select(OutboxItem.idempotency_key, OutboxItem.state).where(
                OutboxItem.idempotency_key.in_([s.key for s in day_sends if s.key] or [""])
            )
        ).all()
    )
    shown = schedules.get_plan(session, group.id)
    night = _night(shown)
    nights = (
        night_lines(schedules.night_sends(session, group.id, now), shown.quiet_start, shown.quiet_end)
        if has_schedule
        else []
    )
    return render_template(
        "console/plan.html",
        group=group,
        night=night[0] if night and not problems else None,
        nights=nights if not problems else [],
        form=form or plan_form(shown),
        fields=FIELDS,
        problems=problems,
        editable=is_coordinator(),
        has_schedule=has_schedule,
        names=names,
        day_counts=day_counts,
        page_day=page_day,
        day_sends=day_sends,
        spoken=spoken,
        written=written,
        days=PREVIEW_DAYS,
        count=len(sends),
        held=sum(1 for s in sends if s.held_reason),
        text_sets=texts.text_sets(
            schedules.group_config(session, group.id), schedules.load_config(), group.name, texts_form
        ),
        text_problems=text_problems,
        length=words.text_length,
        kinds=words.SEND_KINDS,
        held_words=words.held_words,
    ), status


def _stored_refusals(session, group: Group):
    """A text saved for the group that is not sent (saved before a rule it breaks, such as saying how to
    stop): shown as saved in its box, with why at the box, since its members get the standard text."""
    stored, refused = schedules.stored_text_problems(session, group.id)
    if not refused:
        return None, None
    problems = forms.Problems()
    for error in refused:
        problems.add(
            f"t-{texts.field_id(error.language, error.key)}",
            f"{words.plain_error(error)} Until it does, members get the standard text.",
            named=True,
        )
    boxes = MultiDict(
        {texts.field_name(lang, key): text for lang, table in stored.items() for key, text in table.items()}
    )
    return boxes, problems.fields


def _spoken(session, group: Group, sends, now) -> dict[str, str]:
    """What a voice member hears once they say it is them, per send key: the call's own opening
    (checkin.voice.flow.opening), the greeting then the reminder (the meeting's day, time and place as
    read aloud) or the check-in question."""
    from checkin.voice import flow, meetings

    voice = [s for s in sends if s.channel == "voice"]
    if not voice:
        return {}
    cfg = current_app.extensions["checkin"].voice
    members = {
        m.id: m for m in session.scalars(select(Member).where(Member.id.in_({s.member_id for s in voice})))
    }
    found: dict[str, object] = {}

    def meeting(key: str):
        if key not in found:
            found[key] = meetings.find(session, group, key, now)
        return found[key]

    out = {}
    for send in voice:
        member = members.get(send.member_id)
        if member is None:
            continue
        lang = member.language
        said = flow.opening(
            cfg, lang, member, group, send.kind, meeting=lambda key=send.occurrence_key: meeting(key)
        )
        words = (cfg.text(key, lang, **values).strip() for key, values in said)
        out[send.key] = " ".join(part for part in words if part)
    return out


def _night(plan):
    """What night_prompt says of the plan's check-in prompt time, when the plan sends check-in prompts."""
    return plan.prompt_days_after and night_prompt(
        plan.prompt_time, plan.quiet_start, plan.quiet_end, plan.prompt_stale_hours
    )


def _text_of(error) -> tuple[str, str] | None:
    """(language, template) of the text a refusal names (the domain's error keeps them), if any."""
    if getattr(error, "language", None) and getattr(error, "key", None):
        return error.language, error.key
    return None


@bp.post("/groups/<int:group_id>/plan")
@coordinator_required
def save_plan(group_id: int):
    group = group_visible(group_id)
    problems, values = _overrides(request.form)
    if not problems:
        try:
            before = plan_form(schedules.get_plan(db(), group.id))
            schedules.set_plan(db(), group.id, **values)
            saved = schedules.get_plan(db(), group.id)
            after = plan_form(saved)
            changed = words.changes(
                {FIELDS[f][1].lower(): v for f, v in before.items()},
                {FIELDS[f][1].lower(): v for f, v in after.items()},
            )
            audit_here(
                "setting_changed", f"group:{group.id} reminder plan saved: " + (changed or "unchanged")
            )
            db().commit()
        except ValidationError as exc:
            db().rollback()
            problems.add(_plan_field(str(exc)), _in_words(str(exc)))
    if problems:
        # Rendered here, not redirected: the page keeps what was typed, and a reload sends it again.
        return _plan_page(group, request.form, problems.fields, 400)
    flash("Plan saved. The preview below shows what it will send.", "ok")
    night = _night(saved)
    if night:
        flash(f"Check-in prompt time: {night[0]}", "warning")
    nights = night_lines(schedules.night_sends(db(), group.id), saved.quiet_start, saved.quiet_end)
    if nights:
        flash(
            f"Sends of this plan that land in members' night: {len(nights)}. The planner holds them, as "
            "listed under the reminders.",
            "warning",
        )
    return redirect(url_for(".plan", group_id=group_id) + "#preview")


@bp.post("/groups/<int:group_id>/plan/defaults")
@coordinator_required
def reset_plan(group_id: int):
    group = group_visible(group_id)
    schedules.set_plan(db(), group.id, **{key: None for key, _label in FIELDS.values()})
    audit_here("setting_changed", f"group:{group.id} reminder plan reset to the defaults")
    db().commit()
    flash("Plan back to the standard settings.", "ok")
    return redirect(url_for(".plan", group_id=group_id) + "#preview")


@bp.post("/groups/<int:group_id>/plan/texts")
@coordinator_required
def save_texts(group_id: int):
    group = group_visible(group_id)
    try:
        schedules.set_templates(db(), group.id, texts.changes(request.form))
        audit_here("setting_changed", f"group:{group.id} message texts saved")
        db().commit()
    except ValidationError as exc:
        db().rollback()
        # Every text refused at once, each at its box, in the page's order; as typed.
        order = {
            (lang, key): n
            for n, (lang, key) in enumerate((lg, k) for lg in LANGUAGE_NAMES for k in texts.LABELS)
        }
        refused = sorted(getattr(exc, "all", [exc]), key=lambda e: order.get(_text_of(e), len(order)))
        problems = forms.Problems()
        for error in refused:
            which = _text_of(error)
            field = f"t-{texts.field_id(*which)}" if which else "texts"
            problems.add(field, words.plain_error(error), named=True)
        return _plan_page(group, texts_form=request.form, text_problems=problems.fields, status=400)
    flash("Texts saved. The preview below uses them.", "ok")
    return redirect(url_for(".plan", group_id=group_id) + "#preview")
