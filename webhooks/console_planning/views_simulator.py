"""The simulator page: a phone on screen, texting as a member of a group you can see. Nothing is kept or sent
(see simulator.py for how)."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from sqlalchemy import select

from checkin.models import Group, GroupMember, Member
from webhooks.console import db, login_required, visible_group_ids
from webhooks.console_planning import bp
from webhooks.console_planning.simulator import MAX_TEXT, run


def _choices() -> list[tuple[Group, list[Member]]]:
    """Members of the groups the signed-in staff user can see, by group."""
    ids = visible_group_ids()
    query = (select(Group, Member).join(GroupMember, GroupMember.group_id == Group.id)
             .join(Member, Member.id == GroupMember.member_id).order_by(Group.name, Member.display_name))
    if ids is not None:
        query = query.where(Group.id.in_(ids or [-1]))
    out: dict[int, tuple[Group, list[Member]]] = {}
    for group, member in db().execute(query):
        out.setdefault(group.id, (group, []))[1].append(member)
    return list(out.values())


def _pick(choices, raw: str) -> tuple[Group, Member]:
    """The (group, member) a "group:member" value names, if visible; 404 otherwise."""
    group_raw, _, member_raw = (raw or "").partition(":")
    for group, members in choices:
        if str(group.id) == group_raw:
            for member in members:
                if str(member.id) == member_raw:
                    return group, member
    abort(404, "no such member in your groups")


@bp.get("/simulator")
@login_required
def simulator():
    return render_template("console_planning/simulator.html", choices=_choices(), picked=None, turns=[],
                           backend=current_app.extensions["checkin"].settings.messaging_backend)


@bp.post("/simulator")
@login_required
def simulate():
    choices = _choices()
    group, member = _pick(choices, request.form.get("who", ""))
    # The earlier texts are replayed only for the member they were typed as.
    same_member = request.form.get("history_for") == request.form.get("who")
    history = [t for t in request.form.getlist("history") if t.strip()] if same_member else []
    text = (request.form.get("text") or "").strip()
    error = None
    if not text:
        error, status = "Message: type something to send", 400
    elif len(text) > MAX_TEXT:
        error, status = f"Message: at most {MAX_TEXT} characters, as Twilio allows", 400
    else:
        history.append(text)
        status = 200
    turns = run(current_app.extensions["checkin"].db, member.id, group.id, history,
                          context=current_app.extensions["checkin.escalation"]) if history else []
    return render_template("console_planning/simulator.html", choices=choices, picked=(group, member), turns=turns,
                           error=error, backend=current_app.extensions["checkin"].settings.messaging_backend), status
