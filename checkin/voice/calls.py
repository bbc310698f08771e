"""What a call changes in the database: the call row (once per CallSid), what the caller said or
pressed (stored as inbound voice Messages and assessed exactly like texts), check-in answers,
recordings, and who to ring. Logs carry ids, never numbers or words."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import outbox, rota
from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.escalation import service as escalation
from checkin.escalation.models import AssessmentRecord, EscalationEvent
from checkin.models import Group, Member, Message, OutboxItem, StaffUser
from checkin.voice.models import VoiceCall, VoiceGroupOptions

log = logging.getLogger("checkin.voice")

FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True)
class CallInput:
    """One webhook from Twilio, reduced to what the call flow reads."""

    call_sid: str
    from_number: str = ""
    to_number: str = ""
    digits: str = ""
    speech: str = ""
    answered_by: str = ""
    recording_url: str = ""
    dial_status: str = ""
    transcript: str = ""


def find(session: Session, call_sid: str) -> VoiceCall | None:
    return session.scalar(select(VoiceCall).where(VoiceCall.call_sid == call_sid))


def open_call(
    session: Session,
    call_sid: str,
    *,
    direction: str,
    member: Member | None,
    group: Group | None,
    kind: str | None = None,
    outbox_id: int | None = None,
) -> VoiceCall:
    """The call's row, created on its first webhook; a retried webhook finds the same row."""
    call = find(session, call_sid)
    if call is not None:
        return call
    if direction == "outbound" and outbox_id is None:
        outbox_id = session.scalar(select(OutboxItem.id).where(OutboxItem.provider_sid == call_sid))
    call = VoiceCall(
        call_sid=call_sid,
        direction=direction,
        member_id=member.id if member else None,
        group_id=group.id if group else None,
        kind=kind,
        outbox_id=outbox_id,
        language=member.language if member else "en",
        status="in-progress",
    )
    try:
        with session.begin_nested():
            session.add(call)
            session.flush()
    except IntegrityError:
        call = find(session, call_sid)
    else:
        log.info("call %s opened direction=%s member=%s", call.id, direction, call.member_id)
    return call


def record_status(
    session: Session,
    call_sid: str,
    status: str,
    *,
    answered_by: str | None = None,
    duration: int | None = None,
    direction: str = "inbound",
) -> VoiceCall:
    """A call status callback. A call we never answered (busy, no answer) gets its row here."""
    call = find(session, call_sid) or open_call(
        session, call_sid, direction=direction, member=None, group=None
    )
    call.status = status
    if answered_by:
        call.answered_by = answered_by[:24]
    if duration is not None:
        call.duration_seconds = duration
    if status in FINAL_STATUSES and call.ended_at is None:
        call.ended_at = utcnow()
    return call


def member_for(session: Session, number: str) -> Member | None:
    return session.scalar(select(Member).where(Member.phone == number)) if number else None


def group_for(session: Session, member: Member | None, called: str) -> Group | None:
    """The group whose number was called, if the member belongs to it; else the member's first group."""
    if member is None:
        return None
    for group in member.groups:
        if called and group.phone_number == called:
            return group
    return member.groups[0] if member.groups else None


def asks_phq9(session: Session, group_id: int | None) -> bool:
    options = session.get(VoiceGroupOptions, group_id) if group_id else None
    return bool(options and options.ask_phq9_item9)


def set_phq9(session: Session, group_id: int, on: bool) -> None:
    options = session.get(VoiceGroupOptions, group_id)
    if options is None:
        options = VoiceGroupOptions(group_id=group_id)
        session.add(options)
    options.ask_phq9_item9 = on


# --- what the caller said or pressed --------------------------------------------------------


@dataclass(frozen=True)
class Heard:
    message: Message
    level: str  # the rules engine's verdict (raised by `raise_to`, if given)


