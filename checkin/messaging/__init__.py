"""The messaging port: how the domain sends an SMS or places a call, whatever carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from checkin.messaging.errors import is_transient, meaning


@dataclass(frozen=True)
class OutboundSms:
    to: str
    body: str
    from_: str | None
    status_callback: str | None
    outbox_id: int


@dataclass(frozen=True)
class OutboundCall:
    """A phone call whose script is fetched from `twiml_url` when answered."""

    to: str
    twiml_url: str
    from_: str | None
    status_callback: str | None
    outbox_id: int
    # Twilio MachineDetection: "Enable" answers at once with who picked up; "DetectMessageEnd"
    # waits for a machine's beep, so a message left on it is heard whole. None: no detection.
    machine_detection: str | None = "Enable"


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str


class SendError(Exception):
    """The provider refused or we could not reach it. `transient` says whether a retry may help."""

    def __init__(self, code: int | None, message: str, http_status: int | None = None):
        self.code = code
        self.http_status = http_status
        self.transient = is_transient(code, http_status)
        self.reason = meaning(code, message)
        super().__init__(f"{code or http_status or 'network'}: {self.reason}")


class MessagingPort(Protocol):
    name: str

    def send_sms(self, sms: OutboundSms) -> SendResult: ...

    def place_call(self, call: OutboundCall) -> SendResult: ...

    def find_sent(
        self, request: OutboundSms | OutboundCall, since: datetime, exclude: frozenset[str]
    ) -> SendResult | None:
        """The provider's record of this send made since `since` (a SID not in `exclude`), if any.

        Asked before re-sending a request whose earlier attempt's outcome is unknown (a timeout, a
        worker that died mid-call): the provider may have it. Raises SendError when it cannot tell."""
        ...
