"""A member's data: their copy (a download) and their erasure (typed confirmation). Coordinators only."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for

from checkin.errors import ValidationError
from checkin.member_data import erase, export, provider
from webhooks.console import bp
from webhooks.console.auth import client_ip, coordinator_required, current_staff, db, member_visible

# Twilio deletions done inside the request; more (a member with years of texts) wait for the hourly duty.
DELETIONS_IN_REQUEST = 200


@bp.route("/members/<int:member_id>/export", methods=["POST"])
@coordinator_required
def member_export(member_id: int):
    member = member_visible(member_id)
    fmt = request.form.get("format", "json")
    if fmt not in export.FORMATS:
        abort(400, f"format must be one of {', '.join(export.FORMATS)}")
    content, name = export.export(db(), member, fmt, by=current_staff(), via="console", ip=client_ip())
    db().commit()
    mimetype = "application/json" if fmt == "json" else "application/zip"
    return Response(
        content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.route("/members/<int:member_id>/erase", methods=["POST"])
@coordinator_required
def member_erase(member_id: int):
    member = member_visible(member_id)
    if member.erased_at is not None:
        abort(400, f"member {member.id} was erased already")
    typed = " ".join((request.form.get("confirm_name") or "").split())
    if typed != " ".join(member.display_name.split()):
        abort(
            400, f"to erase this member, type their name exactly as shown ({member.display_name}) in the box"
        )
    try:
        done = erase.erase(db(), member, by=current_staff(), via="console", ip=client_ip())
    except ValidationError as exc:
        db().rollback()
        abort(400, str(exc))
    db().commit()
    runtime = current_app.extensions["checkin"]
    twilio = provider.run_pending(
        runtime.db, runtime.provider_data, member_id=done.member_id, limit=DELETIONS_IN_REQUEST
    )
    flash(f"Erased: this member is now {done.alias}. {done.summary()}. {twilio.summary()}.", "ok")
    return redirect(url_for("console.member", member_id=done.member_id))
