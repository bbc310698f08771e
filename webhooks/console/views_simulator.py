"""The simulator pages: a phone on screen, texting or calling as a member of a group you can see. Nothing is
kept or sent (see simulator.py and call_simulator.py for how)."""

from __future__ import annotations

import logging

from flask import abort, current_app, render_template, request
from sqlalchemy import select

from checkin.models import Group, GroupMember, Member
from webhooks.console import bp, db, login_required, visible_group_ids
from webhooks.console.auth import audit_here
from webhooks.console.call_simulator import (
    KEYS,
    MAX_SPEECH,
    MAX_TRANSCRIPT,
    CallInputError,
    CallTurn,
    run_call,
)
from webhooks.console.simulator import MAX_TEXT, run
from webhooks.twilio_voice import bp as voice_bp

log = logging.getLogger("checkin.console")


def _choices() -> list[tuple[Group, list[Member]]]:
    """Members of the groups the signed-in staff user can see, by group."""
    ids = visible_group_ids()
    query = (
        select(Group, Member)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .join(Member, Member.id == GroupMember.member_id)
        .order_by(Group.name, Member.display_name)
    )
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
    return None


@bp.get("/simulator")
@login_required
def simulator():
    return _page("simulator.html", choices=_choices(), picked=None, turns=[])


@bp.post("/simulator")
@login_required
def simulate():
    choices = _choices()
    group, member = _pick(choices, request.form.get("who", ""))
    # The earlier texts are replayed only for the member they were typed as.
    same_member = request.form.get("history_for") == request.form.get("who")
    earlier = [t for t in request.form.getlist("history") if t.strip()] if same_member else []
    text = (request.form.get("text") or "").strip()
    error, draft, status = None, "", 200
    if not text:
        error, status = "Message: type something to send", 400
    elif len(text) > MAX_TEXT:
        error, draft, status = f"Message: at most {MAX_TEXT} characters, as Twilio allows", text, 400
    history = earlier + ([text] if status == 200 else [])
    turns = []
    if history:
        try:
            turns = run(
                current_app.extensions["checkin"].db,
                member.id,
                group.id,
                history,
                context=current_app.extensions["checkin.escalation"],
            )
        except Exception as exc:  # nothing was kept (rolled back): say so, and give the text back
            error, draft, status = _failure_words(exc, "text"), text, 503
            log.exception("simulator: the run failed (member=%s group=%s)", member.id, group.id)
            # The conversation so far stays on the phone, with its replies: replayed without this text.
            turns = _replay(member, group, earlier) if earlier and status == 503 and text else []
    if turns:
        _audit_run(member, group, f"texts: {len(turns)}")
    return _page(
        "simulator.html",
        status,
        choices=choices,
        picked=(group, member),
        turns=turns,
        # The conversation so far goes back with the form even when this run failed, so Send again replays it.
        history=[t.text for t in turns] if turns else earlier,
        draft=draft,
        error=error,
    )


def _replay(member: Member, group: Group, texts: list[str]) -> list:
    """The conversation before a text that failed, or [] if it fails too (its texts are still listed)."""
    try:
        return run(
            current_app.extensions["checkin"].db,
            member.id,
            group.id,
            texts,
            context=current_app.extensions["checkin.escalation"],
        )
    except Exception:
        log.exception("simulator: replaying the texts so far failed (member=%s)", member.id)
        return []


def _failure_words(exc: Exception, what: str, *, call_shown: bool = False) -> str:
    """Why a simulation failed, in words: the database busy for too long, or something else (logged).
    `call_shown`: the call so far is still on the phone, so its last step can be given again."""
    from sqlalchemy.exc import OperationalError

    kept = "Nothing was sent or kept. " + (
        "Your message is still in the box: press Send to try again."
        if what == "text"
        else "The call so far is shown: give your last answer again, or press Call to start over."
        if call_shown
        else "Press Call to start the call again."
    )
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return (
            "The database stayed busy with the service's other work (sending, planning) for longer than we "
            f"wait, so this {what} was not simulated. {kept}"
        )
    return (
        f"Something went wrong on our side while simulating this {what} (it is in the service's log). {kept}"
    )


def _audit_run(member: Member, group: Group, what: str) -> None:
    """A simulator run is a use of a member's profile: on record, with ids and counts only."""
    audit_here("simulate", f"group:{group.id} {what}", member_id=member.id)
    db().commit()


def _page(template: str, status: int = 200, **values):
    return render_template(
        f"console/{template}",
        backend=current_app.extensions["checkin"].settings.messaging_backend,
        **values,
    ), status


def _call_page(status: int = 200, **values):
    return _page(
        "simulator_call.html",
        status,
        keys=KEYS,
        max_speech=MAX_SPEECH,
        max_transcript=MAX_TRANSCRIPT,
        **values,
    )


@bp.get("/simulator/call")
@login_required
def simulator_call():
    return _call_page(choices=_choices(), picked=None, call=None)


def _new_input() -> str | None:
    """The caller's input this post carries, as call_simulator reads it (None: start a new call)."""
    form = request.form
    if "key" in form:
        return "key:" + form["key"]
    if "wait" in form:
        return "wait"
    if "speech" in form:
        return "say:" + form["speech"]
    if "transcript" in form:
        return "transcript:" + form["transcript"]
    return None


@bp.post("/simulator/call")
@login_required
def simulate_call():
    choices = _choices()
    group, member = _pick(choices, request.form.get("who", ""))
    token = _new_input()
    # Pressing Call (or another member) starts a new call; otherwise the call so far is replayed.
    same_call = token is not None and request.form.get("history_for") == request.form.get("who")
    history = request.form.getlist("history") if same_call else []
    runtime = current_app.extensions["checkin"]

    def simulate(inputs: list[str]):
        return run_call(
            runtime.db,
            member.id,
            group.id,
            inputs,
            context=current_app.extensions["checkin.escalation"],
            base=runtime.settings.public_base_url + voice_bp.url_prefix,
        )

    try:
        call = simulate(history + [token] if token is not None else [])
    except CallInputError as exc:
        call = exc.call
        if call is None and token is not None:
            try:
                call = simulate(history)  # the input itself was wrong: show the call as it was
            except CallInputError:
                call = None
        if call is not None:
            _audit_run(member, group, f"call: {len(call.turns)} step(s)")
        return _call_page(400, choices=choices, picked=(group, member), call=call, error=str(exc))
    except Exception as exc:  # rolled back, nothing kept: say so rather than a bare error page
        log.exception("simulator: the call failed (member=%s group=%s)", member.id, group.id)
        # The call so far stays on the phone: replayed without the input that failed, so that input can
        # be given again; if even that fails, the caller's earlier inputs are still listed.
        call = None
        if token is not None and history:
            try:
                call = simulate(history)
            except Exception:
                log.exception("simulator: replaying the call so far failed (member=%s)", member.id)
        earlier = [] if call is not None else [CallTurn(given, (), None).shown for given in history]
        return _call_page(
            503,
            choices=choices,
            picked=(group, member),
            call=call,
            earlier=earlier,
            error=_failure_words(exc, "call", call_shown=call is not None),
        )
    _audit_run(member, group, f"call: {len(call.turns)} step(s)")
    return _call_page(choices=choices, picked=(group, member), call=call)
