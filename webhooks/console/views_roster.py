"""Rosters that stay current: the members list's search and filters, the CSV import in update mode
(dry run, then apply), its template, and the CSV exports of members and of a group's check-ins."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge, ServiceUnavailable

from checkin import languages, member_import, roster
from checkin.accounts import audit
from checkin.db import utcnow
from checkin.directory import ValidationError
from checkin.models import MEMBER_STATUSES
from webhooks.console import bp, imports
from webhooks.console.auth import (
    client_ip,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    visible_groups,
)
from webhooks.params import optional_id

log = logging.getLogger("checkin.console.roster")

IMPORT_MAX_BYTES = 5 * 1024 * 1024
LANGUAGE_NAMES = languages.NAMES
CHANNEL_NAMES = {"sms": "Text messages", "voice": "Phone calls"}
STATUS_NAMES = {"active": "active", "paused": "paused", "opted_out": "opted out"}
FIELD_NAMES = {
    "name": "Name",
    "language": "Language",
    "channel": "Reach by",
    "timezone": "Time zone",
    "consent_source": "Consent source",
    "consent_date": "Consent date",
    "group": "Groups",
}
CHECKIN_PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}


# --- the members list --------------------------------------------------------------------------------


def filters_from(args) -> roster.Filters:
    """The list's filters from GET (or an export form's) parameters; 400 naming a bad one."""
    quiet = args.get("quiet", "")
    if quiet and (not quiet.isdigit() or int(quiet) not in roster.QUIET_DAYS):
        abort(400, f"No check-in for: choose {', '.join(map(str, roster.QUIET_DAYS))} days")
    status = args.get("status", "")
    if status and status not in MEMBER_STATUSES:
        abort(400, f"Status must be one of {', '.join(STATUS_NAMES.values())}")
    trend, missed = args.get("trend", ""), args.get("missed", "")
    if trend and trend != "falling":  # a filter that is not one of the list's is refused, not ignored
        abort(400, "Mood: the only filter is 'falling' (trend=falling)")
    if missed and missed != str(roster.MISSED_RUN):
        abort(
            400,
            f"Missed check-ins: the filter is {roster.MISSED_RUN} or more in a row (missed={roster.MISSED_RUN})",
        )
    if len(args.getlist("group")) > 1:
        abort(400, "Group: choose one group")
    group_id = optional_id("group", args.get("group", ""), "a group id")
    if group_id is not None:
        group_visible(group_id)  # 404 for a group this staff member does not see
    return roster.Filters(
        q=(args.get("q") or "").strip()[:80],
        group_id=group_id,
        quiet_days=int(quiet) if quiet else None,
        falling=trend == "falling",
        missed=missed == str(roster.MISSED_RUN),
        status=status,
    )


def members_page(args, revealed=frozenset()):
    filters = filters_from(args)
    groups = visible_groups()
    shown = [g for g in groups if filters.group_id in (None, g.id)]
    rows = roster.find(db(), [g.id for g in shown], filters, utcnow())
    by_group = {g.id: [] for g in shown}
    for row in rows:
        by_group[row.group_id].append(row)
    if filters.active:  # a filtered view lists the groups with someone in them
        shown = [g for g in shown if by_group[g.id]] or shown
    params = {
        k: v for k, v in args.items() if k in ("q", "group", "quiet", "trend", "missed", "status") and v
    }
    return render_template(
        "console/members.html",
        groups=shown,
        by_group=by_group,
        chosen=args.get("group", ""),
        filters=filters,
        params=params,
        found=len(rows),
        revealed=revealed,
        all_groups=groups,
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
        statuses=STATUS_NAMES,
        quiet_days=roster.QUIET_DAYS,
        missed_run=roster.MISSED_RUN,
        periods=CHECKIN_PERIODS,
    )


# --- exports ---------------------------------------------------------------------------------------


def file_part(name: str) -> str:
    """A group's name as part of a file name: "Tuesday Group" -> "Tuesday-Group" (ASCII letters and
    digits; accents dropped, so every browser saves it as named)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-")[:60] or "group"


