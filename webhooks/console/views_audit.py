"""The audit log for coordinators: who signed in, who saw whose messages, who changed what."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.models import Member, StaffUser
from webhooks.console import bp
from webhooks.console.auth import coordinator_required, db
from webhooks.params import optional_id

LIMIT = 300


@bp.route("/audit")
@coordinator_required
def audit_log():
    member_id = optional_id("member", request.args.get("member"), "a member id")
    query = (
        select(AuditEvent, StaffUser.name, Member.display_name)
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .outerjoin(Member, Member.id == AuditEvent.member_id)
        .order_by(AuditEvent.id.desc())
        .limit(LIMIT)
    )
    member = None
    if member_id:
        member = db().get(Member, member_id)
        if member is None:
            abort(404, "no such member")
        query = query.where(AuditEvent.member_id == member.id)
    return render_template("console/audit.html", rows=db().execute(query).all(), member=member, limit=LIMIT)
