"""The development backend: nothing leaves the machine; the message is printed and stored.

Production refuses this backend (see config.settings), so printing a body here is a
developer looking at their own test data, not a log line about a member.
"""

from __future__ import annotations

import sys
import uuid

from checkin.messaging import OutboundCall, OutboundSms, SendResult


class ConsolePort:
    name = "console"

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send_sms(self, sms: OutboundSms) -> SendResult:
        sid = "SMconsole" + uuid.uuid4().hex[:23]
        print(f"[console sms outbox={sms.outbox_id} to={sms.to}] {sms.body}", file=self.stream, flush=True)
        return SendResult(sid=sid, status="sent")

    def find_sent(self, request, since, exclude) -> SendResult | None:
        return None  # printing cannot time out half-way: an earlier attempt either printed or failed

    def place_call(self, call: OutboundCall) -> SendResult:
        sid = "CAconsole" + uuid.uuid4().hex[:23]
        print(
            f"[console call outbox={call.outbox_id} to={call.to}] script at {call.twiml_url}",
            file=self.stream,
            flush=True,
        )
        return SendResult(sid=sid, status="queued")
