"""The numbers this service answers texts on: a text addressed to any other is refused (webhooks.twilio_sms).

Ours: TWILIO_FROM_NUMBER, every group's own number, and any number of the Messaging Service
TWILIO_MESSAGING_SERVICE_SID (a service's inbound webhook gets `MessagingServiceSid` with the text, and its
sender pool is Twilio's to know, not ours). A group's number is read from the database when a text first
comes to it and remembered for a while, so the everyday text costs a dictionary lookup, and a number given
to a group a moment ago is found at once (a refusal would lose the text: Twilio does not retry a 4xx).
"""

from __future__ import annotations

import threading
import time

from flask import Flask

from checkin import directory

REMEMBERED_SECONDS = 600.0  # a group's number, once found; re-read after this (a number taken away)


class OurNumbers:
    def __init__(self, from_number: str | None, service_sid: str | None, db):
        self.from_number = from_number
        self.service_sid = service_sid
        self.db = db
        self._found: dict[str, float] = {}  # group number -> until when it is taken as ours without a look
        self._lock = threading.Lock()

    def owns(self, to: str, service_sid: str | None = None) -> bool:
        """Whether a text to `to` (E.164), through the Messaging Service `service_sid` if any, is ours."""
        if to == self.from_number or (service_sid and service_sid == self.service_sid):
            return True
        now = time.monotonic()
        if self._found.get(to, 0.0) > now:
            return True
        with self.db.session() as session:
            found = directory.is_group_number(session, to)
        with self._lock:
            if found:
                self._found[to] = now + REMEMBERED_SECONDS
            else:
                self._found.pop(to, None)
        return found


def of(app: Flask) -> OurNumbers:
    found = app.extensions.get("checkin.our_numbers")
    if found is None:
        settings = app.extensions["checkin"].settings
        found = app.extensions["checkin.our_numbers"] = OurNumbers(
            settings.twilio_from_number, settings.twilio_messaging_service_sid, app.extensions["checkin"].db
        )
    return found
