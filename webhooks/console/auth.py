"""Who is signed in, what they may see: the helpers every console page uses (console2's pages too)."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkin.accounts import sessions as staff_sessions
from checkin.models import Group, GroupStaff, Member, StaffUser


def db() -> Session:
    """This request's database session; closed (rolled back if not committed) when the request ends."""
    if "console_db" not in g:
        g.console_db = current_app.extensions["checkin"].db.sessions()
    return g.console_db


def close_db(_exc=None) -> None:
    s = g.pop("console_db", None)
    if s is not None:
        s.close()


def sign_in(staff: StaffUser) -> None:
    """Start a server-side session (committed here) and put only its token in the cookie."""
    session.clear()  # a fresh session: nothing from before sign-in carries over (fixation)
    session.permanent = True
    session["token"] = staff_sessions.start(
        db(),
        staff,
        lifetime=current_app.permanent_session_lifetime,
        device=request.user_agent.string,
        ip=client_ip(),
    )
    db().commit()
    g.pop("console_staff", None)


def sign_out() -> None:
    """End this browser's session on the server too: a copy of the cookie signs nobody in."""
    staff_sessions.end(db(), session.get("token"))
    db().commit()
    session.clear()
    g.pop("console_staff", None)


def current_staff() -> StaffUser | None:
    """The signed-in staff user, or None."""
    if "console_staff" not in g:
        token = session.get("token")
        found = staff_sessions.live_session(db(), token) if isinstance(token, str) else None
        if found is not None and staff_sessions.seen_due(found[0]):
            # In a unit of work of its own, committed now: were it flushed in the request's session,
            # that would hold SQLite's write lock until the request ends, and anything else the request
            # writes on another connection (the simulator's rolled-back run) would find it locked.
            with current_app.extensions["checkin"].db.session() as own:
                staff_sessions.seen(own, found[0].id)
        g.console_staff = found[1] if found else None
    return g.console_staff


def is_coordinator(staff: StaffUser | None = None) -> bool:
    staff = staff or current_staff()
    return bool(staff) and staff.role == "coordinator"


# What a signed-in person may reach while their account needs something first (account_gate): their
# own account pages and signing out.
ACCOUNT_PAGES = frozenset(
    {
        "console.account",
        "console.account_password",
        "console.account_two_factor",
        "console.account_two_factor_off",
        "console.account_recovery_codes",
        "console.logout",
    }
)
_GATE_WORDS = {
    "console.account_password": "Choose your own password first: the one you signed in with was set by someone else.",
    "console.account_two_factor": "Coordinators must set up an authenticator app before going on.",
}


def account_gate(staff: StaffUser | None = None) -> str | None:
    """The account page this person must finish before any other: a password someone else set must be
    changed; a coordinator must set up an authenticator app when CHECKIN_REQUIRE_2FA=1. None: nothing."""
    staff = staff or current_staff()
    if staff is None:
        return None
    if staff.must_change_password:
        return "console.account_password"
    if (
        staff.role == "coordinator"
        and staff.totp_enabled_at is None
        and current_app.extensions["checkin"].settings.require_2fa
    ):
        return "console.account_two_factor"
    return None


def gate_words(endpoint: str | None) -> str | None:
    return _GATE_WORDS.get(endpoint or "")


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        staff = current_staff()
        if staff is None:
            if request.method == "GET":
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            abort(401, "sign in first")
        gate = account_gate(staff)
        if gate and request.endpoint not in ACCOUNT_PAGES:
            if request.method == "GET":
                return redirect(url_for(gate))  # the page says why (its _gate.html)
            abort(403, _GATE_WORDS[gate])
        return view(*args, **kwargs)

    return wrapper


def page_staff() -> StaffUser | None:
    """`current_staff()` as the layout sees it: nobody while an account page must come first, so the
    navigation, alarms and live updates stay hidden until then (the account pages offer signing out)."""
    staff = current_staff()
    return None if staff is None or account_gate(staff) else staff


def coordinator_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_coordinator():
            abort(403, "only a coordinator can do this")
        return view(*args, **kwargs)

    return wrapper


def visible_group_ids() -> set[int] | None:
    """Ids of the groups the signed-in staff user may see; None means all (a coordinator)."""
    staff = current_staff()
    if staff is None:
        return set()
    if staff.role == "coordinator":
        return None
    if "console_groups" not in g:
        g.console_groups = set(
            db().scalars(select(GroupStaff.group_id).where(GroupStaff.staff_id == staff.id))
        )
    return g.console_groups


def can_see_group(group_id: int | None) -> bool:
    ids = visible_group_ids()
    return ids is None or (group_id is not None and group_id in ids)


def group_visible(group_id: int) -> Group:
    """The group, or 404 when it does not exist or a facilitator does not facilitate it."""
    group = db().get(Group, group_id) if can_see_group(group_id) else None
    if group is None:
        abort(404, "no such group")
    return group


def visible_groups_of(member: Member) -> list[Group]:
    """The member's groups the signed-in staff user may see, by id."""
    return [g for g in sorted(member.groups, key=lambda g: g.id) if can_see_group(g.id)]


def member_visible(member_id: int) -> Member:
    """The member, or 404 when they do not exist or are in none of the user's groups."""
    member = db().get(Member, member_id, options=[selectinload(Member.groups)])
    if member is None or (visible_group_ids() is not None and not visible_groups_of(member)):
        abort(404, "no such member")
    return member


def visible_groups() -> list[Group]:
    query = select(Group).order_by(Group.name)
    ids = visible_group_ids()
    if ids is not None:
        query = query.where(Group.id.in_(ids or [-1]))
    return list(db().scalars(query))


def client_ip() -> str:
    # remote_addr is the proxy's when behind one; deployments behind a proxy wrap the app in ProxyFix.
    return request.remote_addr or "unknown"


def audit_here(
    action: str, detail: str, *, member_id: int | None = None, escalation_id: int | None = None
) -> None:
    """An audit row for what the signed-in staff user is doing, in this request's transaction (the
    view commits it with its change). Ids and words about the setting only, never a member's data."""
    from checkin.accounts import audit

    staff = current_staff()
    audit(
        db(),
        action,
        staff.id if staff else None,
        member_id=member_id,
        escalation_id=escalation_id,
        detail=detail,
        ip=client_ip(),
    )
