"""The audit log for coordinators: who signed in, who saw whose messages, who changed what."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.models import Group, Member, StaffUser
from webhooks.console import bp, words
from webhooks.console.auth import coordinator_required, db
from webhooks.console.templating import viewer_zone
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
    rows = db().execute(query).all()
    groups = {g.id: g for g in db().scalars(select(Group))}
    staff = dict(db().execute(select(StaffUser.id, StaffUser.name)).all())
    tz = viewer_zone()
    group_names = {gid: g.name for gid, g in groups.items()}
    shown = [
        (
            e,
            words.audit_sentence(e, staff_name, member_name, group_names, staff),
            f"{words.when(e.at, tz, zone=False)} {words.zone_name(tz)}",  # each row says its zone
        )
        for e, staff_name, member_name in rows
    ]
    return render_template(
        "console/audit.html", rows=shown, member=member, limit=LIMIT, zone=words.zone_name(tz)
    )
