"""What a call's TwiML says, checked: every prompt in one language and its voice, 988 and 911 digit by digit."""

from __future__ import annotations

import re

from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from webhooks.call_walker import CallWalker

VOICES = {"en": ("en-US", "Polly.Joanna"), "es": ("es-US", "Polly.Lupe")}  # as config/voice.toml sets them
OFFERS = {"Para español, oprime 8.", "For English, press 8."}  # said by the other language's voice
CRISIS_LINE = "+18002738255"  # config/voice.toml crisis_line.number: the Lifeline's ten-digit number
WHOLE = re.compile(r"\b(988|911)\b")  # read as "nine hundred eighty-eight": never in a <Say>


def spoken_in(step, language: str) -> None:
    """Every <Say> of the step is in `language`, by its voice, but the offer to switch language;
    and no <Say> reads 988 or 911 as a whole number."""
    said = [
        (el.text, (el.get("language"), el.get("voice")))
        for el in step.root.iter("Say")
        if el.text not in OFFERS
    ]
    assert said and all(attrs == VOICES[language] for _, attrs in said), said
    digits_only(step)


def digits_only(step) -> None:
    """988 and 911 are said digit by digit ("9 8 8") in every <Say> of the step."""
    whole = [el.text for el in step.root.iter("Say") if WHOLE.search(el.text or "")]
    assert whole == [], whole


def placed_call(twilio, settings, phone: str) -> CallWalker:
    """A call we placed to `phone` from the group's number, its webhooks posted (signed) through the test client."""
    return CallWalker(
        lambda p, d: twilio.post(p, d).get_data(as_text=True),
        settings.public_base_url,
        FROM_NUMBER,
        phone,
        ACCOUNT_SID,
        direction="outbound-api",
    )
