"""Phone-call alerts to facilitators: the script Twilio plays, and keypad 1 to acknowledge.

POST /twilio/voice/alert/<id>      TwiML: "Checkin alert 12, crisis, Sam, Tuesday group. Press 1 to acknowledge."
POST /twilio/voice/alert/<id>/ack  the <Gather> action: Digits=1 from a notified facilitator takes the escalation.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from checkin.db import utcnow
from checkin.escalation import service
from checkin.escalation.models import Escalation, EscalationState
from checkin.models import StaffUser
from checkin.phones import InvalidPhone, normalize_phone
from webhooks import intake
from webhooks.signature import twilio_signed

bp = Blueprint("twilio_voice_alerts", __name__, url_prefix="/twilio/voice/alert")


def _twiml(response: VoiceResponse):
    return str(response), 200, {"Content-Type": "text/xml; charset=utf-8"}


def _facilitator(session) -> StaffUser | None:
    """The staff user on the call: we called them (To), or they called in (From)."""
    for name in ("To", "Called", "From", "Caller"):
        raw = request.form.get(name)
        if not raw:
            continue
        try:
            number = normalize_phone(raw)
        except InvalidPhone:
            continue
        staff = session.scalar(select(StaffUser).where(StaffUser.phone == number, StaffUser.active.is_(True)))
        if staff is not None:
            return staff
    return None


def _script_without_storage():
    """The alert cannot be read: the facilitator still hears which alert it is and can take it."""
    escalation_id = request.view_args["escalation_id"]
    ctx = current_app.extensions["checkin.escalation"]
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        action=f"{ctx.base_url}/twilio/voice/alert/{escalation_id}/ack",
        method="POST",
        timeout=8,
    )
    gather.say(
        f"Checkin alert {escalation_id}. The details cannot be read right now; they are in the console. "
        "Press 1 to acknowledge."
    )
    response.say(f"No key pressed. The alert stays open. Reply by text with ACK {escalation_id}. Goodbye.")
    return _twiml(response), None


def _ack_without_storage():
    """The acknowledgement cannot be stored now: it is spooled (and applied when it can be); say so."""
    escalation_id = request.view_args["escalation_id"]
    response = VoiceResponse()
    if (request.form.get("Digits") or "").strip() != "1":
        response.say("Not acknowledged. The alert stays open. Goodbye.")
    else:
        response.say(
            f"Sorry, alert {escalation_id} cannot be recorded as taken right now; it will be as soon as it can. "
            f"To be sure, reply by text with ACK {escalation_id}. Goodbye."
        )
    return _twiml(response), None


@bp.post("/<int:escalation_id>")
@twilio_signed
@intake.spooled(_script_without_storage, keep=False)
def script(escalation_id: int):
    runtime = current_app.extensions["checkin"]
    ctx = current_app.extensions["checkin.escalation"]
    response = VoiceResponse()
    with runtime.db.session() as session:
        esc = session.get(Escalation, escalation_id)
        if esc is None:
            abort(404, "no such escalation")
        if esc.state == "resolved":
            response.say(f"Checkin alert {esc.id} is already resolved. Thank you. Goodbye.")
            return _twiml(response)
        text = service.voice_text(session, esc)
        taken = esc.state == EscalationState.ACKNOWLEDGED
    if taken:  # the holder, told of a new message: nothing to press
        response.say(text)
        response.pause(length=1)
        response.say(text)
        return _twiml(response)
    gather = response.gather(
        num_digits=1,
        action=f"{ctx.base_url}/twilio/voice/alert/{escalation_id}/ack",
        method="POST",
        timeout=8,
    )
    gather.say(text)
    gather.pause(length=1)
    gather.say(text)
    response.say(
        "No key pressed. The alert stays open. Reply by text with ACK " + str(escalation_id) + ". Goodbye."
    )
    return _twiml(response)


@bp.post("/<int:escalation_id>/ack")
@twilio_signed
@intake.spooled(_ack_without_storage)
def ack(escalation_id: int):
    runtime = current_app.extensions["checkin"]
    ctx = current_app.extensions["checkin.escalation"]
    digits = (request.form.get("Digits") or "").strip()
    response = VoiceResponse()
    with runtime.db.session() as session:
        esc = session.get(Escalation, escalation_id)
        if esc is None:
            abort(404, "no such escalation")
        staff = _facilitator(session)
        notified = staff is not None and staff.id in service.notified_staff(session, esc)
        if digits != "1":
            response.say("Not acknowledged. The alert stays open. Goodbye.")
            return _twiml(response)
        if not notified:
            response.say("This phone was not sent this alert, so it cannot take it. Goodbye.")
            return _twiml(response)
        result = service.acknowledge(session, esc, staff, utcnow(), via="voice", ctx=ctx)
    if result.ok:
        response.say(
            f"You have taken alert {escalation_id}. The others are being told. Details are in the console. Thank you."
        )
    else:
        response.say(result.reply)
    return _twiml(response)
