"""POST /twilio/sms and /twilio/status: verify, parse, hand to the domain, answer with TwiML."""

from __future__ import annotations

import re
from functools import lru_cache

from flask import Blueprint, abort, current_app, make_response, request
from twilio.twiml.messaging_response import MessagingResponse

from checkin import inbound, status
from checkin import intake as courier
from checkin.channels import Channel
from checkin.phones import InvalidPhone, normalize_phone
from webhooks import intake, our_numbers
from webhooks.params import optional_id, strip_controls, whole_number
from webhooks.refusals import refuse
from webhooks.signature import twilio_signed

bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio")

# Twilio names a message SM... (MM... for one with media) and a call CA..., each with 32 hex digits.
SIDS = {
    "MessageSid": (
        re.compile(r"(SM|MM)[0-9a-fA-F]{32}"),
        "a Twilio message SID (SM or MM and 32 hex digits)",
    ),
    "CallSid": (re.compile(r"CA[0-9a-fA-F]{32}"), "a Twilio call SID (CA and 32 hex digits)"),
}
MAX_BODY = 1600  # Twilio's own limit for one inbound message
MAX_MEDIA = 10  # Twilio's own limit of files on one message
MAX_ADDRESS = 128  # 'whatsapp:+1...', 'client:alice', a SIP address: what Twilio may put in To/From


def _field(name: str, *, required: bool = True, max_len: int = 64) -> str:
    value = request.form.get(name)
    if value is None:
        if required:
            abort(400, f"missing {name}")
        return ""
    if len(value) > max_len:
        abort(400, f"{name} is longer than {max_len} characters")
    return value


def _sid(name: str) -> str:
    value = _field(name)
    pattern, what = SIDS[name]
    if not pattern.fullmatch(value):  # fullmatch: '$' would let a trailing newline through
        abort(400, f"{name} is not {what}")
    return value


# Members text from the same few numbers again and again, and replies repeat: both are pure
# functions of their input, and parsing a number (or building TwiML) costs more than a lookup.
_e164 = lru_cache(maxsize=4096)(normalize_phone)


# A channel's address: 'whatsapp:+1...', 'messenger:...', 'rcs:...' (Twilio carries them on the Messages API).
_CHANNEL_ADDRESS = re.compile(r"([a-z]{2,16}):")


def _not_sms(name: str, value: str) -> None:
    """A WhatsApp (or other channel's) address is refused with that reason, loudly: a WhatsApp sender
    pointed at this webhook loses every message sent to it until someone notices."""
    channel = _CHANNEL_ADDRESS.match(value)
    if channel:
        refuse(
            400,
            f"{name} is a {channel.group(1)} address: this webhook takes SMS only "
            f"({channel.group(1)} is not a Checkin channel yet)",
        )


def _phone(name: str) -> str:
    value = _field(name, max_len=MAX_ADDRESS)
    try:
        return _e164(value)
    except InvalidPhone:
        _not_sms(name, value)
        abort(400, f"{name} is not a phone number")


_ASCII_DIGITS = re.compile(r"[0-9]+")


def _media_count() -> int:
    """NumMedia: how many pictures or files came with the text, 0 to 10 from Twilio. Anything else is not
    what Twilio sends, and is refused with the reason: read as 0, a picture with NumMedia=99999999999 was
    answered "your text reached us empty"."""
    raw = request.form.get("NumMedia")
    if raw is None or raw == "":
        return 0
    if not _ASCII_DIGITS.fullmatch(raw):
        refuse(400, "NumMedia is not a whole number (Twilio sends how many files came, 0 to 10)")
    if int(raw) > MAX_MEDIA:
        refuse(400, f"NumMedia is out of range: Twilio allows at most {MAX_MEDIA} files on one message")
    return int(raw)


def _addressed_to() -> str:
    """The group number (or the Messaging Service's) the text was sent to; any other is refused."""
    raw = request.form.get("To")
    if not raw:
        refuse(400, "missing To: no number the text was sent to")
    try:
        to = _e164(raw[:MAX_ADDRESS])
    except InvalidPhone:
        _not_sms("To", raw)
        to = None
    service = request.form.get("MessagingServiceSid")
    if to is None or not our_numbers.of(current_app).owns(to, service):
        _answer_danger_to_a_number_not_ours()
        refuse(
            404,
            "To is not a number of this service (not TWILIO_FROM_NUMBER, no group's number, and not sent "
            "through TWILIO_MESSAGING_SERVICE_SID)",
        )
    return to


def _answer_danger_to_a_number_not_ours() -> None:
    """A crisis or urgent text to a number that is not ours is still not stored (the number is
    misconfigured), but its sender is not left in silence: 988/911 in both languages, and one ERROR
    line for the operator (the SID; never words or numbers). Any other text falls through to the 404."""
    body = strip_controls((request.form.get("Body") or "")[:MAX_BODY])
    reply, level = inbound.reply_to_a_number_not_ours(body)
    if reply is None:
        return
    sid = (request.form.get("MessageSid") or "")[:64]
    current_app.logger.error(
        "%s text to a number that is not this service's, not stored; answered with 988/911 (sid=%s)",
        level,
        sid or "none",
    )
    abort(make_response(twiml(reply)))


