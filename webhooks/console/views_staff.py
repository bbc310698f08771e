"""Staff and rota: who works here, who is on call for which group and when; invite staff, send a password
reset link, cancel a link, reset someone's authenticator app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from checkin import accounts, outbox, rota
from checkin.accounts import invitations
from checkin.accounts import sessions as staff_sessions
from checkin.db import utcnow
from checkin.directory import EMAIL, Refused, ValidationError, add_staff, set_staff_phone
from checkin.escalation import preview
from checkin.models import STAFF_ROLES, Group, GroupStaff, OnCallWindow, StaffUser
from webhooks.console import bp, forms
from webhooks.console.auth import (
    client_ip,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    is_coordinator,
    login_required,
    visible_groups,
)
from webhooks.params import record_id

TIERS = ("primary", "backup")
WEEKDAY_DIGITS = frozenset("1234567")  # ISO weekdays, Monday is 1, as the rota stores them
ENDS = ("the same day / overnight", "the next day") + tuple(
    f"{n} days later" for n in range(2, rota.MAX_SPAN_DAYS + 1)
)


def _rota(
    groups: list[Group], now: datetime
) -> dict[int, list[tuple[rota.Place, list[tuple[OnCallWindow, str]]]]]:
    """Each group's rota at `now`, each place with its windows in words in the group's zone."""
    out = {}
    for group in groups:
        zone = ZoneInfo(group.timezone)
        out[group.id] = [
            (p, [(w, rota.describe(w, zone)) for w in p.windows]) for p in rota.places(db(), group, now)
        ]
    return out


def _staff_page(
    *, values=None, error=None, invite_problems=None, window_form=None, window_problems=None, status=200
):
    """The page; `window_form` = (group id, form, which form) re-fills a window form that was refused,
    and `window_problems` (field -> sentence) marks its mistakes."""
    groups = visible_groups()
    now = utcnow()
    people = (
        list(db().scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.name)))
        if is_coordinator()
        else []
    )
    local_now = {g.id: now.astimezone(ZoneInfo(g.timezone)) for g in groups}
    on_rota = _rota(groups, now)
    return render_template(
        "console/staff.html",
        groups=groups,
        rota=on_rota,
        # Invited, not accepted: said on the rota, as on the paging preview (checkin.escalation.preview).
        not_accepted=preview.not_accepted(db(), [p.staff for places in on_rota.values() for p, _ in places]),
        people=people,
        roles=STAFF_ROLES,
        tiers=TIERS,
        values=values or {},
        error=error,
        invite_problems=invite_problems,
        local_now=local_now,
        day_names=rota.DAY_NAMES,
        ends=ENDS,
        window_form=window_form,
        window_problems=window_problems,
        signed_in=_signed_in(people, now),
        links={p.id: invitations.latest(db(), p.id) for p in people},
        now=now,
        no_coordinator_phone=bool(people)
        and not any(p.role == "coordinator" and p.active and p.phone for p in people),
    ), status


@dataclass(frozen=True)
class _Browser:
    device_words: str
    last_seen_at: datetime


def _signed_in(people: list[StaffUser], now: datetime) -> dict[int, list[_Browser]]:
    """Live sessions per staff member, each named by its browser and system ("Chrome on Android")."""
    return {
        p.id: [
            _Browser(_device_words(s.device), s.last_seen_at)
            for s in staff_sessions.live(db(), p.id, now=now)
        ]
        for p in people
    }


def _device_words(agent: str | None) -> str:
    agent = agent or ""
    browser = next(
        (name for key, name in _BROWSERS if key in agent),
        "a browser",
    )
    system = next((name for key, name in _SYSTEMS if key in agent), None)
    return f"{browser} on {system}" if system else browser


# Order matters: Edge and Chrome both say "Chrome", Chrome and Safari both say "Safari".
_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
)


@bp.route("/staff")
@login_required
def staff():
    return _staff_page()


@bp.route("/staff/<int:staff_id>/sign-out-everywhere", methods=["POST"])
@login_required
def staff_sign_out_everywhere(staff_id: int):
    """End every session of one person: a coordinator for anyone, anyone for themselves."""
    me = current_staff()
    if staff_id != me.id and not is_coordinator():
        abort(403, "only a coordinator can sign someone else out")
    person = _staff_member(staff_id)
    ended = staff_sessions.end_all(db(), person.id, "everywhere")
    accounts.audit(db(), "signout", me.id, detail=f"staff:{person.id} everywhere ({ended})", ip=client_ip())
    db().commit()
    if person.id == me.id:
        return redirect(url_for("console.login"))
    flash(f"{person.name} is signed out on every browser.", "ok")
    return redirect(url_for("console.staff"))


INVITE_FIELDS = ("name", "email", "phone", "role", "tier")  # the invite form's fields a refusal can name


@bp.get("/staff/new")
@coordinator_required
def staff_new_page():
    """The invite form's address, reloaded after a refusal: the form, not "Method Not Allowed"."""
    return redirect(url_for("console.staff") + "#invite")


