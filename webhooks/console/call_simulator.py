"""The simulator's phone call: a member calls the group's number and presses keys or speaks, and the
coordinator reads what the service says and what facilitators would get, with nothing kept.

The call is played as Twilio plays it (webhooks.call_walker.CallWalker reads each TwiML answer and
follows its Gather, Record, Dial and Redirect), but each "webhook" runs the real step
(checkin.voice.steps, as /twilio/voice does) inside the simulator's rolled-back transaction
(simulator.rolled_back), so no call, message, escalation or outbox row survives. Like the texts,
the whole call is replayed from its start on every turn. What cannot be simulated is described:
a recording is not made (a transcript may be typed, read as Twilio's transcription callback
would be), and neither facilitators nor the crisis line are rung (each would-be ring counts as no
answer). A Spanish
caller's message is not recorded but heard by speech recognition, so it is typed like any speech.
Simulated CallSids start with "CAsim".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from textwrap import shorten
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select

from checkin.adapters import twiml
from checkin.db import utcnow
from checkin.escalation.models import AssessmentRecord
from checkin.escalation.service import RANK
from checkin.models import Group, Message, StaffUser
from checkin.voice import flow, steps
from checkin.voice.config import load as load_config
from webhooks.call_walker import CallWalker, Step
from webhooks.console.simulator import Send, rolled_back, sends, stand_in

SID_PREFIX = "CAsim"
KEYS = "123456789*0#"  # in keypad order
MAX_INPUTS = 40
MAX_SPEECH = steps.MAX_SPEECH
MAX_TRANSCRIPT = steps.MAX_TRANSCRIPT
WAIT = "wait"


class CallInputError(ValueError):
    """An input the call cannot take (the reason says why), with the call as it was before it."""

    def __init__(self, reason: str, call: SimulatedCall | None = None):
        super().__init__(reason)
        self.call = call


@dataclass(frozen=True)
class Line:
    kind: str  # "say": the service speaks · "note": what would happen that cannot be simulated · "end"
    text: str
    language: str = ""  # a <Say>'s BCP-47 language, e.g. es-US


@dataclass(frozen=True)
class CallTurn:
    given: str  # the caller's input token ("" for the call coming in)
    lines: tuple[Line, ...]
    level: str | None  # the highest assessment of what the caller said or pressed this turn
    alerts: tuple[Send, ...] = ()
    other: tuple[Send, ...] = ()

    @property
    def label(self) -> str:
        """The caller's input in words, after "After ..."."""
        kind, _, value = self.given.partition(":")
        words = f"“{shorten(value, 60, placeholder='…')}”"
        return {
            "key": f"pressing {value}",
            "say": f"saying {words}",
            "transcript": f"the recording's transcript {words}",
            "wait": "staying silent",
        }.get(kind, "the call coming in")

    @property
    def shown(self) -> str:
        """The caller's input as the phone shows it."""
        kind, _, value = self.given.partition(":")
        return {
            "key": f"Pressed {value}",
            "say": f"“{value}”",
            "transcript": f"Recording's transcript: “{value}”",
            "wait": "(stays silent)",
        }.get(kind, "")


@dataclass(frozen=True)
class SimulatedCall:
    turns: tuple[CallTurn, ...]
    listening: str  # what the service waits for: "dtmf speech", "dtmf" (keys only), or "" (the call is over)
    transcribable: bool = (
        False  # over, after a recording Twilio would transcribe, and no transcript given yet
    )

    @property
    def inputs(self) -> list[str]:
        return [t.given for t in self.turns if t.given]


def sid() -> str:
    return SID_PREFIX + uuid.uuid4().hex[: 34 - len(SID_PREFIX)]


def check(token: str) -> str:
    """One input as the page posts it: key:<0-9*#>, say:<words>, transcript:<words> or wait."""
    kind, _, value = token.partition(":")
    if token == WAIT:
        return token
    if kind == "key":
        if len(value) != 1 or value not in KEYS:
            raise CallInputError(f"Key: {value[:8]!r} is not a key on a phone keypad (0-9, * or #)")
        return token
    if kind in ("say", "transcript"):
        words, limit = value.strip(), MAX_SPEECH if kind == "say" else MAX_TRANSCRIPT
        if not words:
            raise CallInputError(
                "Say: type what the caller says"
                if kind == "say"
                else "Transcript: type what the recording says"
            )
        if len(words) > limit:
            raise CallInputError(f"{kind.capitalize()}: at most {limit} characters, as Twilio passes on")
        return f"{kind}:{words}"
    raise CallInputError(f"not a caller's input: {token[:20]!r}")


