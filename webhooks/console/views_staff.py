"""Staff and rota: who works here, who is on call for which group; add staff, reset a password."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from checkin import accounts
from checkin.accounts.passwords import generate_password, hash_password
from checkin.directory import ValidationError, add_staff
from checkin.models import STAFF_ROLES, Group, GroupStaff, StaffUser
from webhooks.console import bp
from webhooks.console.auth import client_ip, coordinator_required, current_staff, db, group_visible, is_coordinator, login_required, visible_groups

TIERS = ("primary", "backup")


def _rota(groups: list[Group]) -> dict[int, list[tuple[GroupStaff, StaffUser]]]:
    rows = db().execute(select(GroupStaff, StaffUser).join(StaffUser, StaffUser.id == GroupStaff.staff_id)
                        .where(GroupStaff.group_id.in_([g.id for g in groups] or [-1]))
                        .order_by(GroupStaff.tier.desc(), StaffUser.name)).all()
    rota = {g.id: [] for g in groups}
    for link, staff in rows:
        rota[link.group_id].append((link, staff))
    return rota


@bp.route("/staff")
@login_required
def staff():
    groups = visible_groups()
    people = list(db().scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.name))) if is_coordinator() else []
    return render_template("console/staff.html", groups=groups, rota=_rota(groups), people=people, roles=STAFF_ROLES,
                           tiers=TIERS, values={}, error=None)


@bp.route("/staff/new", methods=["POST"])
@coordinator_required
def staff_new():
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in ("name", "email", "role", "phone", "tier")}
    group_ids = [int(g) for g in form.getlist("groups") if g.isdigit()]
    session = db()
    password = generate_password()
    try:
        names = [group_visible(g).name for g in group_ids]
        person = add_staff(session, values["name"], values["email"], values["role"], values["phone"] or None, names,
                           values["tier"] or "primary", password_hash=hash_password(password))
    except ValidationError as exc:
        session.rollback()
        groups = visible_groups()
        people = list(session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.name)))
        return render_template("console/staff.html", groups=groups, rota=_rota(groups), people=people, roles=STAFF_ROLES,
                               tiers=TIERS, values=values, error=str(exc)), 400
    accounts.audit(session, "staff_added", current_staff().id, detail=f"staff:{person.id} role={person.role}", ip=client_ip())
    session.commit()
    return render_template("console/password_once.html", person=person, password=password, new=True)


@bp.route("/staff/<int:staff_id>/password", methods=["POST"])
@coordinator_required
def staff_reset_password(staff_id: int):
    person = db().get(StaffUser, staff_id)
    if person is None:
        abort(404, "no such staff user")
    password = generate_password()
    accounts.set_password(db(), person, password, by=current_staff())
    db().commit()
    return render_template("console/password_once.html", person=person, password=password, new=False)


@bp.route("/staff/<int:staff_id>/active", methods=["POST"])
@coordinator_required
def staff_active(staff_id: int):
    """Deactivate someone who left (no sign-in, no alerts) or bring them back; history keeps their name."""
    person = db().get(StaffUser, staff_id)
    if person is None:
        abort(404, "no such staff user")
    if person.id == current_staff().id:
        abort(400, "you cannot deactivate yourself; ask another coordinator")
    active = request.form.get("active") == "yes"
    person.active = active
    accounts.audit(db(), "staff_added" if active else "staff_removed", current_staff().id,
                   detail=f"staff:{person.id} {'reactivated' if active else 'deactivated'}", ip=client_ip())
    db().commit()
    flash(f"{person.name} is {'active again' if active else 'deactivated: no sign-in, no alerts'}.", "ok")
    return redirect(url_for("console.staff"))


@bp.route("/staff/rota/<int:group_id>/<int:staff_id>", methods=["POST"])
@login_required
def staff_rota(group_id: int, staff_id: int):
    link = db().get(GroupStaff, (group_visible(group_id).id, staff_id))
    if link is None:
        abort(404, "that person is not in that group's rota")
    action = request.form.get("action")
    # A facilitator may go on or off call themselves; everything else in the rota is a coordinator's.
    if not is_coordinator() and not (staff_id == current_staff().id and action == "on_call"):
        abort(403, "only a coordinator can change someone else's place in the rota")
    if action == "on_call":
        link.on_call = request.form.get("on_call") == "yes"
    elif action == "tier" and request.form.get("tier") in TIERS:
        link.tier = request.form["tier"]
    elif action == "remove":
        db().delete(link)
    else:
        abort(400, "action must be on_call, tier (primary or backup) or remove")
    accounts.audit(db(), "on_call", current_staff().id,
                   detail=f"group:{group_id} staff:{staff_id} {action}={request.form.get(action, '')}"[:255], ip=client_ip())
    db().commit()
    remaining = db().scalar(select(GroupStaff.staff_id).where(GroupStaff.group_id == group_id, GroupStaff.on_call.is_(True),
                                                              GroupStaff.tier == "primary").limit(1))
    if remaining is None:
        flash("Warning: nobody is on call as primary for this group now; alerts go to backups or coordinators.", "error")
    else:
        flash("Rota updated.", "ok")
    return redirect(url_for("console.staff") + f"#group-{group_id}")


@bp.route("/staff/rota/<int:group_id>", methods=["POST"])
@coordinator_required
def staff_rota_add(group_id: int):
    group = group_visible(group_id)
    raw = request.form.get("staff_id") or ""
    person = db().get(StaffUser, int(raw)) if raw.isdigit() else None
    tier = request.form.get("tier") or "primary"
    if person is None or tier not in TIERS:
        abort(400, "choose a staff member and a tier (primary or backup)")
    if db().get(GroupStaff, (group.id, person.id)) is not None:
        flash(f"{person.name} is already in {group.name}'s rota.", "error")
    else:
        db().add(GroupStaff(group_id=group.id, staff_id=person.id, tier=tier, on_call=True))
        accounts.audit(db(), "on_call", current_staff().id, detail=f"group:{group.id} staff:{person.id} added as {tier}", ip=client_ip())
        db().commit()
        flash(f"{person.name} added to {group.name} as {tier}, on call.", "ok")
    return redirect(url_for("console.staff") + f"#group-{group_id}")