@lru_cache(maxsize=1024)
def _twiml_text(reply: str | None) -> str:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)


def twiml(reply: str | None):
    return _twiml_text(reply), 200, {"Content-Type": "text/xml; charset=utf-8"}


def _sms_without_storage():
    """The answer when the text cannot be stored: its words alone decide (a crisis still gets 988/911)."""
    runtime = current_app.extensions["checkin"]
    try:
        sender = _e164(request.form.get("From") or "")
    except InvalidPhone:
        sender = ""
    body = strip_controls(request.form.get("Body") or "")
    reply, _level = inbound.reply_without_storage(body, sender, runtime.opted_out)
    return twiml(reply), reply


def _sms():
    runtime = current_app.extensions["checkin"]
    replay = intake.replaying()
    # Twilio's form, turned into the one neutral inbound message the domain decides on.
    message = inbound.InboundMessage(
        sid=_sid("MessageSid"),
        from_number=_phone("From"),
        to_number=_addressed_to(),
        body=strip_controls(_field("Body", required=False, max_len=MAX_BODY)),
        channel=Channel.SMS.value,
        received_at=replay.received_at if replay else None,
        media=_media_count(),
    )
    if (replay is None or replay.reply is None) and not courier.answers_now(message.body)[0]:
        # A routine text (issue 18): stored undecided in one autocommitted INSERT with its MessageSid
        # claim, decided by a worker a moment later; its reply comes by REST. A retry stores nothing.
        # A spooled one replayed too: the member was answered nothing then, so the worker's REST reply
        # is the answer (decided inline, it would go into the TwiML of a replay nobody reads).
        stored = courier.store(runtime.db, message, insert=runtime.intake_insert)
        runtime.opted_out.refresh_if_due(runtime.db.session)
        if stored is None:  # a retry: the first one's answer stands
            return twiml(courier.answered_before(runtime.db, message.sid))
        runtime.decide_later(stored)
        return twiml(None)
    # A crisis, urgent, STOP/START/HELP text, a command, a replay: decided and answered now, as always.
    # Committed by then, and its alerts handed to the queue (Redis down only delays them: the sweeper).
    answer = inbound.receive_sms(
        runtime.db,
        message,
        context=current_app.extensions["checkin.escalation"],
        **({"replied": replay.reply} if replay else {}),
    )
    # Who has opted out, for answering without the database should it fail (read once a minute at most).
    runtime.opted_out.refresh_if_due(runtime.db.session)
    return twiml(answer.reply)


@bp.post("/sms")
@twilio_signed
@intake.spooled(_sms_without_storage, retry=False)  # receive_sms retries a lost connection itself
def sms():
    return _sms()


@bp.post("/sms/fallback")
@twilio_signed
@intake.spooled(_sms_without_storage, retry=False, fallback=True)
def sms_fallback():
    """Twilio's fallback URL for the number's messaging: called when /twilio/sms failed or timed out."""
    return _sms()


# A call's progress, in the words a message's status uses (calls are Messages with channel "voice").
CALL_STATUS = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "sending",
    "in-progress": "sent",
    "completed": "delivered",
    "busy": "failed",
    "no-answer": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def _no_content():
    return ("", 204), None


@bp.post("/status")
@twilio_signed
@intake.spooled(_no_content)
def status_callback():
    runtime = current_app.extensions["checkin"]
    call_status = answered_by = None
    if request.form.get("CallSid") and not request.form.get("MessageSid"):
        sid = _sid("CallSid")
        call_status = _field("CallStatus", max_len=16).lower()
        if call_status not in CALL_STATUS:
            abort(400, f"CallStatus {call_status!r} is not a Twilio call status")
        state = CALL_STATUS[call_status]
        answered_by = (request.form.get("AnsweredBy") or "").lower()
        if state == "delivered" and (answered_by.startswith("machine") or answered_by == "fax"):
            state = "failed"  # an answering machine took the alert: nobody has it
    else:
        sid = request.form.get("MessageSid") and _sid("MessageSid")
        if not sid:
            abort(400, "missing MessageSid")
        state = _field("MessageStatus", max_len=16).lower()
        if state not in status.RANK:
            abort(400, f"MessageStatus {state!r} is not a Twilio message status")
    code_raw = request.form.get("ErrorCode") or ""
    error_code = whole_number(code_raw) if code_raw else None
    if code_raw and error_code is None:
        abort(400, "ErrorCode is not a number")
    outbox_id = optional_id("outbox", request.args.get("outbox"), "an outbox id")
    status.apply(
        runtime.db,
        status.StatusUpdate(
            sid=sid,
            status=state,
            error_code=error_code,
            outbox_id=outbox_id,
            from_number=request.form.get("From"),
            call_status=call_status,
            answered_by=answered_by or None,
        ),
        runtime.rules,
    )
    return "", 204
