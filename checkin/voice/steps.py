"""One webhook's worth of a call, without the web: the step an action URL names, and running it
(open the call's row once per CallSid, build the flow's Turn, say what the step says).

The Twilio voice webhook and the console's call simulator both run calls through here, so what
the simulator shows is what a caller would hear."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from checkin.escalation import failsafe
from checkin.escalation import service as escalation
from checkin.models import Group, Member
from checkin.phones import InvalidPhone, normalize_phone
from checkin.voice import calls, flow
from checkin.voice.config import VoiceConfig
from checkin.voice.script import Script

Step = Callable[[flow.Turn], "Script | None"]
log = logging.getLogger("checkin.voice")

MAX_SPEECH = 1000
MAX_TRANSCRIPT = 4000  # 60 seconds of speech is about 150 words


class NoSuchStep(LookupError):
    """An action URL that names no step of the flow."""


def int_arg(args: Mapping[str, str], name: str, low: int, high: int, default: int | None = None) -> int:
    """A whole-number query argument in [low, high]; ValueError naming it otherwise."""
    raw = args.get(name)
    if raw is None and default is not None:
        return default
    if raw is None or not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number {low}-{high}")
    return int(raw)


def _phone(params: Mapping[str, str], name: str) -> str:
    raw = (params.get(name) or "").strip()
    try:
        return normalize_phone(raw) if raw else ""
    except InvalidPhone:
        return ""  # a withheld or odd caller ID is an unknown caller, not an error


def call_input(params: Mapping[str, str]) -> calls.CallInput:
    """What Twilio posted to a voice webhook, checked (ValueError with the reason) and reduced.
    The CallSid's form is the caller's to check: the simulator's are not Twilio's."""
    sid = params.get("CallSid") or ""
    speech = params.get("SpeechResult") or ""
    if len(speech) > MAX_SPEECH:
        raise ValueError(f"SpeechResult is longer than {MAX_SPEECH} characters")
    transcript = params.get("TranscriptionText") or ""
    if len(transcript) > MAX_TRANSCRIPT:
        raise ValueError(f"TranscriptionText is longer than {MAX_TRANSCRIPT} characters")
    recording = params.get("RecordingUrl") or ""
    if recording and not recording.startswith(("https://", "http://")):
        raise ValueError("RecordingUrl is not a URL")
    return calls.CallInput(
        call_sid=sid,
        from_number=_phone(params, "From"),
        to_number=_phone(params, "To"),
        digits=(params.get("Digits") or "")[:8],
        speech=speech,
        recording_url=recording[:500],
        answered_by=(params.get("AnsweredBy") or "")[:24],
        dial_status=(params.get("DialCallStatus") or "").lower(),
        transcript=transcript if params.get("TranscriptionStatus") == "completed" else "",
    )


def _member_only(step: Step) -> Step:
    """Steps past the menu belong to a known member's call; anyone else hears a goodbye."""
    return lambda turn: step(turn) if turn.member is not None else turn.goodbye()


def named(name: str, args: Mapping[str, str]) -> Step:
    """The flow step an action URL (/twilio/voice/<name>?<args>) names, its arguments checked first."""
    if name in ("menu", "score", "phq9"):
        tries = int_arg(args, "tries", 0, flow.MAX_TRIES, default=0)
        return _member_only(lambda turn: getattr(flow, name)(turn, tries))
    if name == "dial":
        after = int_arg(args, "n", 0, 50)
        asked = (
            int_arg(args, "at", 0, 2**40) if "at" in args else None
        )  # absent in calls begun before it was added
        return _member_only(lambda turn: flow.dial(turn, after, asked))
    if name in ("recorded", "message"):
        return _member_only(getattr(flow, name))
    if name == "help":
        return _member_only(flow.help_choice)
    if name == "crisisline":
        return _member_only(flow.crisis_line)
    if name == "transcribed":  # Twilio's transcription callback: nothing is played
        of = args.get("of", "")
        return lambda turn: flow.transcribed(turn, of)
    if name == "unknown":
        choosing = args.get("choose") == "1"
        return lambda turn: flow.unknown(turn, choosing=choosing)
    raise NoSuchStep(name)


def run(
    session: Session,
    inp: calls.CallInput,
    step: Step,
    *,
    cfg: VoiceConfig,
    base: str,
    ctx: escalation.Context,
    now: datetime,
    outbound_call: Mapping | None = None,
) -> Script | None:
    """Open the call's row (once per CallSid) and run one flow step on it, in `session`.

    `outbound_call` ({"member", "kind", "outbox"}) opens a call we placed; otherwise an unopened
    call is one coming in, from the member whose number it is (if any)."""
    call = calls.find(session, inp.call_sid)
    if call is None and outbound_call is not None:
        member = session.get(Member, outbound_call["member"])
        group = calls.group_for(session, member, inp.from_number)
        call = calls.open_call(
            session,
            inp.call_sid,
            direction="outbound",
            member=member,
            group=group,
            kind=outbound_call["kind"],
            outbox_id=outbound_call.get("outbox"),
        )
    elif call is None:
        member = calls.member_for(session, inp.from_number)
        call = calls.open_call(
            session,
            inp.call_sid,
            direction="inbound",
            member=member,
            group=calls.group_for(session, member, inp.to_number),
        )
    if inp.answered_by:
        call.answered_by = inp.answered_by
    turn = flow.Turn(
        session=session,
        cfg=cfg,
        base=base,
        ctx=ctx,
        now=now,
        call=call,
        inp=inp,
        member=session.get(Member, call.member_id) if call.member_id else None,
        group=session.get(Group, call.group_id) if call.group_id else None,
    )
    return step(turn)


def run_or_fail_safe(session: Session, inp: calls.CallInput, step: Step, **kwargs) -> Script | None:
    """`run`, but a bug in the step (not the database) must not drop a caller who may be in crisis:
    whatever it wrote is undone and the call gets `fail_safe`, as a text gets inbound's."""
    try:
        return run(session, inp, step, **kwargs)
    except SQLAlchemyError:
        raise  # the database itself is failing: nothing can be stored, Twilio hears the error
    except Exception:
        log.exception("voice step failed call=%s; answering with 988/911 and alerting directly", inp.call_sid)
        failsafe.discard(session)
        return fail_safe(session, inp, kwargs["cfg"])


def fail_safe(session: Session, inp: calls.CallInput, cfg: VoiceConfig) -> Script:
    """A step failed (a bug, not the database): the caller still hears 988/911 and the people who
    would be alerted are, directly (checkin.escalation.failsafe), once per call. Call it on a clean
    session: whatever the failed step wrote has been rolled back."""
    member = calls.member_for(session, inp.from_number)
    lang = member.language if member is not None and member.language in cfg.languages else "en"
    who = member.first_name if member is not None else f"an unknown number, {inp.from_number or 'withheld'},"
    people = failsafe.recipients(session, member)
    failsafe.alert(
        session,
        people,
        f"alert:failsafe:call:{inp.call_sid}",
        f"Checkin ALERT (urgent): a phone call from {who} could not be processed automatically. "
        "Please call them back; the console has the number.",
    )
    response = Script()
    # As help now says it: 911 first, then who is being told and 988 (digit by digit, cfg.text).
    for key in ("danger", "failsafe" if people else "failsafe_unheard"):
        response.say(cfg.text(key, lang), **cfg.say_attrs(lang))
    response.hangup()
    return response
