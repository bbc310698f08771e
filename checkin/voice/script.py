"""What a call hears and is asked next, decided by the flow and written down without the wire format.

A `Script` is the answer to one voice webhook: a list of verbs (say, gather, record, dial,
redirect, hangup) with their options, as the call flow (checkin.voice.flow) decides them. It has
the shape of Twilio's TwiML, because that is what a call does, but not its syntax:
checkin.adapters.twiml renders it with the twilio library, and the webhook answers with that.
Option names are the twilio library's keyword arguments (`num_digits`, `speech_timeout`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Verb:
    name: str  # say, gather, record, dial, number, redirect, hangup
    text: str | None = None  # what <Say> says, <Number> dials, <Redirect> goes to
    options: dict = field(default_factory=dict)
    children: list[Verb] = field(default_factory=list)


class _Verbs:
    def __init__(self) -> None:
        self.verbs: list[Verb] = []

    def _add(self, verb: Verb) -> Verb:
        self.verbs.append(verb)
        return verb

    def say(self, text: str, **options) -> None:
        self._add(Verb("say", text, options))


class Gather(_Verbs):
    """A <Gather>: what is said inside it can be interrupted by a key."""

    def __init__(self, options: dict) -> None:
        super().__init__()
        self.options = options


class Dial:
    def __init__(self, verb: Verb) -> None:
        self._verb = verb

    def number(self, number: str) -> Dial:
        self._verb.children.append(Verb("number", number))
        return self


class Script(_Verbs):
    """One webhook's answer: the verbs in order."""

    def gather(self, **options) -> Gather:
        gather = Gather(options)
        self._add(Verb("gather", None, options, gather.verbs))
        return gather

    def record(self, **options) -> None:
        self._add(Verb("record", None, options))

    def dial(self, **options) -> Dial:
        return Dial(self._add(Verb("dial", None, options)))

    def redirect(self, url: str, **options) -> None:
        self._add(Verb("redirect", url, options))

    def hangup(self) -> None:
        self._add(Verb("hangup"))
