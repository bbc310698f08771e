"""What a call's TwiML says, checked: every prompt in one language and its voice."""

from __future__ import annotations

VOICES = {"en": ("en-US", "Polly.Joanna"), "es": ("es-US", "Polly.Lupe")}  # as config/voice.toml sets them
OFFERS = {"Para español, oprima 8.", "For English, press 8."}  # said by the other language's voice


def spoken_in(step, language: str) -> None:
    """Every <Say> of the step is in `language`, by its voice, but the offer to switch language."""
    said = [
        (el.text, (el.get("language"), el.get("voice")))
        for el in step.root.iter("Say")
        if el.text not in OFFERS
    ]
    assert said and all(attrs == VOICES[language] for _, attrs in said), said
