"""The Twilio backend: the real twilio Client, optionally rebased onto TWILIO_API_BASE_URL."""

from __future__ import annotations

from datetime import datetime

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from checkin.adapters.twilio_http import QuietTwilioHttpClient, RebasedTwilioHttpClient
from checkin.messaging import OutboundCall, OutboundSms, SendError, SendResult
from config.settings import TWILIO_API_DEFAULT


def make_client(settings, timeout: float = 10.0) -> Client:
    """The twilio library's client, with our quiet HTTP client (rebased onto TWILIO_API_BASE_URL if set)."""
    if settings.twilio_api_base_url != TWILIO_API_DEFAULT:
        http_client = RebasedTwilioHttpClient(settings.twilio_api_base_url, timeout=timeout)
    else:
        http_client = QuietTwilioHttpClient(timeout=timeout)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


class TwilioPort:
    name = "twilio"

    def __init__(self, settings, timeout: float = 10.0):
        self.client = make_client(settings, timeout)
        self.from_number = settings.twilio_from_number
        self.messaging_service_sid = settings.twilio_messaging_service_sid

    def send_sms(self, sms: OutboundSms) -> SendResult:
        params = {"to": sms.to, "body": sms.body}
        if sms.from_:
            params["from_"] = sms.from_
        elif self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if sms.status_callback:
            params["status_callback"] = sms.status_callback
        return _create(self.client.messages, params)

    def place_call(self, call: OutboundCall) -> SendResult:
        params = {"to": call.to, "from_": call.from_ or self.from_number, "url": call.twiml_url}
        if call.status_callback:
            params["status_callback"] = call.status_callback
        if call.machine_detection:
            # An answering machine must not "acknowledge" an alert; the script can tell who answered.
            params["machine_detection"] = call.machine_detection
        return _create(self.client.calls, params)

    def find_sent(
        self, request: OutboundSms | OutboundCall, since: datetime, exclude: frozenset[str]
    ) -> SendResult | None:
        """Twilio's newest messages (calls) to this number from this sender, matched on the body (for a
        call: any call) created since `since` and not already known to be another row's send."""
        sender = request.from_ or (None if self.messaging_service_sid else self.from_number)
        filters = {"to": request.to, **({"from_": sender} if sender else {})}
        try:
            if isinstance(request, OutboundCall):
                found = self.client.calls.list(limit=RECONCILE_PAGE, **filters)
            else:
                found = [
                    m
                    for m in self.client.messages.list(limit=RECONCILE_PAGE, **filters)
                    if m.body == request.body
                ]
        except TwilioRestException as exc:
            raise SendError(exc.code, exc.msg, http_status=exc.status) from None
        except (TwilioException, OSError) as exc:
            raise SendError(None, type(exc).__name__) from None
        candidates = [r for r in found if r.sid not in exclude and r.date_created and r.date_created >= since]
        if not candidates:
            return None
        oldest = min(candidates, key=lambda r: r.date_created)
        return SendResult(sid=oldest.sid, status=oldest.status or "queued")


# Newest first: a number gets far fewer than this many messages between two attempts of one send.
RECONCILE_PAGE = 50


def _create(resource, params) -> SendResult:
    """Create a message or call; Twilio's refusals and network failures become SendError."""
    try:
        created = resource.create(**params)
    except TwilioRestException as exc:
        raise SendError(exc.code, exc.msg, http_status=exc.status) from None
    except (TwilioException, OSError) as exc:
        # Connection refused, timeout, TLS: we do not know whether Twilio has it.
        raise SendError(None, type(exc).__name__) from None
    return SendResult(sid=created.sid, status=created.status or "queued")
