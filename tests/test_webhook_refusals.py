"""Requests the Twilio webhooks refuse, found by an outside fault tester: each refused with a 4xx that says
why, nothing stored, and one log line the operator can act on (ids only, never words or numbers)."""

import base64
import hashlib
import hmac
import logging
from urllib.parse import quote_from_bytes

import pytest
from sqlalchemy import func, select

from checkin.models import Message
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
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
