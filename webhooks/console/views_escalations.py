"""Escalations: list with filters, one escalation's timeline, acknowledge, resolve, reassign, note."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import aliased

from checkin.accounts import audit_read
from checkin.db import utcnow
from checkin.escalation import reach, service, staff_actions
from checkin.escalation.models import ESCALATION_STATES, LIVE_STATES, Escalation, EscalationEvent
from checkin.models import Group, GroupStaff, Member, Message, StaffUser
from webhooks.console import bp, templating, timeline
from webhooks.console.auth import (
    can_see_group,
    client_ip,
    current_staff,
    db,
    is_coordinator,
    login_required,
    visible_group_ids,
    visible_groups,
)
from webhooks.params import optional_id

RECENT = 10  # the member's latest messages shown on an escalation
# "waiting": nobody has taken it yet (open or unacknowledged), what every page's banner links to.
STATE_FILTERS = ("live", "waiting") + ESCALATION_STATES + ("all",)
LEVELS = ("urgent", "crisis")
EVENT_WORDS = {
    "assessed": "Message assessed",
    "opened": "Escalation opened",
    "raised": "Level raised",
    "notified": "Alert sent to",
    "sent": "Alert sent out",
    "delivered": "Alert delivered to",
    "failed": "Alert failed",
    "acknowledged": "Acknowledged by",
    "resolved": "Resolved by",
    "note": "Note by",
    "reassigned": "Reassigned by",
    "unacknowledged": "Nobody acknowledged it",
    "realerted": "Reminder sent to",
    "nobody_on_call": "Nobody on call in the rota",
    "unreachable": "The policy reaches nobody",
    "repeated": "Paging again from the first step",
}


def live_escalations(limit: int = 200) -> list:
    """Rows (escalation, member, group, taker) of the live escalations the signed-in user may see."""
    return _query(states=LIVE_STATES, limit=limit)


def _query(states=None, level=None, group_id=None, limit=200) -> list:
    taker = aliased(StaffUser)
    query = (
        select(Escalation, Member, Group, taker)
        .outerjoin(Member, Member.id == Escalation.member_id)
        .outerjoin(Group, Group.id == Escalation.group_id)
        .outerjoin(taker, taker.id == Escalation.acknowledged_by)
        .order_by(
            Escalation.state.in_(LIVE_STATES).desc(),
            (Escalation.level == "crisis").desc(),
            Escalation.opened_at,
        )
        .limit(limit)
    )
    ids = visible_group_ids()
    if ids is not None:
        # A facilitator's groups, and any case they were paged for or hold outside them.
        query = query.where(
            Escalation.group_id.in_(ids or [-1]) | service.paged_or_holding(current_staff().id)
        )
    if states:
        query = query.where(Escalation.state.in_(states))
    if level:
        query = query.where(Escalation.level == level)
    if group_id:
        query = query.where(Escalation.group_id == group_id)
    return db().execute(query).all()


def alerted_names(rows) -> dict[int, list[str]]:
    """For escalations nobody has taken yet: the names of everyone alerted so far."""
    waiting = [esc.id for esc, _, _, taker in rows if taker is None and esc.state != "resolved"]
    if not waiting:
        return {}
    names: dict[int, list[str]] = {}
    for esc_id, name in db().execute(
        select(EscalationEvent.escalation_id, StaffUser.name)
        .distinct()
        .join(StaffUser, StaffUser.id == EscalationEvent.staff_id)
        .where(
            EscalationEvent.escalation_id.in_(waiting), EscalationEvent.kind.in_(("notified", "realerted"))
        )
        .order_by(EscalationEvent.escalation_id, StaffUser.name)
    ):
        names.setdefault(esc_id, []).append(name)
    return names


def escalation_visible(escalation_id: int) -> Escalation:
    """The escalation, or 404 when it does not exist or is outside the user's groups and they were
    neither paged for it nor hold it (that case only: its member's own pages stay theirs)."""
    esc = db().get(Escalation, escalation_id)
    if esc is None or not (can_see_group(esc.group_id) or _paged_or_holding(esc)):
        abort(404, "no such escalation")
    return esc


def _paged_or_holding(esc: Escalation) -> bool:
    staff = current_staff()
    return staff is not None and (
        db().scalar(select(Escalation.id).where(Escalation.id == esc.id, service.paged_or_holding(staff.id)))
        is not None
    )


@bp.route("/escalations")
@login_required
def escalations():
    state = request.args.get("state") or "live"
    level = request.args.get("level") or ""
    group = request.args.get("group") or ""
    if state not in STATE_FILTERS:
        abort(400, f"state must be one of {', '.join(STATE_FILTERS)}")
    if level and level not in LEVELS:
        abort(400, f"level must be one of {', '.join(LEVELS)}")
    group_id = optional_id("group", group, "a group id")
    states = {"live": LIVE_STATES, "waiting": reach.WAITING_STATES, "all": None}.get(state, (state,))
    rows = _query(states=states, level=level or None, group_id=group_id)
    return render_template(
        "console/escalations.html",
        rows=rows,
        alerted=alerted_names(rows),
        state=state,
        level=level,
        group=group,
        states=STATE_FILTERS,
        levels=LEVELS,
        groups=visible_groups(),
        now=utcnow(),
    )


def _who_can_take(esc: Escalation) -> list[StaffUser]:
    """Active staff this escalation may be handed to: its group's facilitators, and coordinators."""
    query = (
        select(StaffUser)
        .outerjoin(GroupStaff, (GroupStaff.staff_id == StaffUser.id) & (GroupStaff.group_id == esc.group_id))
        .where(
            StaffUser.active.is_(True), (StaffUser.role == "coordinator") | GroupStaff.staff_id.is_not(None)
        )
        .order_by(StaffUser.name)
    )
    return list(db().scalars(query))


def _caller(session, esc: Escalation):
    """For a case opened by a text from an unknown or staff number: the message that opened it (its
    number, to call back), or None (the member was removed)."""
    return session.scalar(
        select(Message)
        .join(EscalationEvent, EscalationEvent.message_id == Message.id)
        .where(EscalationEvent.escalation_id == esc.id, EscalationEvent.kind == "opened")
        .limit(1)
    )


@bp.route("/escalations/<int:escalation_id>")
@login_required
def escalation(escalation_id: int):
    return _case_page(escalation_id)


def _case_page(escalation_id: int, problems: dict | None = None, status: int = 200):
    """The case page; `problems` ({field id: sentence}) marks a refused form's fields where they are."""
    session = db()
    esc = escalation_visible(escalation_id)
    member = session.get(Member, esc.member_id) if esc.member_id else None
    group = session.get(Group, esc.group_id) if esc.group_id else None
    events = list(
        session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == esc.id)
            .order_by(EscalationEvent.at, EscalationEvent.id)
        )
    )
    # One line per alert: "sent" (the provider took it) repeats the "notified" line of the same outbox row.
    notified = {e.outbox_id for e in events if e.kind == "notified" and e.outbox_id}
    events = [e for e in events if not (e.kind == "sent" and e.outbox_id in notified)]
    handed = {templating.handed_to(e) for e in events}
    staff_ids = (
        {e.staff_id for e in events if e.staff_id} | handed | {esc.acknowledged_by, esc.resolved_by} - {None}
    )
    names = {
        s.id: s.name for s in session.scalars(select(StaffUser).where(StaffUser.id.in_(staff_ids or [-1])))
    }
    message_ids = {e.message_id for e in events if e.message_id and e.kind == "assessed"}
    messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(message_ids or [-1])))}
    # The context a facilitator needs before calling: the member's latest texts both ways.
    # A facilitator sees the case's group's messages only (a coordinator, everything: see timeline.Scope).
    recent = []
    if member is not None:
        scope = timeline.scope_for(
            member,
            None if is_coordinator() else ({esc.group_id} - {None}),
            current_app.extensions["checkin"].settings.twilio_from_number,
        )
        recent = [timeline.text_entry(m) for m in timeline.recent_messages(session, member, scope, RECENT)]
    outside = not can_see_group(esc.group_id)
    # Each read is on record once an hour per person for what it showed (accounts.audit_read): a reload
    # adds no row, a new message on the page does.
    if outside:
        # Paged for (or holding) a case outside their groups: they may open it, and it is on record.
        audit_read(
            session,
            "view_paged_case",
            current_staff().id,
            member_id=member.id if member else None,
            escalation_id=esc.id,
            detail="paged for this case outside their groups",
            ip=client_ip(),
        )
    if (messages or recent) and member is not None:
        shown = set(messages) | {e.message_id for e in recent}
        audit_read(
            session,
            "view_messages",
            current_staff().id,
            member_id=member.id,
            escalation_id=esc.id,
            detail=f"escalation page: {len(shown)} message(s), newest message #{max(shown)}",
            ip=client_ip(),
        )
    else:  # a case with no messages to show is still a read of who was paged about whom
        audit_read(
            session,
            "view_escalation",
            current_staff().id,
            member_id=member.id if member else None,
            escalation_id=esc.id,
            detail="escalation page",
            ip=client_ip(),
        )
    session.commit()  # the page's reads on record in one transaction, before it is shown
    return render_template(
        "console/escalation.html",
        esc=esc,
        member=member,
        caller=_caller(session, esc) if member is None else None,
        group=group,
        events=events,
        names=names,
        messages=messages,
        rules=timeline.assessed_rules(session, events),
        recent=recent,
        words=EVENT_WORDS,
        candidates=[s for s in _who_can_take(esc) if s.id != esc.acknowledged_by],
        member_page=member is not None and not outside,
        # Whoever calls back must know to speak the member's language, as the alert says.
        speaks=service.SPEAKS.get(member.language) if member is not None else None,
        now=utcnow(),
        problems=problems or {},
    ), status


