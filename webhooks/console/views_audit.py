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

PAGE = 100  # rows a page; older and newer pages by id (keyset: a page stays put as rows are added)


@bp.route("/audit")
@coordinator_required
def audit_log():
    member_id = optional_id("member", request.args.get("member"), "a member id")
    before = optional_id("before", request.args.get("before"), "a row number")
    after = optional_id("after", request.args.get("after"), "a row number")
    query = (
        select(AuditEvent, StaffUser.name, Member.display_name)
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .outerjoin(Member, Member.id == AuditEvent.member_id)
    )
    member = None
    if member_id:
        member = db().get(Member, member_id)
        if member is None:
            abort(404, "no such member")
        query = query.where(AuditEvent.member_id == member.id)
    if after is None:
        return _newest_first(query, member, before)
    # The page just newer than row `after`: the PAGE rows above it, shown newest first.
    rows = db().execute(query.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(PAGE + 1)).all()
    if not rows:  # nothing newer (any more): the newest page
        return _newest_first(query, member, None)
    newer, rows = len(rows) > PAGE, rows[:PAGE][::-1]
    return _render(rows, member, older=_exists(member, AuditEvent.id <= after), newer=newer)


def _exists(member, condition):
    query = select(AuditEvent.id).where(condition).limit(1)
    if member is not None:
        query = query.where(AuditEvent.member_id == member.id)
    return db().scalar(query) is not None


def _newest_first(query, member, before: int | None):
    """The newest PAGE rows (older than row `before`, if given), newest first."""
    if before:
        query = query.where(AuditEvent.id < before)
    rows = db().execute(query.order_by(AuditEvent.id.desc()).limit(PAGE + 1)).all()
    older, rows = len(rows) > PAGE, rows[:PAGE]
    newer = bool(before) and _exists(member, AuditEvent.id >= before)
    return _render(rows, member, older=older, newer=newer)


def _render(rows, member, *, older: bool, newer: bool):
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
        "console/audit.html",
        rows=shown,
        member=member,
        page=PAGE,
        older=rows[-1][0].id if rows and older else None,
        newer=rows[0][0].id if rows and newer else None,
        first_page=not newer,
        zone=words.zone_name(tz),
    )