def _csv(data: bytes, filename: str) -> Response:
    return Response(
        data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.post("/members/export")
@coordinator_required
def members_export():
    """The members of the list as filtered (the form repeats the page's filters), as CSV."""
    filters = filters_from(request.form)
    groups = {g.id: g for g in visible_groups()}
    ids = [g for g in groups if filters.group_id in (None, g)]
    rows = roster.find(db(), ids, filters, utcnow())
    data = roster.members_csv(
        rows, groups, lambda r: ZoneInfo(r.member.timezone or groups[r.group_id].timezone)
    )
    audit(
        db(),
        "export",
        current_staff().id,
        detail=f"members CSV: {len(rows)} row(s); {filters.describe()}",
        ip=client_ip(),
    )
    db().commit()
    stamp = utcnow().strftime("%Y-%m-%d")
    named = f"-{file_part(groups[filters.group_id].name)}" if filters.group_id in groups else ""
    return _csv(data, f"members{named}-{stamp}.csv")


@bp.post("/members/checkins-export")
@coordinator_required
def checkins_export():
    """A group's check-in history as CSV: when asked and answered (group's clock), how, the score, and
    the members' words only when the box was ticked."""
    group_id = optional_id("group", request.form.get("group", ""), "a group id")
    if group_id is None:
        abort(400, "Check-in history: choose a group")
    group = group_visible(group_id)
    period = request.form.get("period", "90")
    if period not in CHECKIN_PERIODS:
        abort(400, "Check-in history: choose a period")
    days = CHECKIN_PERIODS[period]
    if request.form.get("words", "yes") != "yes":
        abort(400, "Words: tick the box to include what members wrote, or leave it empty")
    words = request.form.get("words") == "yes"
    found = roster.checkins(db(), group.id, utcnow() - timedelta(days=days) if days else None)
    data = roster.checkins_csv(found, ZoneInfo(group.timezone), words=words)
    audit(
        db(),
        "export",
        current_staff().id,
        detail=(
            f"check-ins CSV group:{group.id}: {len(found)} row(s), "
            f"{'last ' + str(days) + ' days' if days else 'all time'}{', with words' if words else ''}"
        ),
        ip=client_ip(),
    )
    db().commit()
    return _csv(data, f"checkins-{file_part(group.name)}-{utcnow().strftime('%Y-%m-%d')}.csv")


# --- CSV import: template, upload, dry run, apply ---------------------------------------------------


def _import_page(error: str | None, status: int = 200):
    return render_template(
        "console/import.html",
        error=error,
        max_mb=IMPORT_MAX_BYTES // (1024 * 1024),
        required=member_import.REQUIRED,
        optional=member_import.OPTIONAL,
        example=member_import.TEMPLATE_EXAMPLE,
        sources=member_import.CONSENT_SOURCES,
    ), status


@bp.get("/members/import/template.csv")
@coordinator_required
def members_import_template():
    groups = visible_groups()  # the example row names one of the coordinator's own groups
    return _csv(member_import.template_csv(groups[0].name if groups else None), "members-template.csv")


@bp.route("/members/import", methods=["GET", "POST"])
@coordinator_required
def members_import():
    if request.method == "GET":
        return _import_page(None)
    wants_json = request.accept_mimetypes.best == "application/json"
    error = None
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        upload, error = None, _too_big()
    if error:
        pass
    elif upload is None or not upload.filename:
        error = "Choose a CSV file to import."
    else:
        data = upload.read()
        if len(data) > IMPORT_MAX_BYTES:
            error = _too_big()
        else:
            try:
                rows = member_import.parse(data)
            except ValidationError as exc:
                error = f"{upload.filename}: {exc}"
    if error:
        if wants_json:
            return jsonify(error=error), 400
        return _import_page(error, 400)
    job_id = imports.start(
        current_app.extensions["checkin"], data, rows, current_staff().id, upload.filename, utcnow().date()
    )
    status_url = url_for("console.members_import_status", job_id=job_id)
    page = url_for("console.members_import_job", job_id=job_id)
    if wants_json:
        return jsonify(job=job_id, status_url=status_url, page=page), 202
    return redirect(page)


def _too_big() -> str:
    return (
        f"This file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: split it into smaller files "
        "(up to 20,000 members each)."
    )


@bp.errorhandler(413)
def _upload_too_large(exc):
    """An upload over the import's limit, refused by Werkzeug (reading the form's CSRF token): in words."""
    if request.endpoint != "console.members_import":
        from webhooks.console.views_auth import _http_error

        return _http_error(exc)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=_too_big()), 413
    return _import_page(_too_big(), 413)


@bp.errorhandler(RedisError)
def _redis_unreachable(exc):
    """Redis not answering: an import keeps its dry run there (webhooks.console.imports), so the upload,
    its report and Apply say so in words (503), not "Internal Server Error"; any other console page
    that needs Redis too. Logged with the page and the error's class only."""
    log.error("console %s: Redis unreachable (%s)", request.endpoint, type(exc).__name__)
    if not (request.endpoint or "").startswith("console.members_import"):
        from webhooks.console.views_auth import error_page

        return error_page(
            ServiceUnavailable("This needs Redis, which is not answering right now. Try again in a minute.")
        )
    reason = (
        "Imports keep their dry run in Redis, which is not answering right now: nothing was imported. "
        "Try again in a minute."
    )
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=reason), 503
    return _import_page(reason, 503)


def _job(job_id: str) -> dict:
    job = imports.status(current_app.extensions["checkin"], job_id)
    if job is None or job["staff_id"] != current_staff().id:
        abort(404, "no such import (a dry run is kept for an hour, for the coordinator who uploaded it)")
    return job


@bp.route("/members/import/<job_id>")
@coordinator_required
def members_import_job(job_id: str):
    job = _job(job_id)
    plan = imports.report(current_app.extensions["checkin"], job_id) if job["state"] == "planned" else None
    return _job_page(job_id, job, plan)


def _job_page(job_id, job, plan, *, changed=False, refused=None, status=200):
    return render_template(
        "console/import_job.html",
        job=job,
        job_id=job_id,
        plan=plan,
        changed=changed,
        refused=refused,
        field_names=FIELD_NAMES,
        languages=LANGUAGE_NAMES,
        channels=CHANNEL_NAMES,
    ), status


@bp.route("/members/import/<job_id>/status")
@coordinator_required
def members_import_status(job_id: str):
    job = _job(job_id)
    job.pop("token", None)
    return jsonify(job)


@bp.post("/members/import/<job_id>/apply")
@coordinator_required
def members_import_apply(job_id: str):
    runtime = current_app.extensions["checkin"]
    _job(job_id)
    try:
        _applied, new_plan = imports.apply(
            runtime, db(), job_id, request.form.get("token", ""), current_staff().id, client_ip()
        )
    except imports.ApplyRefused as exc:
        job = _job(job_id)
        plan = imports.report(runtime, job_id) if job["state"] == "planned" else None
        return _job_page(job_id, job, plan, refused=str(exc), status=409)
    if new_plan is not None:
        return _job_page(job_id, _job(job_id), new_plan, changed=True, status=409)
    return redirect(url_for("console.members_import_job", job_id=job_id))