def _act(escalation_id: int, action, in_words=None) -> object:
    """Run a staff action; `in_words(reply)` says it in the console's words where the SMS reply would not fit."""
    esc = escalation_visible(escalation_id)
    result = action(esc, current_staff(), utcnow())
    if result.ok:
        db().commit()  # its notices go out and its timers are set once this commits
        reply = in_words(result.reply) if in_words else result.reply
        flash(reply if len(reply) < 160 else reply.split(". ")[0] + ".", "ok")
    else:
        db().rollback()
        flash(result.reply, "error")
    return redirect(url_for("console.escalation", escalation_id=escalation_id))


def _ctx():
    return current_app.extensions["checkin.escalation"]


@bp.route("/escalations/<int:escalation_id>/acknowledge", methods=["POST"])
@login_required
def escalation_acknowledge(escalation_id: int):
    return _act(
        escalation_id,
        lambda esc, staff, now: service.acknowledge(db(), esc, staff, now, via="console", ctx=_ctx()),
        _without_sms_instructions,
    )


def _without_sms_instructions(reply: str) -> str:
    """The SMS reply ends "Reply RESOLVE 12 <note> when done. <link>"; in the console the Resolve button is on the page."""
    return reply.split(" Reply RESOLVE")[0] + " Resolve it below with a note when it is over."


