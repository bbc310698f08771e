"""Members: add, edit (phone and groups too, with the history on the member's page), pause, consent.

The list, its filters, the CSV import and the exports are in views_roster."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select, update

from checkin import consent, languages, member_import, timezones, welcome
from checkin.accounts import audit, audit_read
from checkin.db import utcnow
from checkin.directory import ValidationError, add_member
from checkin.models import CHANNELS, ConsentEvent, Member, OutboxItem, StaffUser
from checkin.schedules.service import pause_member, pause_member_until_resumed
from webhooks.console import bp, forms, views_roster, words
from webhooks.console.auth import (
    client_ip,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    login_required,
    member_visible,
    visible_group_ids,
    visible_groups,
)
from webhooks.console.templating import masked_phone
from webhooks.console.views_escalations import EVENT_WORDS
from webhooks.params import record_id

LANGUAGE_NAMES = languages.NAMES
# How a member asked a person to stop their texts (recorded with the opt-out; a choice, so no private words).
OPT_OUT_WAYS = {
    "text": "In a text",
    "call": "On a phone call",
    "in_person": "In person",
    "writing": "In writing or by email",
    "on_their_behalf": "Someone asked on their behalf",
}
# How a member can ask staff to receive messages again: only after an opt-out staff recorded (consent.own_stop).
OPT_IN_WAYS = {k: v for k, v in OPT_OUT_WAYS.items() if k != "on_their_behalf"}
CHANNEL_NAMES = views_roster.CHANNEL_NAMES


@bp.route("/members")
@login_required
def members():
    return views_roster.members_page(request.args)


@bp.post("/members/<int:member_id>/phone")
@login_required
def member_phone(member_id: int):
    """Show one member's number in the list, on purpose: numbers are masked there, and each reveal is audited."""
    member = member_visible(member_id)
    audit(
        db(), "reveal_phone", current_staff().id, member_id=member.id, detail="members list", ip=client_ip()
    )
    db().commit()
    # The form repeats the list's filters, so the list comes back as it was, this one number shown.
    return views_roster.members_page(request.form, revealed={member.id})


FIELDS = ("group_id", "phone", "name", "language", "channel", "timezone", "consent_source", "consent_date")


def _form_values(form) -> dict:
    values = {k: (form.get(k) or "").strip() for k in FIELDS}
    values["group_ids"] = [v for v in form.getlist("group_ids") if v]
    return values


def _form(values: dict, member: Member | None, problems: dict | None = None, status: int = 200):
    return render_template(
        "console/member_form.html",
        values=values,
        problems=problems,
        groups=visible_groups(),
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
        sources=member_import.CONSENT_SOURCES,
        # The picker's last day: today where it is latest (UTC+14); the member's own today is checked on save.
        today=(utcnow() + timedelta(hours=14)).date().isoformat(),
        earliest=member_import.EARLIEST_CONSENT.isoformat(),
        member=member,
    ), status


def _consent(problems, values: dict, fallback_zone: str) -> tuple[str | None, date | None]:
    """The consent source and date a form gave (both optional); a mistake is kept for its field. The
    date may be today where the member lives (their zone as typed, else `fallback_zone`, the group's):
    today in UTC is tomorrow for an evening in Hawaii's and yesterday for a morning in Auckland."""
    source = values["consent_source"] or None
    if source and len(source) > member_import.CONSENT_SOURCE_MAX:
        problems.add(
            "consent_source", f"How they agreed can be at most {member_import.CONSENT_SOURCE_MAX} characters."
        )
    day = None
    if values["consent_date"]:
        try:
            zone = values["timezone"] if "timezone" not in problems.fields and values["timezone"] else None
            zone = zone or fallback_zone
            day = member_import.parse_date(
                values["consent_date"], utcnow().astimezone(ZoneInfo(zone)).date(), words.zone_name(zone)
            )
        except ValidationError as exc:
            # Named in the summary too, as the field's label says it ("When they agreed: '1890-05-01' ...").
            problems.add(
                "consent_date", "When they agreed: " + str(exc).replace("consent_date ", ""), named=True
            )
    return source, day


