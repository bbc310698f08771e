"""Members: list per group, add, edit, pause, language and channel, consent record, CSV import."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from checkin import consent, languages, member_import, timezones
from checkin.accounts import audit
from checkin.db import utcnow
from checkin.directory import ValidationError, add_member
from checkin.models import CHANNELS, ConsentEvent, GroupMember, Member, StaffUser
from checkin.schedules.service import pause_member, pause_member_until_resumed
from webhooks.console import bp, imports
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
from webhooks.console.views_escalations import EVENT_WORDS
from webhooks.params import optional_id, record_id

IMPORT_MAX_BYTES = 5 * 1024 * 1024
LANGUAGE_NAMES = languages.NAMES
CHANNEL_NAMES = {"sms": "Text messages", "voice": "Phone calls"}


@bp.route("/members")
@login_required
def members():
    return _members_page(request.args.get("group", ""))


@bp.post("/members/<int:member_id>/phone")
@login_required
def member_phone(member_id: int):
    """Show one member's number in the list, on purpose: numbers are masked there, and each reveal is audited."""
    member = member_visible(member_id)
    audit(
        db(), "reveal_phone", current_staff().id, member_id=member.id, detail="members list", ip=client_ip()
    )
    db().commit()
    return _members_page(request.form.get("group", ""), revealed={member.id})


def _members_page(chosen: str, revealed: frozenset[int] | set[int] = frozenset()):
    groups = visible_groups()
    if chosen:
        groups = [group_visible(optional_id("group", chosen, "a group id"))]
    rows = (
        db()
        .execute(
            select(GroupMember.group_id, Member)
            .join(Member, Member.id == GroupMember.member_id)
            .where(GroupMember.group_id.in_([g.id for g in groups] or [-1]))
            .order_by(Member.display_name)
        )
        .all()
    )
    by_group = {g.id: [] for g in groups}
    for group_id, member in rows:
        by_group[group_id].append(member)
    return render_template(
        "console/members.html",
        groups=groups,
        by_group=by_group,
        chosen=chosen,
        revealed=revealed,
        all_groups=visible_groups(),
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
    )


def _form_values(form) -> dict:
    return {
        k: (form.get(k) or "").strip()
        for k in ("group_id", "phone", "name", "language", "channel", "timezone")
    }


@bp.route("/members/new", methods=["GET", "POST"])
@coordinator_required
def member_new():
    values = _form_values(request.form) if request.method == "POST" else {"language": "en", "channel": "sms"}
    if request.method == "POST":
        session = db()
        try:
            group_id = record_id(values["group_id"])
            if group_id is None:
                raise ValidationError("choose a group")
            group = group_visible(group_id)
            member = add_member(
                session,
                group.name,
                values["phone"],
                values["name"],
                values["language"],
                values["timezone"] or None,
                values["channel"],
                consent_source=f"staff:{current_staff().id}",
            )
        except ValidationError as exc:
            session.rollback()
            return render_template(
                "console/member_form.html",
                values=values,
                error=str(exc),
                groups=visible_groups(),
                languages=LANGUAGE_NAMES,
                channels=CHANNEL_NAMES,
                member=None,
            ), 400
        audit(session, "member_added", current_staff().id, member_id=member.id, ip=client_ip())
        session.commit()
        flash(f"{member.display_name} added.", "ok")
        return redirect(url_for("console.member", member_id=member.id))
    return render_template(
        "console/member_form.html",
        values=values,
        error=None,
        groups=visible_groups(),
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
        member=None,
    )


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@coordinator_required
def member_edit(member_id: int):
    member = member_visible(member_id)
    if request.method == "GET":
        values = {
            "name": member.display_name,
            "language": member.language,
            "channel": member.channel,
            "timezone": member.timezone or "",
        }
        return render_template(
            "console/member_form.html",
            values=values,
            error=None,
            member=member,
            languages=LANGUAGE_NAMES,
            channels=CHANNEL_NAMES,
            groups=[],
        )
    values = _form_values(request.form)
    try:
        name = values["name"]
        if not name or len(name) > 80:
            raise ValidationError("name must be 1-80 characters")
        values["language"] = languages.code(values["language"])
        if values["channel"] not in CHANNELS:
            raise ValidationError(f"channel must be one of {', '.join(CHANNELS)}")
        if values["timezone"]:
            values["timezone"] = timezones.resolve(values["timezone"])
    except ValidationError as exc:
        return render_template(
            "console/member_form.html",
            values=values,
            error=str(exc),
            member=member,
            languages=LANGUAGE_NAMES,
            channels=CHANNEL_NAMES,
            groups=[],
        ), 400
    changed = [
        f
        for f, old, new in (
            ("name", member.display_name, name),
            ("language", member.language, values["language"]),
            ("channel", member.channel, values["channel"]),
            ("timezone", member.timezone or "", values["timezone"]),
        )
        if old != new
    ]
    member.display_name, member.language, member.channel = name, values["language"], values["channel"]
    member.timezone = values["timezone"] or None
    audit(
        db(),
        "member_edited",
        current_staff().id,
        member_id=member.id,
        detail=",".join(changed) or "no change",
        ip=client_ip(),
    )
    db().commit()
    flash("Saved.", "ok")
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
    if kind == "opt_out":
        consent.opt_out(db(), member, source=source)
        message = f"{member.display_name} is opted out: nothing automated will be sent to them."
    elif kind == "opt_in":
        if request.form.get("confirm") != "yes":
            abort(400, "tick the box confirming the member asked to receive messages again")
        consent.opt_in(db(), member, source=source)
        message = f"{member.display_name} is opted in again."
    else:
        abort(400, "kind must be opt_in or opt_out")
    audit(db(), "consent", staff.id, member_id=member.id, detail=kind, ip=client_ip())
    db().commit()
    flash(message, "ok")
    return redirect(url_for("console.member", member_id=member.id))


