"""TwiML for a voice Script (checkin.voice.script), rendered with the twilio library.

The call flow decides what is said and gathered; this turns its Script into the XML Twilio reads.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from checkin.voice.script import Script, Verb

CONTENT_TYPE = "text/xml; charset=utf-8"


def _add(parent, verb: Verb) -> None:
    if verb.name == "say":
        parent.say(verb.text, **verb.options)
    elif verb.name == "gather":
        gather = parent.gather(**verb.options)
        for child in verb.children:
            _add(gather, child)
    elif verb.name == "dial":
        dial = parent.dial(**verb.options)
        for child in verb.children:
            dial.number(child.text)
    elif verb.name == "record":
        parent.record(**verb.options)
    elif verb.name == "redirect":
        parent.redirect(verb.text, **verb.options)
    elif verb.name == "hangup":
        parent.hangup()
    else:
        raise ValueError(f"no TwiML for the verb {verb.name!r}")


def response(script: Script) -> VoiceResponse:
    twiml = VoiceResponse()
    for verb in script.verbs:
        _add(twiml, verb)
    return twiml


def render(script: Script) -> str:
    """The TwiML document for `script`."""
    return str(response(script))