def _read_phone(problems, raw: str, member_id: int | None) -> str | None:
    phone = problems.phone("phone", raw)
    if phone is None:
        return None
    other = db().scalar(select(Member).where(Member.phone == phone, Member.id != (member_id or 0)))
    if other is not None:
        # Masked and unnamed, as numbers are everywhere else in the console: whoever types a number
        # must not learn whose it is, nor see it whole.
        problems.add(
            "phone",
            f"The number {masked_phone(phone)} already belongs to another member; "
            "two members cannot share a number (replies could not tell them apart).",
        )
    return phone


def _read_common(problems, values: dict) -> str | None:
    """Name, language, channel and time zone, as the add and edit forms share them; mistakes kept."""
    name = problems.check(
        "name", forms.name, values["name"], max_len=80, what="the member's first name or alias"
    )
    language = problems.check("language", languages.code, values["language"])
    if language:
        values["language"] = language
    if values["channel"] not in CHANNELS:
        problems.add("channel", "Choose how to reach them from the list.")
    if values["timezone"]:
        zone = problems.check("timezone", timezones.resolve, values["timezone"])
        if zone:
            values["timezone"] = zone
    return name


@bp.route("/members/new", methods=["GET", "POST"])
@coordinator_required
def member_new():
    if request.method == "GET":
        return _form(
            {"language": "en", "channel": "sms", "group_id": request.args.get("group", ""), "welcome": True},
            None,
        )
    values = _form_values(request.form)
    values["name"] = request.form.get("name") or ""  # spaces kept, to say a name can't be only spaces
    values["welcome"] = bool(request.form.get("welcome"))
    session = db()
    problems = forms.Problems()
    group = None
    group_id = record_id(values["group_id"])
    if group_id is None or group_id not in {g.id for g in visible_groups()}:
        problems.add("group_id", "Choose a group.")
    else:
        group = group_visible(group_id)
    phone = _read_phone(problems, values["phone"], None)
    name = _read_common(problems, values)
    source, day = _consent(problems, values, group.timezone if group else "UTC")
    if problems:
        values["name"] = values["name"].strip() or values["name"]
        return _form(values, None, problems.fields, 400)
    member = add_member(
        session,
        group.name,
        phone,
        name,
        values["language"],
        values["timezone"] or None,
        values["channel"],
        consent_source=f"staff:{current_staff().id}",
    )
    member.consent_source, member.consent_date = source, day
    audit(session, "member_added", current_staff().id, member_id=member.id, ip=client_ip())
    welcomed = values["welcome"] and welcome.queue(session, member, group, utcnow()) is not None
    stopped = consent.added_opted_out(session, member)
    session.commit()
    flash(
        f"{member.display_name} added."
        + (" A welcome text goes to them in their daytime." if welcomed else ""),
        "ok",
    )
    if stopped:
        flash(
            f"{member.display_name} was added opted out: "
            + words.earlier_stop(*stopped, member.effective_timezone)
            + ". Nothing automated is sent to them (no welcome text) until they text START.",
            "warning",
        )
    if source is None and day is None:
        flash(
            f"How and when {member.display_name} agreed to receive texts is not recorded. "
            "Add it with Edit (how they agreed, and when) so the record shows their consent.",
            "warning",
        )
    for warning in member_import.name_warnings(member.display_name):
        flash(f"Check the name: {warning}", "warning")
    return redirect(url_for("console.member", member_id=member.id))


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@coordinator_required
def member_edit(member_id: int):
    member = member_visible(member_id)
    if member.erased_at:
        abort(409, "this member was erased: there is nothing to edit")
    if request.method == "GET":
        values = {
            "name": member.display_name,
            "phone": member.phone,
            "language": member.language,
            "channel": member.channel,
            "timezone": member.timezone or "",
            "consent_source": member.consent_source or "",
            "consent_date": member.consent_date.isoformat() if member.consent_date else "",
            "group_ids": [str(g.id) for g in member.groups],
        }
        return _form(values, member)
    values = _form_values(request.form)
    values["name"] = request.form.get("name") or ""
    session = db()
    problems = forms.Problems()
    phone = member.phone
    if "phone" in request.form:
        phone = _read_phone(problems, values["phone"], member.id)
    name = _read_common(problems, values)
    groups = list(member.groups)
    if "groups" in request.form:  # the form's marker that the group boxes were on it
        wanted = {record_id(v) for v in values["group_ids"]} - {None}
        if not wanted:
            problems.add("groups", "Keep the member in at least one group.")
        groups = [group_visible(g) for g in sorted(wanted)]
    source, day = (
        _consent(problems, values, member.zone_in(groups[0] if groups else None))
        if "consent_source" in request.form
        else (member.consent_source, member.consent_date)
    )
    if problems:
        return _form(values, member, problems.fields, 400)
    changed = [
        f
        for f, old, new in (
            ("name", member.display_name, name),
            ("language", member.language, values["language"]),
            ("channel", member.channel, values["channel"]),
            ("timezone", member.timezone or "", values["timezone"]),
            ("phone", member.phone, phone),
            ("consent_source", member.consent_source, source),
            ("consent_date", member.consent_date, day),
        )
        if old != new
    ]
    before = {g.id for g in member.groups}
    after = {g.id for g in groups}
    changed += [f"group+{g}" for g in sorted(after - before)] + [f"group-{g}" for g in sorted(before - after)]
    moved = 0
    if "phone" in changed:
        # What is queued for the member goes to their new number, never to whoever has the old one now.
        moved = (
            session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.member_id == member.id,
                    OutboxItem.state == "pending",
                    OutboxItem.to_number == member.phone,
                )
                .values(to_number=phone)
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )
    member.display_name, member.language, member.channel = name, values["language"], values["channel"]
    member.timezone = values["timezone"] or None
    member.phone = phone
    member.consent_source, member.consent_date = source, day
    if after != before:
        member.groups = groups
    audit(
        session,
        "member_edited",
        current_staff().id,
        member_id=member.id,
        detail=",".join(changed) or "no change",
        ip=client_ip(),
    )
    session.commit()
    flash(
        "Saved."
        + (
            f" {moved} {'message' if moved == 1 else 'messages'} queued for the old number will go to the new one."
            if moved
            else ""
        ),
        "ok",
    )
    if "name" in changed:
        for warning in member_import.name_warnings(member.display_name):
            flash(f"Check the name: {warning}", "warning")
    return redirect(url_for("console.member", member_id=member.id))