def run_call(
    db, member_id: int, group_id: int, inputs: list[str], *, context, base: str, now: datetime | None = None
) -> SimulatedCall:
    """The member calls the group's number and gives `inputs` in turn; what each caused.

    `base` is the public URL of /twilio/voice, as the webhook builds it. An input the call cannot
    take raises CallInputError carrying the call up to that point."""
    if len(inputs) > MAX_INPUTS:
        raise CallInputError(
            f"at most {MAX_INPUTS} key presses or answers in one simulated call; start a new call"
        )
    inputs = [check(token) for token in inputs]
    now = now or utcnow()
    cfg = load_config()
    with rolled_back(db) as dry:
        with dry.session() as session:
            # Texted as a stand-in with the member's profile: nothing names the real member (simulator.py).
            member, group = stand_in(session, member_id), session.get(Group, group_id)
            from_number, to_number = member.phone, group.phone_number or ""
        caller = _Caller(dry, base, context, cfg, now)
        walker = CallWalker(caller.post, "", from_number, to_number, call_sid=sid())
        caller.call_sid = walker.call_sid
        turns: list[CallTurn] = []
        transcribable = False

        def take(given: str, lines: list[Line]) -> None:
            alerts, other, level = caller.collect()
            turns.append(CallTurn(given, tuple(lines), level, alerts, other))

        lines, listening = _follow(walker, walker.start(base), caller)
        take("", lines)
        for token in inputs:
            so_far = SimulatedCall(tuple(turns), listening, transcribable)
            kind, _, value = token.partition(":")
            if kind == "transcript":
                if not transcribable:
                    raise CallInputError(
                        "Transcript: only after a recording that Twilio transcribes (English, after the call)",
                        so_far,
                    )
                walker.transcription(value)
                transcribable = False
                take(
                    token,
                    [
                        Line(
                            "note", "The message is written out in words after the call and read like a text."
                        )
                    ],
                )
                continue
            if not listening:
                raise CallInputError("the call is over: start a new call", so_far)
            if kind == "say" and "speech" not in listening:
                raise CallInputError("Say: this question takes keys only", so_far)
            step = (
                walker.silence()
                if token == WAIT
                else walker.say(value)
                if kind == "say"
                else walker.press(value)
            )
            lines, listening = _follow(walker, step, caller)
            transcribable = not listening and bool(
                walker.last_record is not None and walker.last_record.get("transcribeCallback")
            )
            take(token, lines)
        return SimulatedCall(tuple(turns), listening, transcribable)


class _Caller:
    """Twilio's side of the wire: each request runs the step its URL names in its own unit of work
    on the rolled-back connection, and notes what that wrote to the outbox."""

    def __init__(self, dry, base: str, context, cfg, now: datetime):
        self.dry, self.base, self.context, self.cfg, self.now = dry, base, context, cfg, now
        self.call_sid = ""
        self.outbox_ids: list[int] = []
        self.levels_seen = 0

    def post(self, path: str, params: dict) -> str:
        parts = urlsplit(path)
        prefix = urlsplit(self.base).path
        name = parts.path[len(prefix) :].strip("/")
        step = steps.named(name, dict(parse_qsl(parts.query))) if name else flow.start
        with self.dry.session() as session:
            response = steps.run(
                session,
                steps.call_input(params),
                step,
                cfg=self.cfg,
                base=self.base,
                ctx=self.context,
                now=self.now,
            )
        self.outbox_ids += self.dry.take_send_ids()
        return twiml.render(response) if response is not None else ""

    def collect(self) -> tuple[tuple[Send, ...], tuple[Send, ...], str | None]:
        """What the requests since the last collect wrote: (alerts, other sends, highest level)."""
        with self.dry.session() as session:
            alerts, other = sends(session, self.outbox_ids)
            levels = session.scalars(
                select(AssessmentRecord.level)
                .join(Message, Message.id == AssessmentRecord.message_id)
                .where(Message.provider_sid.like(f"{self.call_sid}:%"))
                .order_by(AssessmentRecord.id)
            ).all()
        self.outbox_ids = []
        new, self.levels_seen = levels[self.levels_seen :], len(levels)
        return alerts, other, max(new, key=RANK.__getitem__) if new else None

    def staff_name(self, phone: str) -> str:
        with self.dry.session() as session:
            return session.scalar(select(StaffUser.name).where(StaffUser.phone == phone)) or "a facilitator"


def _follow(walker: CallWalker, step: Step, caller: _Caller) -> tuple[list[Line], str]:
    """Play the TwiML on until the service waits for the caller (a Gather) or the call is over:
    what is said, and what would happen at each recording and ring."""
    lines: list[Line] = []
    while True:
        lines += [Line("say", (el.text or "").strip(), el.get("language", "")) for el in step.says_first]
        gather, record, dial = step.find("Gather"), step.find("Record"), step.find("Dial")
        if gather is not None:
            return lines, gather.get("input", "dtmf")
        if dial is not None:
            number = dial.findtext("Number") or ""
            who = "the crisis line" if number == caller.cfg.crisis_line else caller.staff_name(number)
            lines.append(
                Line(
                    "note",
                    f"Rings {who} for up to {dial.get('timeout', '30')} s (not placed here: no answer).",
                )
            )
            step = walker.dial_result("no-answer")
        elif record is not None:
            note = f"(the caller would now leave a recording of up to {record.get('maxLength', '60')} s)"
            if record.get("transcribeCallback"):
                note += " — Twilio transcribes it after the call: type a transcript below once the call ends to see how it is read."
            lines.append(Line("note", note))
            step = walker.record(audio=False)
        elif step.find("Redirect") is not None and step.find("Hangup") is None:
            step = walker.redirect()
        else:
            lines.append(Line("end", "The call ends."))
            return lines, ""
