"""Signed requests exactly as Twilio would send them, for `checkin simulate` and the benchmarks."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from twilio.request_validator import RequestValidator

# A Twilio message SID as the SMS webhook takes it (webhooks.twilio_sms.SIDS): SM..., or MM... with media.
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


def sms_params(
    from_: str, to: str, body: str, sid: str | None = None, account_sid: str | None = None
) -> dict[str, str]:
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": account_sid or "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


def replies_from_twiml(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    return [(el.findtext("Body") or el.text or "").strip() for el in root.iter("Message")]


def post_sms(
    settings,
    from_: str,
    to: str,
    body: str,
    server_url: str | None = None,
    timeout: float = 15,
    sid: str | None = None,
) -> list[str]:
    """POST a signed inbound SMS to the running service and return the texts of its reply (in the TwiML:
    a routine text's reply comes by REST a moment later, see checkin.intake)."""
    path = "/twilio/sms"
    public = settings.public_base_url + path
    params = sms_params(from_, to, body, sid=sid, account_sid=settings.twilio_account_sid)
    request = Request(
        (server_url.rstrip("/") + path) if server_url else public,
        data=urlencode(params).encode(),
        headers={
            "X-Twilio-Signature": sign(settings.twilio_auth_token, public, params),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with urlopen(request, timeout=timeout) as response:
        return replies_from_twiml(response.read().decode())


def refusal(exc: Exception, settings) -> str | None:
    """One line for a request the service refused (an HTTP error status), or None for any other failure.
    A 403 is the signature: it was made over this command's public URL, and the server checks it over
    the public base URL it was started with (and its auth token)."""
    from urllib.error import HTTPError

    if not isinstance(exc, HTTPError):
        return None
    if exc.code == 403:
        return (
            f"the service refused the signature (403): this command signed for {settings.public_base_url}, "
            "and the server checks the public base URL it was started with: "
            "give this command the server's PUBLIC_BASE_URL (and TWILIO_AUTH_TOKEN); --url only says where to send"
        )
    try:  # the reason the service gave, in one line (a 4xx says which field and why)
        said = exc.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        said = []
    return f"the service answered {exc.code} {exc.reason}" + (f": {said[0][:300]}" if said else "")
