"""Channels and addresses: how a message travels, and where to.

Every outbox row, message and consent decision names its channel and its address on that channel.
Today an address is an E.164 phone number on both channels; a WhatsApp address would be
`whatsapp:+1...`, an email address an email address. Consent, quiet hours and pacing apply to every
channel by construction (checkin.outbox.deliver); a channel the outbox does not know is refused
rather than sent unchecked.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    # Room for WHATSAPP = "whatsapp" and EMAIL = "email": a value here, a transport in checkin.outbox
    # (message-like or call-like), an inbound adapter in webhooks/, and the gates come with it.


class UnknownChannel(ValueError):
    def __init__(self, channel: str):
        self.channel = channel
        super().__init__(f"unknown channel {channel!r}: no transport and no gates for it")


def phone_of(channel: str, address: str) -> str:
    """The phone number behind an address (`whatsapp:+1...` -> `+1...`): consent is the person's, on
    whichever channel they said STOP."""
    scheme, sep, rest = address.partition(":")
    return rest if sep and scheme.isalpha() else address