@bp.route("/members/<int:member_id>/pause", methods=["POST"])
@coordinator_required
def member_pause(member_id: int):
    member = member_visible(member_id)
    action = request.form.get("action")
    # As the planner reads it: a date holds sends through that day in the member's zone, then they
    # resume by themselves (schedules.pause_member, as `checkin schedule pause` does); no date sets
    # status "paused", which holds every send until resumed. Replies and crisis help never pause.
    if action == "resume":
        pause_member(db(), member.phone, None)
        detail = "resumed"
    elif action == "pause":
        if member.opted_out:
            abort(400, "this member has opted out; nothing is sent to them, so there is nothing to pause")
        until = (request.form.get("until") or "").strip()
        if until:
            try:
                day = datetime.strptime(until, "%Y-%m-%d").date()  # noqa: DTZ007 - only the date is kept
            except ValueError:
                abort(400, "Pause messages until: must be a date like 2026-03-31")
            if day < utcnow().astimezone(ZoneInfo(member.effective_timezone)).date():
                abort(400, "Pause messages until: must be today or later")
            pause_member(db(), member.phone, day)
            detail = f"paused through {until}"
        else:
            pause_member_until_resumed(db(), member.phone)
            detail = "paused"
    else:
        abort(400, "action must be pause or resume")
    audit(db(), "member_edited", current_staff().id, member_id=member.id, detail=detail, ip=client_ip())
    db().commit()
    flash("Messages paused." if action == "pause" else "Messages resumed.", "ok")
    return redirect(url_for("console.member", member_id=member.id))


