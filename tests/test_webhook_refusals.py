"""Requests the Twilio webhooks refuse, found by an outside fault tester: each refused with a 4xx that says
why, nothing stored, and one log line the operator can act on (ids only, never words or numbers)."""

import base64
import hashlib
import hmac
import logging
from functools import partial
from urllib.parse import quote_from_bytes

import pytest
from sqlalchemy import func, select

from checkin.models import Message
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, TwilioWebhook, decide_now, said
from tests.inbox_helpers import NOBODY_READS_SAM
from webhooks.call_walker import call_params
from webhooks.simulate import sms_params


def stored(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Message))


def refusals(caplog, path: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"refused POST {path}")]


# --- a body that is not UTF-8 -------------------------------------------------------------------


def post_bytes(twilio, path: str, fields: dict[str, bytes], *, escape: bool):
    """POST `fields` as a url-encoded body of raw bytes, signed as Twilio signs (HMAC-SHA1 over the URL and
    each name and value, sorted by name) over exactly those bytes: a signature that is right for the body."""
    url = twilio.settings.public_base_url + path
    signed = url.encode() + b"".join(name.encode() + fields[name] for name in sorted(fields))
    key = twilio.settings.twilio_auth_token.encode()
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha1).digest()).decode()
    value = (lambda v: quote_from_bytes(v, safe="").encode()) if escape else (lambda v: v)
    body = b"&".join(quote_from_bytes(n.encode()).encode() + b"=" + value(v) for n, v in fields.items())
    return twilio.client.post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


@pytest.mark.parametrize("escape", [True, False], ids=["escaped", "raw"])
def test_a_text_that_is_not_utf8_is_a_400_that_says_so(twilio, db, member, caplog, escape):
    sid = "SM" + "e" * 32
    latin1 = {k: v.encode() for k, v in sms_params(member.phone, FROM_NUMBER, "", sid, ACCOUNT_SID).items()}
    latin1["Body"] = "me siento fatal, quiero morir, qué hago".encode("latin-1")  # é is 0xE9: not UTF-8
    with caplog.at_level(logging.ERROR):
        response = post_bytes(twilio, "/twilio/sms", latin1, escape=escape)
    # Not "signature does not match" (which sends the operator after the auth token): the encoding.
    assert response.status_code == 400
    assert "not valid UTF-8" in response.get_data(as_text=True)
    assert stored(db) == 0
    [line] = refusals(caplog, "/twilio/sms")
    assert "not valid UTF-8" in line and f"sid={sid}" in line
    assert "morir" not in line and member.phone not in line and "2025550101" not in line

    # The same words in UTF-8, as Twilio sends them, are read (and answered: a crisis) as ever.
    utf8 = dict(latin1, Body="me siento fatal, quiero morir, qué hago".encode())
    response = post_bytes(twilio, "/twilio/sms", utf8, escape=True)
    assert response.status_code == 200 and "988" in response.get_data(as_text=True)
    assert stored(db) == 1


def test_a_call_step_that_is_not_utf8_is_a_400_that_says_so(twilio, db, member, caplog):
    sid = "CA" + "e" * 32
    fields = {k: v.encode() for k, v in call_params(sid, member.phone, FROM_NUMBER, ACCOUNT_SID).items()}
    fields["CallerName"] = "Jos\xe9".encode("latin-1")
    with caplog.at_level(logging.ERROR):
        response = post_bytes(twilio, "/twilio/voice", fields, escape=True)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.get_data(as_text=True)
    assert stored(db) == 0
    [line] = refusals(caplog, "/twilio/voice")
    assert f"sid={sid}" in line and "Jos" not in line


# --- a text to a number that is not ours ---------------------------------------------------------------

NOT_OURS = "+15005550199"
SERVICE = "MG" + "5" * 32


def test_a_text_to_a_number_that_is_not_ours_is_refused_and_logged(twilio, db, member, caplog):
    sid = "SM" + "f" * 32
    with caplog.at_level(logging.ERROR):
        response = twilio.sms(member.phone, "are we still meeting on Tuesday", sid=sid, to=NOT_OURS)
    assert response.status_code == 404
    assert "To is not a number of this service" in response.get_data(as_text=True)
    assert stored(db) == 0 and response.texted() == []  # nothing stored, nothing texted back
    [line] = refusals(caplog, "/twilio/sms")
    assert f"sid={sid}" in line and NOT_OURS not in line and "5550199" not in line and "Tuesday" not in line
    # The signature comes first: an unsigned request learns only that it is unsigned.
    assert twilio.sms(member.phone, "hi", to=NOT_OURS, signature="x").status_code == 403


