"""Member calls: POST /twilio/voice (a call comes in), its Gather/Record/Dial actions, calls we
place (/outbound) and call status callbacks (/status). Thin: verify, parse, hand to
checkin.voice.flow, answer with its Script rendered as TwiML (checkin.adapters.twiml), then send what the step wrote to the outbox."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, request

from checkin.adapters import twiml
from checkin.db import utcnow
from checkin.phones import InvalidPhone, normalize_phone
from checkin.voice import calls, flow, steps
from checkin.voice.script import Script
from webhooks import intake, our_numbers
from webhooks.params import whole_number
from webhooks.signature import twilio_signed

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")  # used with fullmatch: "$" lets a trailing newline in
STATUSES = ("queued", "initiated", "ringing", "in-progress", *calls.FINAL_STATUSES)


def _twiml(script):
    return twiml.render(script), 200, {"Content-Type": twiml.CONTENT_TYPE}


def _checked(read, *args):
    """A request part read by the domain, a ValueError turned into a 400 naming what is wrong."""
    try:
        return read(*args)
    except ValueError as exc:
        abort(400, str(exc))


def _voice_without_storage():
    """The call cannot be stored or run: whoever is on the line still hears 911 and 988 (digit by digit)."""
    cfg = current_app.extensions["checkin"].voice
    script = Script()
    for key in ("danger", "failsafe_unheard"):
        script.say(cfg.text(key, "en"), **cfg.say_attrs("en"))
    script.hangup()
    return _twiml(script), None


def _no_content():
    return ("", 204), None


def _run(step, *, outbound_call: dict | None = None):
    """Run one flow step on the call (its row opened once per CallSid), commit, then send what it wrote."""
    runtime = current_app.extensions["checkin"]
    if not CALL_SID.fullmatch(request.form.get("CallSid") or ""):
        abort(400, "CallSid is missing or not a Twilio call SID")
    inp = _checked(steps.call_input, request.form)
    with runtime.db.session() as session:
        response = steps.run_or_fail_safe(
            session,
            inp,
            step,
            cfg=runtime.voice,
            base=runtime.settings.public_base_url + bp.url_prefix,
            ctx=current_app.extensions["checkin.escalation"],
            now=utcnow(),
            outbound_call=outbound_call,
        )
    # Committed: what the step wrote to the outbox has been handed to the queue, alerts first.
    return _twiml(response) if response is not None else ("", 204)


def _to_someone_else():
    """A call to a number that is none of ours (a number pointed at this service by mistake, or another
    account's): the SMS webhook refuses such a text with a 404, but a caller would hear only Twilio's
    "an application error has occurred". Said plainly instead, in English and Spanish, with 911 and 988,
    then hung up; one ERROR line for the operator with the CallSid (never the numbers). None: it is ours."""
    if not CALL_SID.fullmatch(request.form.get("CallSid") or ""):
        abort(400, "CallSid is missing or not a Twilio call SID")  # as `_run` says it: malformed first
    try:
        to = normalize_phone((request.form.get("To") or "")[:128])
    except InvalidPhone:
        to = None
    if to is not None and our_numbers.of(current_app).owns(to):
        return None
    current_app.logger.error(
        "voice call to a number that is not one of this service's (not TWILIO_FROM_NUMBER, no group's "
        "number): told so, with 911 and 988, and hung up (sid=%s)",
        request.form["CallSid"],
    )
    cfg = current_app.extensions["checkin"].voice
    script = Script()
    for lang in ("en", "es"):
        script.say(cfg.text("not_our_number", lang), **cfg.say_attrs(lang))
    script.hangup()
    return _twiml(script)


@bp.post("")
@twilio_signed
@intake.spooled(_voice_without_storage)
def incoming():
    return _to_someone_else() or _run(flow.start)


@bp.post("/fallback")
@twilio_signed
@intake.spooled(_voice_without_storage, fallback=True)
def fallback():
    """Twilio's fallback URL for the number's voice: called when /twilio/voice failed or timed out."""
    return _to_someone_else() or _run(flow.start)


@bp.post("/<name>")
@twilio_signed
@intake.spooled(_voice_without_storage)
def action(name: str):
    try:
        step = _checked(steps.named, name, request.args)
    except steps.NoSuchStep:
        abort(404, "no such voice step")
    return _run(step)


@bp.post("/outbound")
@twilio_signed
@intake.spooled(_voice_without_storage)
def outbound():
    kind = request.args.get("kind", "")
    if kind not in flow.OUTBOUND_KINDS:
        abort(400, f"kind must be one of {', '.join(flow.OUTBOUND_KINDS)}")
    member_id = _checked(steps.int_arg, request.args, "member", 1, 2**31)
    occurrence = request.args.get("occurrence") or None
    # Absent when the call is answered; then the tries at "are you the member?".
    confirm = (
        _checked(steps.int_arg, request.args, "confirm", 0, flow.MAX_TRIES)
        if "confirm" in request.args
        else None
    )
    our_number = _checked(steps.call_input, request.form).from_number
    return _run(
        lambda t: flow.outbound(
            t, kind, occurrence, (t.group.phone_number if t.group else None) or our_number, confirm
        ),
        outbound_call={"member": member_id, "kind": kind},
    )


@bp.post("/status")
@twilio_signed
@intake.spooled(_no_content)
def status():
    """Status callbacks for calls to the group numbers (set as the numbers' status callback URL)."""
    runtime = current_app.extensions["checkin"]
    sid = request.form.get("CallSid") or ""
    if not CALL_SID.fullmatch(sid):
        abort(400, "CallSid is missing or not a Twilio call SID")
    call_status = (request.form.get("CallStatus") or "").lower()
    if call_status not in STATUSES:
        abort(400, f"CallStatus {call_status!r} is not a Twilio call status")
    duration_raw = request.form.get("CallDuration") or ""
    duration = whole_number(duration_raw)
    if duration_raw and duration is None:
        abort(400, "CallDuration is not a number of seconds")
    with runtime.db.session() as session:
        calls.record_status(
            session,
            sid,
            call_status,
            answered_by=request.form.get("AnsweredBy"),
            duration=duration,
        )
    return "", 204