@bp.route("/escalations/<int:escalation_id>/resolve", methods=["POST"])
@login_required
def escalation_resolve(escalation_id: int):
    note = (request.form.get("note") or "").strip()
    if not note:  # said at the note's box (and in the summary above the form), not only at the top
        return _case_page(
            escalation_id, {"resolve-note": "Write a short note saying how it was resolved."}, 400
        )
    if len(note) > staff_actions.NOTE_MAX:
        abort(400, f"a note can be at most {staff_actions.NOTE_MAX} characters")
    return _act(
        escalation_id, lambda esc, staff, now: service.resolve(db(), esc, staff, now, note, via="console")
    )


@bp.route("/escalations/<int:escalation_id>/note", methods=["POST"])
@login_required
def escalation_note(escalation_id: int):
    note = request.form.get("note") or ""
    return _act(escalation_id, lambda esc, staff, now: staff_actions.add_note(db(), esc, staff, note, now))


@bp.route("/escalations/<int:escalation_id>/reassign", methods=["POST"])
@login_required
def escalation_reassign(escalation_id: int):
    esc = escalation_visible(escalation_id)
    raw = request.form.get("staff_id") or ""
    # Only someone the page offers: any other id is refused alike, so a facilitator cannot learn
    # another group's staff (their names, that an id exists) by trying ids.
    target = next((s for s in _who_can_take(esc) if str(s.id) == raw), None)
    if target is None:
        flash("Hand over to: choose someone from the list.", "error")
        return redirect(url_for("console.escalation", escalation_id=escalation_id))
    return _act(
        escalation_id,
        lambda esc, staff, now: staff_actions.reassign(db(), esc, staff, target, now, ctx=_ctx()),
    )
