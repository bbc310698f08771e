"""Malformed input gets a 4xx with a reason, or is stored once: never a 500 from the database.

PostgreSQL refuses NUL in text and integers past 2^31-1; a regex ending in '$' lets a trailing
newline through. Each case here was a 500 (or a second copy of a message) before."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkin.models import Member, Message
from tests.console_helpers import Console, make_staff
from webhooks.simulate import sms_params

from .conftest import ACCOUNT_SID, FROM_NUMBER

TOO_BIG = "99999999999"  # past PostgreSQL's integer


def stored(db):
    with db.session() as s:
        return s.scalars(select(Message).where(Message.direction == "inbound")).all()


def test_a_sid_with_a_trailing_newline_is_refused_not_stored_twice(twilio, db, member):
    params = sms_params(member.phone, FROM_NUMBER, "hello", account_sid=ACCOUNT_SID)
    assert twilio.post("/twilio/sms", params).status_code == 200
    again = twilio.post("/twilio/sms", dict(params, MessageSid=params["MessageSid"] + "\n"))
    assert again.status_code == 400
    assert "MessageSid" in again.get_data(as_text=True)
    assert len(stored(db)) == 1


def test_a_text_to_a_whatsapp_sender_is_refused_with_the_reason(twilio, db, member):
    # 'whatsapp:+15005550006' is 21 characters: the 20-character column made this a 500 on PostgreSQL.
    # WhatsApp is not a channel yet (tests/test_webhook_refusals.py): a 400 that says so, nothing stored.
    response = twilio.sms(member.phone, "hello from whatsapp", to="whatsapp:" + FROM_NUMBER)
    assert response.status_code == 400
    assert "To is a whatsapp address: this webhook takes SMS only" in response.get_data(as_text=True)
    assert stored(db) == []


def test_a_nul_byte_in_to_is_refused_with_a_reason(twilio, db, member):
    response = twilio.sms(member.phone, "hello", to=FROM_NUMBER + "\x00")
    assert response.status_code == 400
    assert "To contains a control character" in response.get_data(as_text=True)
    assert stored(db) == []


def test_control_bytes_in_a_members_words_are_dropped_and_the_words_kept(twilio, db, member):
    response = twilio.sms(member.phone, "feeling\x00 okay\x07 today\nthanks")
    assert response.status_code == 200
    [message] = stored(db)
    assert message.body == "feeling okay today\nthanks"


@pytest.mark.parametrize(
    ("query", "form", "reason"),
    [
        (f"?outbox={TOO_BIG}", {}, "outbox must be an outbox id"),
        ("?outbox=%C2%B2", {}, "outbox must be an outbox id"),  # '²' passes str.isdigit()
        ("", {"ErrorCode": TOO_BIG}, "ErrorCode is not a number"),
        ("", {"ErrorCode": "\u00b3"}, "ErrorCode is not a number"),
    ],
)
def test_status_callback_numbers_out_of_range_are_400(twilio, query, form, reason):
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID, **form}
    response = twilio.post("/twilio/status" + query, params)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)


def test_call_duration_past_the_integer_range_is_400(twilio):
    params = {
        "CallSid": "CA" + "b" * 32,
        "CallStatus": "completed",
        "CallDuration": TOO_BIG,
        "AccountSid": ACCOUNT_SID,
    }
    response = twilio.post("/twilio/voice/status", params)
    assert response.status_code == 400
    assert "CallDuration" in response.get_data(as_text=True)


@pytest.fixture
def coordinator_console(db, client):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/console/members/{TOO_BIG}", 404),
        (f"/console/escalations/{TOO_BIG}", 404),
        (f"/console/audit?member={TOO_BIG}", 400),
        ("/console/members?group=%C2%B2", 400),
        (f"/console/escalations?group={TOO_BIG}", 400),
        ("/console/members?group=1%00", 400),
    ],
)
def test_console_ids_out_of_range_are_4xx(coordinator_console, path, status):
    response = coordinator_console.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]


def test_database_errors_do_not_carry_phone_numbers(db, member):
    # The engine hides bound parameters, so an error that reaches a log names no number.
    with db.session() as s:
        s.add(Member(phone=member.phone, display_name="Someone Else"))
        with pytest.raises(IntegrityError) as info:
            s.flush()
        s.rollback()
    assert member.phone not in str(info.value)
    assert "Someone Else" not in str(info.value)