@bp.route("/staff/new", methods=["POST"])
@coordinator_required
def staff_new():
    """Invite someone: their account is made with no password, and a link lets them choose one."""
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in ("name", "email", "role", "phone", "tier")}
    group_ids = [g for g in map(record_id, form.getlist("groups")) if g is not None]
    values["groups"] = group_ids  # ticked again if the form comes back with an error
    session = db()
    problems = _invite_problems(values)
    known = {g.id for g in visible_groups()}
    if len(group_ids) != len(form.getlist("groups")) or not set(group_ids) <= known:
        problems.add("s-groups", "Choose the groups from the list: one of those sent is not a group here.")
    if problems:
        return _staff_page(values=values, invite_problems=problems.fields, status=400)
    try:
        names = [group_visible(g).name for g in group_ids]
        person = add_staff(
            session,
            values["name"],
            values["email"],
            values["role"],
            values["phone"] or None,
            names,
            values["tier"] or "primary",
        )
    except (
        ValidationError
    ) as exc:  # what the form's own checks cannot see (a race, a role or tier sent by hand)
        session.rollback()
        field = exc.field if isinstance(exc, Refused) and exc.field in INVITE_FIELDS else "name"
        return _staff_page(
            values=values, invite_problems={f"s-{field}": forms.sentence(str(exc))}, status=400
        )
    accounts.audit(
        session,
        "staff_added",
        current_staff().id,
        detail=f"staff:{person.id} role={person.role}",
        ip=client_ip(),
    )
    return _link_page(person, reset=False)


def _invite_problems(values: dict) -> forms.Problems:
    """The invite form's mistakes in plain words, each for its field, before the account is made."""
    problems = forms.Problems()
    values["name"] = (
        problems.check("s-name", forms.name, request.form.get("name"), max_len=80, what="the person's name")
        or values["name"].strip()
    )
    email = values["email"].lower()
    if not values["email"]:
        problems.add("s-email", "Type their email address, such as name@example.org.")
    elif not EMAIL.match(email):
        problems.add(
            "s-email", f"“{values['email']}” is not an email address: it should look like name@example.org"
        )
    else:
        taken = db().scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
        if taken is not None:
            problems.add(
                "s-email",
                f"{taken.name} already has an account with this email. To send them a new link, "
                "use Reset password next to their name.",
            )
    if values["phone"]:
        phone = problems.phone("s-phone", values["phone"])
        if phone is not None:
            holder = db().scalar(select(StaffUser).where(StaffUser.phone == phone))
            if holder is not None:
                problems.add(
                    "s-phone",
                    f"{holder.name} is already alerted on that phone number: each person needs their own.",
                )
    return problems


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.extensions["checkin"].settings.invite_hours)


def _link_url(token: str) -> str:
    return current_app.extensions["checkin"].settings.public_base_url + invitations.PATH + token


def _link_page(person: StaffUser, *, reset: bool):
    """A new link for `person` (committed), shown once; the ones before it stop working."""
    row, token = accounts.invite(
        db(), person, by=current_staff(), lifetime=_lifetime(), reset=reset, ip=client_ip()
    )
    db().commit()
    return render_template(
        "console/invite_once.html",
        person=person,
        invitation=row,
        kind=row.kind,
        link=_link_url(token),
        token=token,
    )


def _staff_member(staff_id: int) -> StaffUser:
    person = db().get(StaffUser, staff_id)
    if person is None:
        abort(404, "no such staff user")
    return person


@bp.route("/staff/<int:staff_id>/password", methods=["POST"])
@coordinator_required
def staff_reset_password(staff_id: int):
    """A reset link: the old password stops working now, and the person chooses a new one with the link."""
    return _link_page(_staff_member(staff_id), reset=True)


@bp.route("/staff/<int:staff_id>/invite", methods=["POST"])
@coordinator_required
def staff_invite(staff_id: int):
    """A new invitation link for someone who has not set a password yet (the last one expired or was lost)."""
    person = _staff_member(staff_id)
    if not person.active:
        abort(400, f"{person.name} is deactivated; reactivate them first")
    return _link_page(person, reset=bool(person.password_hash))


@bp.route("/staff/<int:staff_id>/invite/revoke", methods=["POST"])
@coordinator_required
def staff_invite_revoke(staff_id: int):
    person = _staff_member(staff_id)
    count = accounts.revoke_invitations(db(), person, by=current_staff(), ip=client_ip())
    db().commit()
    flash(
        f"{person.name}'s link is cancelled: it no longer works."
        if count
        else f"{person.name} had no link that still worked.",
        "ok",
    )
    return redirect(url_for("console.staff") + "#staff-h")


