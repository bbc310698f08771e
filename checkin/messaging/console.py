"""The development backend: nothing leaves the machine; each message is written to a file of its own.

It stands in for the carrier, so the body is what it is for: a developer reads what a member would
have been sent. So that none of it reaches a service log, whatever CHECKIN_ENV says, it never prints:
it appends to `console-messages.log` in the instance folder (mode 0600, headed DEVELOPMENT ONLY),
with the number cut to its last 4 digits; `checkin dev` (`make run`) shows the new lines in its
terminal. Production refuses this backend altogether (config.settings).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from checkin.messaging import OutboundCall, OutboundSms, SendResult

FILE_NAME = "console-messages.log"
HEADER = (
    "# DEVELOPMENT ONLY: what the console messaging backend would have sent. Nothing left this machine;\n"
    "# numbers show their last 4 digits. Production refuses this backend.\n"
)


def masked(address: str) -> str:
    """The last 4 characters of a number or address, enough to tell demo members apart."""
    return "…" + address[-4:] if len(address) > 4 else "…"


class ConsolePort:
    name = "console"

    def __init__(self, out: Path | TextIO):
        """`out`: the instance folder's file (Runtime), or a stream (tests)."""
        self.out = out

    def _write(self, line: str) -> None:
        line = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {line}\n"
        if not isinstance(self.out, Path):
            self.out.write(line)
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:  # one write per line, appended: a worker's forked jobs never interleave within a line
            if os.fstat(fd).st_size == 0:
                os.write(fd, HEADER.encode())
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def send_sms(self, sms: OutboundSms) -> SendResult:
        sid = "SMconsole" + uuid.uuid4().hex[:23]
        self._write(f"sms outbox={sms.outbox_id} to={masked(sms.to)}: {sms.body}")
        return SendResult(sid=sid, status="sent")

    def find_sent(self, request, since, exclude) -> SendResult | None:
        return None  # writing cannot time out half-way: an earlier attempt either wrote or failed

    def place_call(self, call: OutboundCall) -> SendResult:
        sid = "CAconsole" + uuid.uuid4().hex[:23]
        self._write(f"call outbox={call.outbox_id} to={masked(call.to)}: script at {call.twiml_url}")
        return SendResult(sid=sid, status="queued")
