"""Member calls: POST /twilio/voice (a call comes in), its Gather/Record/Dial actions, calls we
place (/outbound) and call status callbacks (/status). Thin: verify, parse, hand to
checkin.voice.flow, answer with TwiML, then send what the step wrote to the outbox."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, request

from checkin import outbox
from checkin.db import utcnow
from checkin.escalation import service as escalation
from checkin.models import Group, Member
from checkin.phones import InvalidPhone, normalize_phone
from checkin.voice import calls, flow, outbound as _outbound  # noqa: F401 - registers the call status hook
from checkin.voice.config import load as load_config
from webhooks.signature import twilio_signed
from workers import escalation_jobs

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")
# Loads and validates config/voice.toml when the app is made: a bad prompt or number stops the start, naming the key.
bp.record_once(lambda state: load_config())

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
STATUSES = ("queued", "initiated", "ringing", "in-progress", *calls.FINAL_STATUSES)
MAX_SPEECH = 1000
MAX_TRANSCRIPT = 4000  # 60 seconds of speech is about 150 words


def _twiml(response):
    return str(response), 200, {"Content-Type": "text/xml; charset=utf-8"}


def _phone(name: str) -> str:
    raw = (request.form.get(name) or "").strip()
    try:
        return normalize_phone(raw) if raw else ""
    except InvalidPhone:
        return ""  # a withheld or odd caller ID is an unknown caller, not an error


def _input() -> calls.CallInput:
    sid = request.form.get("CallSid") or ""
    if not CALL_SID.match(sid):
        abort(400, "CallSid is missing or not a Twilio call SID")
    speech = request.form.get("SpeechResult") or ""
    if len(speech) > MAX_SPEECH:
        abort(400, f"SpeechResult is longer than {MAX_SPEECH} characters")
    transcript = request.form.get("TranscriptionText") or ""
    if len(transcript) > MAX_TRANSCRIPT:
        abort(400, f"TranscriptionText is longer than {MAX_TRANSCRIPT} characters")
    recording = request.form.get("RecordingUrl") or ""
    if recording and not recording.startswith(("https://", "http://")):
        abort(400, "RecordingUrl is not a URL")
    return calls.CallInput(
        call_sid=sid, from_number=_phone("From"), to_number=_phone("To"),
        digits=(request.form.get("Digits") or "")[:8], speech=speech, recording_url=recording[:500],
        answered_by=(request.form.get("AnsweredBy") or "")[:24], dial_status=(request.form.get("DialCallStatus") or "").lower(),
        transcript=transcript if request.form.get("TranscriptionStatus") == "completed" else "",
    )


def _int_arg(name: str, low: int, high: int, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None and default is not None:
        return default
    if raw is None or not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        abort(400, f"{name} must be a whole number {low}-{high}")
    return int(raw)


def _run(step, *, outbound_call: dict | None = None):
    """Open the call's row (once per CallSid), run one flow step, commit, then send what it wrote."""
    runtime = current_app.extensions["checkin"]
    ctx = current_app.extensions["checkin.escalation"]
    inp = _input()
    with runtime.db.session() as session:
        call = calls.find(session, inp.call_sid)
        if call is None and outbound_call is not None:
            member = session.get(Member, outbound_call["member"])
            group = calls.group_for(session, member, inp.from_number)
            call = calls.open_call(session, inp.call_sid, direction="outbound", member=member, group=group,
                                   kind=outbound_call["kind"], outbox_id=outbound_call.get("outbox"))
        elif call is None:
            member = calls.member_for(session, inp.from_number)
            call = calls.open_call(session, inp.call_sid, direction="inbound", member=member,
                                   group=calls.group_for(session, member, inp.to_number))
        if inp.answered_by:
            call.answered_by = inp.answered_by
        turn = flow.Turn(session=session, cfg=load_config(), base=runtime.settings.public_base_url + bp.url_prefix,
                         ctx=ctx, now=utcnow(), call=call, inp=inp,
                         member=session.get(Member, call.member_id) if call.member_id else None,
                         group=session.get(Group, call.group_id) if call.group_id else None)
        response = step(turn)
        # Alerts first, texts before calls, as for SMS.
        items = sorted(outbox.created_in(session), key=lambda i: (i.queue != outbox.ALERT_QUEUE, i.channel != "sms", i.id))
        timers = escalation.timers_in(session)
    escalation_jobs.after_commit(runtime, items, timers)
    return _twiml(response) if response is not None else ("", 204)


def _member_only(step):
    """Steps past the menu belong to a known member's call; anyone else hears a goodbye."""
    return lambda turn: step(turn) if turn.member is not None else turn.goodbye()


def _step(name: str):
    """The flow step an action URL names, its query arguments checked first (400 otherwise)."""
    if name in ("menu", "score", "phq9"):
        tries = _int_arg("tries", 0, flow.MAX_TRIES, default=0)
        return _member_only(lambda turn: getattr(flow, name)(turn, tries))
    if name == "dial":
        after = _int_arg("n", 0, 50)
        return _member_only(lambda turn: flow.dial(turn, after))
    if name in ("recorded", "message"):
        return _member_only(getattr(flow, name))
    if name == "transcribed":  # Twilio's transcription callback: nothing is played, the answer is 204
        of = request.args.get("of", "")
        return lambda turn: flow.transcribed(turn, of)
    if name == "unknown":
        choosing = request.args.get("choose") == "1"
        return lambda turn: flow.unknown(turn, choosing=choosing)
    abort(404, "no such voice step")


@bp.post("")
@twilio_signed
def incoming():
    return _run(flow.start)


@bp.post("/<name>")
@twilio_signed
def action(name: str):
    return _run(_step(name))


@bp.post("/outbound")
@twilio_signed
def outbound():
    kind = request.args.get("kind", "")
    if kind not in flow.OUTBOUND_KINDS:
        abort(400, f"kind must be one of {', '.join(flow.OUTBOUND_KINDS)}")
    member_id = _int_arg("member", 1, 2**31)
    occurrence = request.args.get("occurrence") or None
    our_number = _phone("From")
    return _run(lambda t: flow.outbound(t, kind, occurrence, (t.group.phone_number if t.group else None) or our_number),
                outbound_call={"member": member_id, "kind": kind})


@bp.post("/status")
@twilio_signed
def status():
    """Status callbacks for calls to the group numbers (set as the numbers' status callback URL)."""
    runtime = current_app.extensions["checkin"]
    sid = request.form.get("CallSid") or ""
    if not CALL_SID.match(sid):
        abort(400, "CallSid is missing or not a Twilio call SID")
    call_status = (request.form.get("CallStatus") or "").lower()
    if call_status not in STATUSES:
        abort(400, f"CallStatus {call_status!r} is not a Twilio call status")
    duration = request.form.get("CallDuration") or ""
    if duration and not duration.isdigit():
        abort(400, "CallDuration is not a number")
    with runtime.db.session() as session:
        calls.record_status(session, sid, call_status, answered_by=request.form.get("AnsweredBy"),
                            duration=int(duration) if duration else None)
    return "", 204