@bp.route("/staff/<int:staff_id>/invite/text", methods=["POST"])
@coordinator_required
def staff_invite_text(staff_id: int):
    """Text the link just shown to the person's phone, from the service's number, through the outbox."""
    person = _staff_member(staff_id)
    token = request.form.get("token") or ""
    opened = invitations.open_link(db(), token)
    if opened.problem or opened.staff is None or opened.staff.id != person.id:
        abort(400, f"that link no longer works for {person.name}; send a new one from the staff page")
    if not person.phone:
        abort(400, f"{person.name} has no phone number; add one on the staff page, or send the link yourself")
    invitation = opened.invitation
    until = invitation.expires_at - utcnow()
    hours = max(1, round(until.total_seconds() / 3600))
    body = (
        f"Checkin: {current_staff().name} invited you to the staff console. Choose your password here "
        f"(the link works once, for {hours} hours): {_link_url(token)}"
        if invitation.kind == invitations.INVITE
        else f"Checkin: to choose a new console password, open this link (it works once, for {hours} hours): "
        f"{_link_url(token)}"
    )
    outbox.add(
        db(),
        f"staff_link:{invitation.id}",
        to=person.phone,
        body=body,
        purpose="staff_link",
        queue=outbox.ALERT_QUEUE,
        staff_id=person.id,
    )
    accounts.audit(
        db(),
        "invite_texted",
        current_staff().id,
        detail=f"staff:{person.id} link:{invitation.id}",
        ip=client_ip(),
    )
    db().commit()
    flash(f"The link is on its way to {person.name}'s phone.", "ok")
    return redirect(url_for("console.staff") + "#staff-h")


@bp.route("/staff/<int:staff_id>/two-factor/reset", methods=["POST"])
@coordinator_required
def staff_two_factor_reset(staff_id: int):
    """For someone who lost their phone and their recovery codes: they sign in with their password and
    set up an app again (at once, if coordinators must have one)."""
    person = _staff_member(staff_id)
    if person.totp_enabled_at is None and not person.totp_secret:
        flash(f"{person.name} has no authenticator app set up.", "ok")
    else:
        accounts.turn_off_two_factor(db(), person, by=current_staff(), ip=client_ip())
        db().commit()
        flash(
            f"{person.name}'s authenticator app is reset: they sign in with their password and set it up again.",
            "ok",
        )
    return redirect(url_for("console.staff") + "#staff-h")


@bp.route("/staff/<int:staff_id>/phone", methods=["POST"])
@coordinator_required
def staff_phone(staff_id: int):
    """Change the number someone is alerted on (a new phone), or give a coordinator one for the last alerts."""
    person = _staff_member(staff_id)
    try:
        set_staff_phone(db(), person, (request.form.get("phone") or "").strip())
    except ValidationError as exc:
        db().rollback()
        return _staff_page(error=f"{person.name}: {exc}", status=400)
    accounts.audit(
        db(),
        "staff_edited",
        current_staff().id,
        detail=f"staff:{person.id} phone for alerts changed",
        ip=client_ip(),
    )
    db().commit()
    flash(
        f"{person.name} is alerted on {person.phone}."
        if person.phone
        else f"{person.name} has no phone now: no alerts.",
        "ok",
    )
    return redirect(url_for("console.staff"))


@bp.route("/staff/<int:staff_id>/active", methods=["POST"])
@coordinator_required
def staff_active(staff_id: int):
    """Deactivate someone who left (no sign-in, no alerts) or bring them back; history keeps their name."""
    person = _staff_member(staff_id)
    if person.id == current_staff().id:
        abort(400, "you cannot deactivate yourself; ask another coordinator")
    active = request.form.get("active") == "yes"
    person.active = active
    if not active:
        staff_sessions.end_all(db(), person.id, "deactivated")
    accounts.audit(
        db(),
        "staff_added" if active else "staff_removed",
        current_staff().id,
        detail=f"staff:{person.id} {'reactivated' if active else 'deactivated'}",
        ip=client_ip(),
    )
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
    accounts.audit(
        db(),
        "on_call",
        current_staff().id,
        detail=f"group:{group_id} staff:{staff_id} {action}={request.form.get(action, '')}"[:255],
        ip=client_ip(),
    )
    db().commit()
    _flash_rota_updated(group_id)
    return redirect(url_for("console.staff") + f"#group-{group_id}")


def _flash_rota_updated(group_id: int) -> None:
    if not rota.on_call(db(), group_id, utcnow(), tier="primary"):
        flash(
            "Warning: nobody is on call as primary for this group now; alerts go to backups or coordinators.",
            "error",
        )
    else:
        flash("Rota updated.", "ok")