def test_a_text_with_no_to_is_refused_and_logged(twilio, db, member, caplog):
    params = sms_params(member.phone, FROM_NUMBER, "hello", "SM" + "0" * 32, ACCOUNT_SID)
    del params["To"]
    with caplog.at_level(logging.ERROR):
        response = twilio.post("/twilio/sms", params)
    assert response.status_code == 400 and "missing To" in response.get_data(as_text=True)
    assert stored(db) == 0
    [line] = refusals(caplog, "/twilio/sms")
    assert "missing To" in line and "sid=SM" + "0" * 32 in line


def test_a_group_number_given_while_the_service_runs_is_ours_at_once(twilio, db, member):
    from checkin.directory import add_group, add_member

    assert twilio.sms(member.phone, "hello", to=NOT_OURS).status_code == 404
    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", NOT_OURS)
        add_member(s, "Thursday Group", "+12025550188", "Lee Park")
    response = twilio.sms("+12025550188", "STOP", to=NOT_OURS)
    assert response.status_code == 200 and "no more texts" in said(response)[0]


# Found by an outside tester: a crisis text to a number that is not ours got a 404, so the sender heard
# nothing. Still not stored (the number is misconfigured), but answered with 988/911 in both languages.
@pytest.mark.parametrize("body", ["i am going to kill myself tonight", "me tomé todas las pastillas"])
def test_a_crisis_to_a_number_not_ours_is_answered_with_988_and_not_stored(twilio, db, caplog, body):
    stranger, sid = "+12025550177", "SM" + "e" * 32
    with caplog.at_level(logging.ERROR):
        response = twilio.sms(stranger, body, sid=sid, to=NOT_OURS)
    assert response.status_code == 200
    [reply] = said(response)
    english, spanish = reply.split("\n\n")
    assert "988" in english and "911" in english and "988" in spanish and "911" in spanish
    assert "Te escuchamos" in spanish or "Gracias por contarnos" in spanish
    assert "facilitator" not in reply and "facilitador" not in reply  # nobody can be paged
    assert stored(db) == 0
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"sid={sid}" in line
    assert stranger not in line and NOT_OURS not in line and "pastillas" not in line and "kill" not in line


@pytest.fixture
def via_service(env, runtime):
    """The web app of a service that sends through a Messaging Service, with no TWILIO_FROM_NUMBER."""
    from checkin.bootstrap import Runtime
    from config import load_settings
    from webhooks import create_app

    settings = load_settings(dict(env, TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID=SERVICE))
    served = Runtime(settings=settings, db=runtime.db, port=runtime.port)
    served.decide_later = partial(decide_now, served)
    app = create_app(runtime=served)
    return TwilioWebhook(app.test_client(), settings)


def test_a_text_through_our_messaging_service_is_ours_whatever_number_of_its_pool(via_service, db, member):
    # A Messaging Service's inbound webhook: To is one of its pool's numbers, which only Twilio knows.
    params = dict(sms_params(member.phone, NOT_OURS, "hello", None, ACCOUNT_SID), MessagingServiceSid=SERVICE)
    response = via_service.post("/twilio/sms", params)
    assert response.status_code == 200
    with db.session() as s:
        assert s.scalar(select(Message.to_number)) == NOT_OURS
    response.texted = partial(texted, via_service, params["MessageSid"])
    assert said(response) == [NOBODY_READS_SAM]
    # Another account's service (or none) and a number that is not ours: refused.
    other = dict(
        sms_params(member.phone, NOT_OURS, "hi", None, ACCOUNT_SID), MessagingServiceSid="MG" + "6" * 32
    )
    assert via_service.post("/twilio/sms", other).status_code == 404
    alone = sms_params(member.phone, NOT_OURS, "hi", None, ACCOUNT_SID)
    assert via_service.post("/twilio/sms", alone).status_code == 404
    assert stored(db) == 1


def texted(webhook, sid):
    from tests.conftest import texted_replies

    return texted_replies(webhook.client.application, sid)


# --- WhatsApp -------------------------------------------------------------------------------------------


def test_a_whatsapp_message_is_refused_with_the_reason_and_logged(twilio, db, member, caplog):
    # What Twilio sends for a WhatsApp sender whose webhook points here: both addresses carry the channel.
    sid = "SM" + "7" * 32
    params = sms_params("whatsapp:" + member.phone, "whatsapp:" + FROM_NUMBER, "hola", sid, ACCOUNT_SID)
    with caplog.at_level(logging.ERROR):
        response = twilio.post("/twilio/sms", params)
    assert response.status_code == 400
    reason = response.get_data(as_text=True)
    assert "From is a whatsapp address: this webhook takes SMS only" in reason
    assert "whatsapp is not a Checkin channel yet" in reason
    assert stored(db) == 0
    [line] = refusals(caplog, "/twilio/sms")
    assert "whatsapp address" in line and f"sid={sid}" in line and "2025550101" not in line