# --- CSV import ----------------------------------------------------------------------------------


@bp.route("/members/import", methods=["GET", "POST"])
@coordinator_required
def members_import():
    if request.method == "GET":
        return render_template("console/import.html", error=None, max_mb=IMPORT_MAX_BYTES // (1024 * 1024))
    upload = request.files.get("file")
    error = None
    if upload is None or not upload.filename:
        error = "Choose a CSV file to import."
    else:
        try:
            rows = member_import.parse(upload.read())
        except ValidationError as exc:
            error = f"{upload.filename}: {exc}"
    if error:
        wants_json = request.accept_mimetypes.best == "application/json"
        if wants_json:
            return jsonify(error=error), 400
        return render_template(
            "console/import.html", error=error, max_mb=IMPORT_MAX_BYTES // (1024 * 1024)
        ), 400
    job_id = imports.start(current_app.extensions["checkin"], rows, current_staff().id, upload.filename)
    status_url = url_for("console.members_import_status", job_id=job_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(
            job=job_id, status_url=status_url, page=url_for("console.members_import_job", job_id=job_id)
        ), 202
    return redirect(url_for("console.members_import_job", job_id=job_id))


def _job(job_id: str) -> dict:
    job = imports.status(current_app.extensions["checkin"], job_id)
    if job is None:
        abort(404, "no such import (imports are kept for an hour)")
    return job


@bp.route("/members/import/<job_id>")
@coordinator_required
def members_import_job(job_id: str):
    return render_template("console/import_job.html", job=_job(job_id), job_id=job_id)


@bp.route("/members/import/<job_id>/status")
@coordinator_required
def members_import_status(job_id: str):
    return jsonify(_job(job_id))


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
    audit(
        db(),
        "view_messages",
        current_staff().id,
        member_id=member.id,
        detail=f"timeline ({shown}): {len(data.messages)} message(s)",
        ip=client_ip(),
    )
    db().commit()
    consent_events = list(
        db().scalars(
            select(ConsentEvent).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id)
        )
    )
    staff_names = dict(db().execute(select(StaffUser.id, StaffUser.name)).all())
    paused = member.status == "paused" or (member.paused_until is not None and member.paused_until > utcnow())
    # paused_until is the first moment sends resume; people think in the last paused day.
    paused_through = (member.paused_until - timedelta(microseconds=1)) if member.paused_until else None
    today = (
        utcnow().astimezone(ZoneInfo(member.effective_timezone)).date()
    )  # the earliest day a pause can run to
    return render_template(
        "console/member.html",
        member=member,
        member_groups=[g for g in member.groups if ids is None or g.id in ids],
        t=data,
        consent_events=consent_events,
        paused=paused,
        paused_through=paused_through,
        today=today,
        staff_names=staff_names,
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
        words=EVENT_WORDS,
        live_member=member.id,
    )