@bp.route("/members/<int:member_id>/consent", methods=["POST"])
@coordinator_required
def member_consent(member_id: int):
    member = member_visible(member_id)
    kind = request.form.get("kind")
    staff = current_staff()
    source = f"staff:{staff.id}"
    detail = kind
    if kind == "opt_out":
        how = request.form.get("how") or ""
        if how not in OPT_OUT_WAYS or request.form.get("confirm") != "yes":
            flash(
                "The opt-out was not recorded: choose how they asked to stop, and tick the box confirming "
                "they asked.",
                "error",
            )
            return redirect(url_for("console.member", member_id=member.id) + "#opt-out")
        consent.opt_out(db(), member, source=source)
        detail = f"opt_out:{how}"
        message = (
            f"{member.display_name} is opted out: nothing will be texted to them, staff replies included, "
            "until they text START."
        )
    elif kind == "opt_in":
        if consent.own_stop(db(), member) is not None:  # only their START lifts their STOP
            abort(409, "They texted STOP: only they can undo that, by texting START. Nothing was recorded.")
        how = request.form.get("how") or ""
        asked = (request.form.get("asked_on") or "").strip()
        if how not in OPT_IN_WAYS or not asked or request.form.get("confirm") != "yes":
            abort(400, "say how and when the member asked to receive messages again, and tick the box")
        try:
            asked_on = datetime.strptime(asked, "%Y-%m-%d").date()  # noqa: DTZ007 - only the date is kept
        except ValueError:
            abort(400, "When did they ask: must be a date like 2026-03-31")
        today = utcnow().astimezone(ZoneInfo(member.effective_timezone)).date()
        try:
            consent.staff_opt_in(
                db(),
                member,
                source=source,
                how=f"Asked again {OPT_IN_WAYS[how].lower()}",
                asked_on=asked_on,
                today=today,
            )
        except consent.OptInRefused as refused:
            abort(400, f"The opt-in was not recorded: {refused}.")
        detail = f"opt_in:{how}:{asked_on.isoformat()}"
        message = f"{member.display_name} is opted in again."
    else:
        abort(400, "kind must be opt_in or opt_out")
    audit(db(), "consent", staff.id, member_id=member.id, detail=detail, ip=client_ip())
    db().commit()
    flash(message, "ok")
    return redirect(url_for("console.member", member_id=member.id))


# --- one member ----------------------------------------------------------------------------------


@bp.route("/members/<int:member_id>")
@login_required
def member(member_id: int):
    from webhooks.console import timeline

    member = member_visible(member_id)
    ids = visible_group_ids()
    scope = timeline.scope_for(member, ids, current_app.extensions["checkin"].settings.twilio_from_number)
    data = timeline.for_member(db(), member, scope)
    shown = "all groups" if scope is None else "group:" + ",".join(str(i) for i in sorted(scope.group_ids))
    newest = max((m.id for m in data.messages), default=None)
    audit_read(  # once an hour per person for what the page showed: a new message is a new row
        db(),
        "view_messages",
        current_staff().id,
        member_id=member.id,
        detail=f"timeline ({shown}): {len(data.messages)} message(s)"
        + (f", newest message #{newest}" if newest else ""),
        ip=client_ip(),
    )
    db().commit()
    consent_events = list(
        db().scalars(
            select(ConsentEvent).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id)
        )
    )
    staff_names = dict(db().execute(select(StaffUser.id, StaffUser.name)).all())
    stopped = consent.added_opted_out(db(), member)
    paused = member.status == "paused" or (member.paused_until is not None and member.paused_until > utcnow())
    # paused_until is the first moment sends resume; people think in the last paused day.
    paused_through = (member.paused_until - timedelta(microseconds=1)) if member.paused_until else None
    today = (
        utcnow().astimezone(ZoneInfo(member.effective_timezone)).date()
    )  # the earliest day a pause can run to
    return render_template(
        "console/member.html",
        history=_history(member, staff_names),
        member=member,
        member_groups=[g for g in member.groups if ids is None or g.id in ids],
        t=data,
        consent_events=consent_events,
        stopped_before=words.earlier_stop(*stopped, member.effective_timezone) if stopped else None,
        own_stop=consent.own_stop(db(), member) if member.opted_out else None,
        group_number=_group_number(member),
        opt_in_ways=OPT_IN_WAYS,
        opted_out_on=next(
            (
                e.created_at.astimezone(ZoneInfo(member.effective_timezone)).date()
                for e in reversed(consent_events)
                if e.kind == "opt_out"
            ),
            None,
        ),
        paused=paused,
        paused_through=paused_through,
        today=today,
        staff_names=staff_names,
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
        words=EVENT_WORDS,
        opt_out_ways=OPT_OUT_WAYS,
        live_member=member.id,
    )


