"""The audit log for coordinators: who signed in, who saw whose messages, who changed what.

Filters are query parameters (bookmarkable, kept by the pager): `member`, `group` (rows about the group:
its settings, its members now, its cases) and `kind` (a family of actions, KINDS)."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import or_, select

from checkin.accounts.models import AuditEvent
from checkin.escalation.models import Escalation
from checkin.models import Group, GroupMember, Member, StaffUser
from webhooks.console import bp, words
from webhooks.console.auth import coordinator_required, db
from webhooks.console.templating import viewer_zone
from webhooks.params import optional_id

PAGE = 100  # rows a page; older and newer pages by id (keyset: a page stays put as rows are added)

# What a coordinator looks for, as families of actions (every action in AUDIT_ACTIONS is in one).
KINDS = {
    "reads": ("Reads of a member's record", ("view_member", "view_messages", "view_escalation",
              "view_paged_case", "reveal_phone")),
    "members": ("Members added, changed or erased", ("member_added", "member_edited", "consent", "import",
                "member_erased", "erase")),
    "exports": ("Exports and downloads", ("member_export", "export", "report_export")),
    "cases": ("Cases, inbox and replies", ("case_taken", "case_resolved", "inbox_take", "inbox_done", "reply",
              "reply_refused", "canned_replies")),
    "settings": ("Groups, plans and texts", ("setting_changed", "escalation_policy")),
    "staff": ("Staff and rota", ("staff_added", "staff_removed", "staff_edited", "on_call", "invite_sent",
              "invite_texted", "invite_revoked")),
    "signins": ("Sign-ins and accounts", ("signin", "signin_failed", "signout", "password_reset",
                "password_changed", "invite_used", "signin_password", "signin_code_failed", "2fa_on",
                "2fa_off", "2fa_reset", "recovery_codes_new")),
    "simulator": ("Simulator runs", ("simulate",)),
    "announcements": ("Announcements", ("announce",)),
    "commands": ("Commands and retention", ("cli", "retention")),
}  # fmt: skip
_KINDS_NAMED = ", ".join(KINDS)


def _about_group(group_id: int):
    """Rows about a group: a detail naming it (group:N, as audit_here writes it; "to group N:" for an
    announcement), a member now in it, or a case of it."""
    token = f"group:{group_id}"
    named = or_(
        *(
            AuditEvent.detail.like(pattern)
            for pattern in (token, f"{token} %", f"{token}:%", f"% {token}", f"% {token} %", f"% {token}:%")
        ),
        AuditEvent.detail.like(f"% to group {group_id}:%"),  # an announcement's row
    )
    members = select(GroupMember.member_id).where(GroupMember.group_id == group_id)
    cases = select(Escalation.id).where(Escalation.group_id == group_id)
    return or_(named, AuditEvent.member_id.in_(members), AuditEvent.escalation_id.in_(cases))


@bp.route("/audit")
@coordinator_required
def audit_log():
    member_id = optional_id("member", request.args.get("member"), "a member id")
    group_id = optional_id("group", request.args.get("group"), "a group id")
    before = optional_id("before", request.args.get("before"), "a row number")
    after = optional_id("after", request.args.get("after"), "a row number")
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        abort(400, f"kind: {kind[:40]!r} is not a kind of row; choose one of {_KINDS_NAMED}")
    query = (
        select(AuditEvent, StaffUser.name, Member.display_name)
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .outerjoin(Member, Member.id == AuditEvent.member_id)
    )
    where = []
    member = group = None
    if member_id:
        member = db().get(Member, member_id)
        if member is None:
            abort(404, "no such member")
        where.append(AuditEvent.member_id == member.id)
    if group_id:
        group = db().get(Group, group_id)
        if group is None:
            abort(404, "no such group")
        where.append(_about_group(group.id))
    if kind is not None:
        where.append(AuditEvent.action.in_(KINDS[kind][1]))
    shown = {"member": member, "group": group, "kind": kind}
    query = query.where(*where)
    if after is None:
        return _newest_first(query, where, shown, before)
    # The page just newer than row `after`: the PAGE rows above it, shown newest first.
    rows = db().execute(query.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(PAGE + 1)).all()
    if not rows:  # nothing newer (any more): the newest page
        return _newest_first(query, where, shown, None)
    newer, rows = len(rows) > PAGE, rows[:PAGE][::-1]
    return _render(rows, shown, older=_exists(where, AuditEvent.id <= after), newer=newer)


def _exists(where, condition):
    return db().scalar(select(AuditEvent.id).where(condition, *where).limit(1)) is not None


def _newest_first(query, where, shown, before: int | None):
    """The newest PAGE rows (older than row `before`, if given), newest first."""
    if before:
        query = query.where(AuditEvent.id < before)
    rows = db().execute(query.order_by(AuditEvent.id.desc()).limit(PAGE + 1)).all()
    older, rows = len(rows) > PAGE, rows[:PAGE]
    newer = bool(before) and _exists(where, AuditEvent.id >= before)
    return _render(rows, shown, older=older, newer=newer)


def _render(rows, shown, *, older: bool, newer: bool):
    groups = {g.id: g for g in db().scalars(select(Group).order_by(Group.name))}
    staff = dict(db().execute(select(StaffUser.id, StaffUser.name)).all())
    tz = viewer_zone()
    group_names = {gid: g.name for gid, g in groups.items()}
    lines = [
        (
            e,
            words.audit_sentence(e, staff_name, member_name, group_names, staff),
            f"{words.when(e.at, tz, zone=False)} {words.zone_name(tz)}",  # each row says its zone
        )
        for e, staff_name, member_name in rows
    ]
    member, group, kind = shown["member"], shown["group"], shown["kind"]
    # The pager and the filter form keep every filter: a filtered page pages through filtered rows.
    filters = {
        "member": member.id if member else None,
        "group": group.id if group else None,
        "kind": kind,
    }
    return render_template(
        "console/audit.html",
        rows=lines,
        member=member,
        group=group,
        kind=kind,
        kinds=KINDS,
        groups=list(groups.values()),
        filters=filters,
        filtered=any(filters.values()),
        page=PAGE,
        older=rows[-1][0].id if rows and older else None,
        newer=rows[0][0].id if rows and newer else None,
        first_page=not newer,
        zone=words.zone_name(tz),
    )