def heard(
    session: Session,
    call: VoiceCall,
    member: Member,
    step: str,
    body: str,
    *,
    now: datetime,
    ctx: escalation.Context,
    raise_to: tuple[str, str] | None = None,
) -> Heard:
    """Store what the member said or pressed at `step` once, assess it like a text, and escalate.

    `raise_to` = (level, rule) for answers that are concerning by what they mean rather than by
    their words (keypad help, PHQ-9 item 9 >= 1, nobody answering): the verdict is raised to it.
    A retried webhook finds the stored message and gets the same level back."""
    sid = f"{call.call_sid}:{step}"[:64]
    message = Message(
        direction="inbound",
        channel="voice",
        provider_sid=sid,
        member_id=member.id,
        from_number=member.phone,
        to_number="",
        body=body,
        status="received",
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        # Twilio retried this webhook (or it raced in twice): the first one's verdict stands.
        existing = session.scalar(select(Message).where(Message.provider_sid == sid))
        record = session.scalar(select(AssessmentRecord).where(AssessmentRecord.message_id == existing.id))
        return Heard(existing, record.level if record else "none")
    # Speech is recognised in the call's language (8 switches it), so the words are read in that one.
    verdict = escalation.assess_message(session, member, message, source="voice", language=call.language)
    if raise_to is not None and escalation.RANK[raise_to[0]] > escalation.RANK[verdict.level]:
        rules = verdict.rules + (raise_to[1],)
        verdict.record.level, verdict.record.rules = raise_to[0], list(rules)
        verdict = escalation.Verdict(raise_to[0], rules, verdict.record)
    escalation.handle_verdict(session, member, message, verdict, now, ctx)
    log.info("call %s heard step=%s message=%s level=%s", call.id, step, message.id, verdict.level)
    return Heard(message, verdict.level)


def link_checkin(session: Session, call: VoiceCall, message: Message) -> CheckIn | None:
    """The check-in the score answered (record_answer filed it): tie it to this call."""
    checkin = session.scalar(select(CheckIn).where(CheckIn.message_id == message.id))
    if checkin is not None:
        checkin.call_sid = call.call_sid
        call.checkin_id = checkin.id
    return checkin


def attach_recording(session: Session, call: VoiceCall, url: str) -> None:
    """The caller's recorded message: on the call and on the check-in it belongs to."""
    call.recording_url = url[:500]
    if call.checkin_id:
        checkin = session.get(CheckIn, call.checkin_id)
        if checkin is not None:
            checkin.recording_url = url[:500]


def transcript_words(session: Session, call: VoiceCall, text: str) -> None:
    """A check-in's recorded message, transcribed: its words, unless it has some already."""
    checkin = session.get(CheckIn, call.checkin_id) if call.checkin_id else None
    if checkin is not None and not checkin.words:
        checkin.words = text


def note_voicemail(
    session: Session,
    call: VoiceCall,
    member: Member,
    now: datetime,
    *,
    url: str = "",
    message: Message | None = None,
) -> None:
    """A message left after no facilitator answered, recorded (`url`) or heard as words (the stored
    `message`, so the case names it, never its words): on the call and in the member's live case."""
    if url:
        call.recording_url = url[:500]
    esc = escalation.live_for(session, member.id)
    noted = message is not None and session.scalar(
        select(EscalationEvent.id).where(
            EscalationEvent.kind == "note", EscalationEvent.message_id == message.id
        )
    )
    if esc is not None and not noted:  # a retried webhook notes it once
        left = url or f"spoken, message {message.id}"
        session.add(
            EscalationEvent(
                escalation_id=esc.id,
                kind="note",
                at=now,
                level=esc.level,
                channel="voice",
                message_id=message.id if message is not None else None,
                detail=f"voice message from call {call.id}: {left}"[:255],
            )
        )


# --- who to ring, who to tell ------------------------------------------------------------------


def facilitators_on_call(session: Session, group_id: int | None, at: datetime) -> list[StaffUser]:
    """Whom "talk to a facilitator" rings, in order: the rota's on-call people at `at`, primaries first."""
    return rota.on_call(session, group_id, at)


def tell_coordinators(session: Session, call: VoiceCall, caller: str, url: str) -> list[OutboxItem]:
    """An unknown caller's message reaches every coordinator by text (once per call and coordinator);
    with no coordinator's phone, whoever can be reached (the group's facilitators, then any)."""
    coordinators = escalation.reachable(session, call.group_id)
    if not coordinators:
        log.error(
            "call %s: an unknown caller left a message and NOBODY CAN BE TOLD (no staff phone)", call.id
        )
    # They chose Spanish: whoever calls back should speak it.
    in_spanish = " in Spanish" if call.language == "es" else ""
    created = []
    for staff in coordinators:
        item, new = outbox.add(
            session,
            f"voice-message:{call.id}:{staff.id}",
            to=staff.phone,
            staff_id=staff.id,
            purpose="voice_message",
            body=f"Checkin: a caller who is not a member left a voice message{in_spanish} ({caller}): {url}",
        )
        if new:
            created.append(item)
    call.recording_url = url[:500]
    log.info("call %s: unknown caller's message sent to %d coordinator(s)", call.id, len(created))
    return created