def _group_number(member: Member) -> str:
    """The number the member texts START to: their group's own, else the service's."""
    own = next((g.phone_number for g in member.groups if g.phone_number), None)
    return own or current_app.extensions["checkin"].settings.twilio_from_number or "the group's number"


HISTORY_ACTIONS = ("member_added", "member_edited", "member_erased", "consent")
FIELD_WORDS = words.MEMBER_FIELDS  # the audit log's wording for a member's fields, in one place


def when_words(at: datetime, zone: str) -> str:
    """'Dec 3, 2:14 pm': a date and a 12-hour clock, as people say them."""
    local = at.astimezone(ZoneInfo(zone))
    hour = local.hour % 12 or 12
    return f"{local:%b} {local.day}, {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


def _history(member: Member, staff_names: dict[int, str]) -> list[str]:
    """The member's changes from the audit log, in words: "phone changed by Casey on Dec 3, 2:14 pm New
    York time"."""
    from checkin.accounts.models import AuditEvent
    from checkin.models import Group

    events = db().scalars(
        select(AuditEvent)
        .where(AuditEvent.member_id == member.id, AuditEvent.action.in_(HISTORY_ACTIONS))
        .order_by(AuditEvent.seq.desc())
        .limit(50)
    )
    group_names = dict(db().execute(select(Group.id, Group.name)).all())
    zone = member.effective_timezone
    lines = []
    for e in events:
        who = staff_names.get(e.staff_id, "staff") if e.staff_id else "the system"
        detail = e.detail or ""
        by_import = detail.startswith("import:")
        detail = detail.removeprefix("import:")
        if e.action == "member_added":
            what = "added"
        elif e.action == "member_erased":
            what = "erased"
        elif e.action == "consent":
            kind, _, how = detail.partition(":")
            what = {"opt_in": "opt-in recorded", "opt_out": "opt-out recorded"}.get(kind, "consent recorded")
            how, _, on = how.partition(":")
            if how in OPT_OUT_WAYS:
                what += f" (they asked: {OPT_OUT_WAYS[how].lower()}" + (f", on {on})" if on else ")")
        elif detail.startswith(("paused", "resumed")):
            what = "messages " + detail
        elif detail == "no change":
            continue
        else:
            fields, moves = [], []
            for part in detail.split(","):
                if part.startswith(("group+", "group-")) and part[6:].isdigit():
                    name = group_names.get(int(part[6:]), f"group #{part[6:]}")
                    moves.append(("added to " if part[5] == "+" else "removed from ") + name)
                elif part:
                    fields.append(FIELD_WORDS.get(part, part.replace("_", " ")))
            said = []
            if fields:
                said.append(", ".join(fields) + " changed")
            said += moves
            what = "; ".join(said) or "edited"
        how = f"{who}'s CSV import" if by_import else who
        # The zone is named: the member's, which need not be the reader's ("opted out ... New York time").
        lines.append(
            f"{what[0].upper()}{what[1:]} by {how} on {when_words(e.at, zone)} {words.zone_name(zone)}"
        )
    return lines
