"""Escalation end to end: signed webhooks into the app on a real port, a real RQ worker, the
real twilio library against the loopback Twilio server, and the real rules engine."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from checkin.db import utcnow
from checkin.escalation import service
from checkin.escalation.models import Escalation, EscalationEvent
from checkin.models import OutboxItem
from tests.conftest import FROM_NUMBER
from tests.rota_helpers import off_shift_now, on_shift_now
from webhooks.simulate import post_sms
from workers.worker import Worker

DANA, ELI, FAY, OTTO = "+12025550201", "+12025550202", "+12025550203", "+12025550205"
CRISIS_TEXT = "I am going to kill myself tonight"


@pytest.fixture
def staff(db, group):
    from checkin.directory import add_group, add_staff

    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
        return {
            "dana": add_staff(s, "Dana", "dana@example.org", "facilitator", DANA, [group.name]),
            "eli": add_staff(s, "Eli", "eli@example.org", "facilitator", ELI, [group.name]),
            "fay": add_staff(s, "Fay", "fay@example.org", "facilitator", FAY, [group.name], tier="backup"),
            "otto": add_staff(s, "Otto", "otto@example.org", "facilitator", OTTO, ["Thursday Group"]),
        }


def work(rt):
    Worker(["alerts", "outbox"], connection=rt.redis, runtime=rt).work(burst=True)


def only_escalation(db):
    with db.session() as s:
        [esc] = s.scalars(select(Escalation)).all()
        return esc


def test_crisis_sms_to_facilitator_alert_to_ack_to_silence(live_app, fake_twilio, db, staff, member):
    rt = live_app
    # 1. The member's crisis text, signed, into the app on a real port.
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    assert "988" in reply and "911" in reply and "facilitator is being told" in reply
    esc = only_escalation(db)
    assert esc.level == "crisis"
    # 2. A real worker sends the alerts through the real twilio Client to the loopback server.
    work(rt)
    messages = fake_twilio.wait_for_messages(2)
    calls = fake_twilio.wait_for_calls(2)
    to_dana = next(m for m in messages if m["params"]["To"] == DANA)
    link = f"{rt.settings.public_base_url}/console/escalations/{esc.id}"
    assert (
        to_dana["params"]["Body"]
        == f"Checkin ALERT {esc.id} (crisis): Sam, Tuesday Group. Reply ACK {esc.id} to take it. {link}"
    )
    assert sorted(m["params"]["To"] for m in messages) == [DANA, ELI]
    call = next(c for c in calls if c["params"]["To"] == DANA)
    assert call["params"]["Url"].endswith(f"/twilio/voice/alert/{esc.id}")
    assert call["params"]["MachineDetection"] == "Enable"
    assert call["params"]["StatusCallback"].startswith(f"{rt.settings.public_base_url}/twilio/status?outbox=")
    # 3. Dana takes it from her phone.
    [ack] = post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    work(rt)
    told = fake_twilio.wait_for_messages(3)[2]
    assert told["params"]["To"] == ELI and "taken by Dana" in told["params"]["Body"]
    # 4. Time passes beyond every widening timeout: nobody else is paged.
    with db.session() as s:
        assert service.advance(s, utcnow() + timedelta(minutes=16), rt.escalation) == 0
    work(rt)
    assert len(fake_twilio.messages()) == 3 and len(fake_twilio.calls()) == 2
    [resolved] = post_sms(rt.settings, DANA, FROM_NUMBER, f"RESOLVE {esc.id} talked, safe")
    assert "resolved" in resolved
    with db.session() as s:
        assert service.advance(s, utcnow() + timedelta(hours=6), rt.escalation) == 0
    work(rt)
    assert len(fake_twilio.messages()) == 3 and len(fake_twilio.calls()) == 2
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(EscalationEvent).order_by(EscalationEvent.id))]
    assert kinds[:2] == ["assessed", "opened"]
    assert kinds.count("notified") == 4 and kinds.count("sent") == 4
    assert kinds[-2:] == ["acknowledged", "resolved"]


def test_the_alert_reaches_the_facilitator_on_shift_not_the_one_off_shift(
    live_app, fake_twilio, db, staff, member, group
):
    rt = live_app
    with db.session() as s:
        on_shift_now(s, group.id, staff["dana"].id)
        off_shift_now(s, group.id, staff["eli"].id)
        s.commit()
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    [call] = fake_twilio.wait_for_calls(1)
    assert text["params"]["To"] == DANA and call["params"]["To"] == DANA
    assert ELI not in {m["params"]["To"] for m in fake_twilio.messages()} | {
        c["params"]["To"] for c in fake_twilio.calls()
    }


def test_undelivered_alert_callback_falls_back_to_call_and_next_facilitator(
    live_app, fake_twilio, db, staff, member
):
    rt = live_app
    post_sms(rt.settings, member.phone, FROM_NUMBER, "please call me, I need to talk to someone")
    esc = only_escalation(db)
    assert esc.level == "urgent"
    work(rt)
    messages = fake_twilio.wait_for_messages(2)
    assert fake_twilio.calls() == []  # urgent: SMS only
    to_dana = next(m for m in messages if m["params"]["To"] == DANA)
    # The carrier reports Dana's alert undelivered, in a signed callback to the app.
    assert fake_twilio.send_status(to_dana["sid"], "undelivered", error_code=30005) == 204
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    assert call["params"]["To"] == DANA
    messages = fake_twilio.wait_for_messages(3)
    assert messages[2]["params"]["To"] == FAY
    with db.session() as s:
        failed = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "failed"))
        assert failed.staff_id == staff["dana"].id and "no longer in service" in failed.detail


def test_call_that_reaches_a_machine_counts_as_failed(live_app, fake_twilio, db, staff, member):
    rt = live_app
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    work(rt)
    calls = fake_twilio.wait_for_calls(2)
    dana_call = next(c for c in calls if c["params"]["To"] == DANA)
    fake_twilio.send_status(dana_call["sid"], "completed", extra={"AnsweredBy": "machine_end_beep"})
    work(rt)
    # Fay (backup) is told now, not in five minutes.
    fake_twilio.wait_for(lambda: any(m["params"]["To"] == FAY for m in fake_twilio.messages()))
    assert any(c["params"]["To"] == FAY for c in fake_twilio.wait_for_calls(3))


# --- the call script and keypad acknowledgement ------------------------------------------------


def call_params(to, digits=None):
    params = {
        "CallSid": "CA" + "d" * 32,
        "AccountSid": "AC" + "1" * 32,
        "From": FROM_NUMBER,
        "To": to,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
    }
    if digits is not None:
        params["Digits"] = digits
    return params


def open_crisis(twilio, db, member):
    twilio.sms(member.phone, CRISIS_TEXT)
    return only_escalation(db)


def test_call_script_says_the_alert_and_gathers_one_digit(twilio, db, staff, member, settings):
    esc = open_crisis(twilio, db, member)
    response = twilio.post(f"/twilio/voice/alert/{esc.id}", call_params(DANA))
    assert response.status_code == 200 and response.content_type.startswith("text/xml")
    root = ET.fromstring(response.get_data(as_text=True))
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{settings.public_base_url}/twilio/voice/alert/{esc.id}/ack"
    assert (
        gather.find("Say").text
        == f"Checkin alert {esc.id}, crisis, Sam, Tuesday Group. Press 1 to acknowledge."
    )


def test_call_script_needs_a_signature(twilio, db, staff, member):
    esc = open_crisis(twilio, db, member)
    assert twilio.post(f"/twilio/voice/alert/{esc.id}", call_params(DANA), signature="").status_code == 403
    assert twilio.post("/twilio/voice/alert/999", call_params(DANA)).status_code == 404


def test_pressing_1_acknowledges_for_a_notified_facilitator(twilio, db, staff, member):
    esc = open_crisis(twilio, db, member)
    response = twilio.post(f"/twilio/voice/alert/{esc.id}/ack", call_params(DANA, "2"))
    assert "Not acknowledged" in response.get_data(as_text=True)
    assert only_escalation(db).state == "open"
    response = twilio.post(f"/twilio/voice/alert/{esc.id}/ack", call_params(OTTO, "1"))
    assert "cannot take it" in response.get_data(as_text=True)
    response = twilio.post(f"/twilio/voice/alert/{esc.id}/ack", call_params(DANA, "1"))
    assert f"You have taken alert {esc.id}" in response.get_data(as_text=True)
    esc = only_escalation(db)
    assert esc.state == "acknowledged" and esc.acknowledged_by == staff["dana"].id
    with db.session() as s:
        ack = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "acknowledged"))
        assert ack.channel == "voice"
        assert s.scalar(select(OutboxItem).where(OutboxItem.purpose == "alert_info")).to_number == ELI


def test_console_backend_prints_calls():
    import io

    from checkin.messaging import OutboundCall
    from checkin.messaging.console import ConsolePort

    out = io.StringIO()
    result = ConsolePort(out).place_call(
        OutboundCall("+12025550201", "http://x/twilio/voice/alert/1", None, None, 7)
    )
    assert result.sid.startswith("CA") and "outbox=7" in out.getvalue()