@bp.route("/staff/rota/<int:group_id>", methods=["POST"])
@coordinator_required
def staff_rota_add(group_id: int):
    group = group_visible(group_id)
    raw = request.form.get("staff_id") or ""
    staff_id = record_id(raw)
    person = db().get(StaffUser, staff_id) if staff_id is not None else None
    tier = request.form.get("tier") or "primary"
    if person is None or tier not in TIERS:
        abort(400, "choose a staff member and a tier (primary or backup)")
    if db().get(GroupStaff, (group.id, person.id)) is not None:
        flash(f"{person.name} is already in {group.name}'s rota.", "error")
    else:
        db().add(GroupStaff(group_id=group.id, staff_id=person.id, tier=tier, on_call=True))
        accounts.audit(
            db(),
            "on_call",
            current_staff().id,
            detail=f"group:{group.id} staff:{person.id} added as {tier}",
            ip=client_ip(),
        )
        db().commit()
        flash(f"{person.name} added to {group.name} as {tier}, on call.", "ok")
    return redirect(url_for("console.staff") + f"#group-{group_id}")


# --- when: weekly shifts, cover and time away ---------------------------------------------------


@bp.route("/staff/rota/<int:group_id>/windows", methods=["POST"])
@coordinator_required
def staff_window_add(group_id: int):
    """Add a weekly shift (form=weekly) or a dated cover or absence (form=dated) to someone's place."""
    group = group_visible(group_id)
    form = request.form
    which = "dated" if form.get("form") == "dated" else "weekly"
    session = db()
    problems, window, link = _read_window(session, group, form, which)
    if problems:
        session.rollback()
        # Rendered here, not redirected: the form is open again with what was typed, every mistake at its field.
        return _staff_page(window_form=(group.id, form, which), window_problems=problems.fields, status=400)
    words = rota.describe(window, ZoneInfo(group.timezone))
    accounts.audit(
        session,
        "on_call",
        current_staff().id,
        detail=f"group:{group.id} staff:{link.staff_id} window:{window.id} added: {words}"[:255],
        ip=client_ip(),
    )
    session.commit()
    _flash_rota_updated(group.id)
    return redirect(url_for("console.staff") + f"#group-{group.id}")


def _read_window(session, group, form, which: str):
    """The window a form adds (weekly shift or dated cover/absence), with every mistake in it kept for
    its field ("shift-start-3"), not just the first; the window is added to the session if none."""
    prefix = "dated" if which == "dated" else "shift"

    def field(name: str) -> str:
        return f"{prefix}-{name}-{group.id}"

    problems = forms.Problems()
    staff_id = record_id(form.get("staff_id") or "")
    link = session.get(GroupStaff, (group.id, staff_id)) if staff_id is not None else None
    if link is None:
        problems.add(field("who"), f"Choose someone in {group.name}'s rota.")
    window = None
    if which == "weekly":
        days = [int(d) for d in form.getlist("days") if d in WEEKDAY_DIGITS]
        if not days:
            problems.add(field("days"), "Tick at least one day.")
        start = problems.check(field("start"), forms.clock, form, "start", "from")
        end = problems.check(field("end"), forms.clock, form, "end", "to")
        span = problems.check(field("ends"), forms.whole, form, "ends", "ends", 0, rota.MAX_SPAN_DAYS)
        if not problems:
            window = problems.check(field("ends"), rota.add_weekly, session, link, days, start, end, span)
    else:
        kind = form.get("kind")
        if kind not in ("cover", "away"):
            problems.add(field("kind"), "Choose cover (on call) or away (not on call).")
        starts = problems.check(field("from"), forms.local_datetime, form, "starts", "from")
        ends = problems.check(field("to"), forms.local_datetime, form, "ends_at", "to")
        if not problems:
            window = problems.check(
                field("to"),
                rota.add_dated,
                session,
                link,
                kind,
                starts,
                ends,
                ZoneInfo(group.timezone),
                utcnow(),
            )
    if not problems:
        session.flush()
    return problems, window, link


@bp.route("/staff/rota/<int:group_id>/windows/<int:window_id>/remove", methods=["POST"])
@coordinator_required
def staff_window_remove(group_id: int, window_id: int):
    group = group_visible(group_id)
    window = db().get(OnCallWindow, window_id)
    if window is None or window.group_id != group.id:
        abort(404, "no such window in that group's rota")
    words = rota.describe(window, ZoneInfo(group.timezone))
    db().delete(window)
    accounts.audit(
        db(),
        "on_call",
        current_staff().id,
        detail=f"group:{group.id} staff:{window.staff_id} window:{window_id} removed: {words}"[:255],
        ip=client_ip(),
    )
    db().commit()
    _flash_rota_updated(group.id)
    return redirect(url_for("console.staff") + f"#group-{group.id}")
