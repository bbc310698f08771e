"""Erasing a member: they become an anonymous row that keeps the counts, as RapidPro releases a contact.

What goes: their number (kept only as a keyed hash, so a text from it is still known to be from someone
who opted out, and is never answered), their name (an alias, "Erased member #12"), every body and reply
of their messages, check-in words, notes and details of their cases (rule ids included), rule ids of
their assessments, recording addresses, and their name, number and recordings in the texts staff were
sent about them. What stays: the rows themselves (so counts per group, levels, scores and states are
unchanged), their groups and language, the consent history (evidence that they opted in and out, with
no number), the audit trail (which names members by id only). Pending sends to them are cancelled.

Twilio's own copies (messages, calls, recordings and their transcriptions) are listed as
ProviderDeletion rows in the same transaction and deleted through the ProviderData port after commit
(checkin.member_data.provider), so an outage at Twilio delays them but loses none.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, literal, or_, select, update
from sqlalchemy.orm import Session

from checkin import crypto
from checkin.accounts import audit
from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.errors import ValidationError
from checkin.escalation import commands
from checkin.escalation.models import LIVE_STATES, AssessmentRecord, Escalation, EscalationEvent
from checkin.inbox.models import OPEN_STATES, Conversation, ConversationState
from checkin.member_data.models import ProviderDeletion
from checkin.models import ConsentEvent, Member, MemberStatus, Message, OutboxItem, StaffUser
from checkin.phones import InvalidPhone, normalize_phone
from checkin.voice.models import VoiceCall

log = logging.getLogger("checkin.member_data")

# Where an address was: a message or outbox row keeps its row (and its counts), not the number.
ERASED_ADDRESS = "erased"
NUMBER_ERASED = "[number erased]"
RECORDING_ERASED = "[recording erased]"
# Twilio SIDs of records Twilio keeps: a message (SMS/MMS), a call, a recording.
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
RECORDING_SID = re.compile(r"\bRE[0-9a-fA-F]{32}\b")
# Case events whose detail can carry what the member said or what it meant (rule ids) or a recording.
PRIVATE_EVENT_DETAILS = ("assessed", "opened", "note", "failed")


def alias(member_id: int) -> str:
    return f"Erased member #{member_id}"


@dataclass(frozen=True)
class Erasure:
    """What an erasure did, in counts (for the CLI, the console and the audit row)."""

    member_id: int
    alias: str
    messages: int
    checkins: int
    case_events: int
    staff_texts: int
    cancelled: int
    provider_records: int

    def summary(self) -> str:
        return (
            f"{self.messages} message(s), {self.checkins} check-in(s), {self.case_events} case event(s), "
            f"{self.staff_texts} staff text(s) scrubbed; {self.cancelled} pending send(s) cancelled; "
            f"{self.provider_records} Twilio record(s) to delete"
        )


def find_by_phone(session: Session, raw_phone: str) -> Member:
    """The member with this number, or a ValidationError that says what is wrong with it, in one line."""
    from checkin import consent

    try:
        phone = normalize_phone(raw_phone)
    except InvalidPhone as exc:
        raise ValidationError(f"--phone: {exc}") from None
    member = session.scalar(select(Member).where(Member.phone == phone))
    if member is None:
        erased = consent.erased_member(session, phone)
        if erased is not None:
            raise ValidationError(
                f"that number was member {erased.id}'s, erased on {erased.erased_at:%Y-%m-%d}"
            )
        raise ValidationError("no member has that phone number")
    return member


def find_staff(session: Session, email: str) -> StaffUser:
    """The active coordinator who answers for an erasure or an export done from the command line."""
    staff = session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    if staff is None or not staff.active:
        raise ValidationError(f"--by: no active staff user with email {email!r}")
    if staff.role != "coordinator":
        raise ValidationError("--by: only a coordinator may erase or export a member's data")
    return staff


def erase(
    session: Session,
    member: Member,
    *,
    by: StaffUser,
    via: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> Erasure:
    """Erase `member` in the caller's transaction (see the module's docstring). `via`: cli | console."""
    if member.erased_at is not None:
        raise ValidationError(f"member {member.id} was erased already")
    live = session.scalar(
        select(Escalation)
        .where(Escalation.member_id == member.id, Escalation.state.in_(LIVE_STATES))
        .limit(1)
    )
    if live is not None:
        # Staff paged for it would lose the name and the number to call back while it is still live.
        raise ValidationError(
            f"member {member.id} has a live {live.level} case (#{live.id}): resolve it before erasing them"
        )
    now = now or utcnow()
    dialect = session.get_bind().dialect
    mid, phone, name, first = member.id, member.phone, member.display_name, member.first_name
    new_name = alias(mid)

    theirs = _their_addresses(Message.from_number, phone) | _their_addresses(Message.to_number, phone)
    # A subquery, never a list of ids in Python: a member with years of texts would pass PostgreSQL's
    # limit of 65,535 parameters. Read before any address below is rewritten.
    their_messages = select(Message.id).where(or_(Message.member_id == mid, theirs))
    esc_ids = _their_escalations(session, mid, their_messages)
    calls = session.execute(
        select(VoiceCall.id, VoiceCall.call_sid, VoiceCall.recording_url).where(VoiceCall.member_id == mid)
    ).all()
    checkins = session.execute(
        select(CheckIn.id, CheckIn.recording_url, CheckIn.call_sid).where(CheckIn.member_id == mid)
    ).all()

    # Twilio's copies: their messages, their calls and recordings, and the alerts staff got about them.
    alert_keys = [f"alert:{e}:%" for e in esc_ids] + [f"alert:failsafe:escalation:{e}" for e in esc_ids]
    alert_keys += [f"alert:failsafe:call:{c.call_sid}" for c in calls]
    failsafe_keys = their_messages.with_only_columns(
        literal("alert:failsafe:", String) + cast(Message.id, String)
    )
    alert_rows = select(OutboxItem.id).where(
        or_(
            OutboxItem.idempotency_key.in_(failsafe_keys),
            *[OutboxItem.idempotency_key.like(k) for k in alert_keys],
        )
    )
    alert_outbox_ids = set(session.scalars(alert_rows))
    sids: dict[str, str] = {}
    for sid in session.scalars(
        select(Message.provider_sid).where(
            or_(Message.id.in_(their_messages), Message.outbox_id.in_(alert_rows))
        )
    ):
        if sid and MESSAGE_SID.match(sid):
            sids[sid] = "message"
    recording_texts = [c.recording_url for c in calls] + [c.recording_url for c in checkins]
    recording_texts += list(
        session.scalars(
            select(EscalationEvent.detail).where(
                EscalationEvent.escalation_id.in_(esc_ids or [-1]), EscalationEvent.detail.is_not(None)
            )
        )
    )
    for text in recording_texts:
        for sid in RECORDING_SID.findall(text or ""):
            sids[sid] = "recording"
    for sid in {c.call_sid for c in calls} | {c.call_sid for c in checkins}:
        if sid and CALL_SID.match(sid):
            sids[sid] = "call"

    # Staff texts about them: their full name and number anywhere, their first name in alerts about them.
    recordings = [sid for sid, kind in sids.items() if kind == "recording"]
    staff_texts = _scrub_staff_texts(
        session, phone, name, first, new_name, alert_outbox_ids, recordings, esc_ids
    )

    session.execute(
        update(AssessmentRecord)
        .where(or_(AssessmentRecord.member_id == mid, AssessmentRecord.message_id.in_(their_messages)))
        .values(rules=[])
        .execution_options(synchronize_session=False)
    )
    # Their own messages: no words, no number; the rows stay for the counts.
    counted = session.execute(
        update(Message)
        .where(Message.id.in_(their_messages))
        .values(body=None, reply_body=None, error_message=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    for column in (Message.from_number, Message.to_number):
        session.execute(
            update(Message)
            .where(_their_addresses(column, phone))
            .values({column.key: ERASED_ADDRESS})
            .execution_options(synchronize_session=False)
        )
    to_them = or_(OutboxItem.member_id == mid, _their_addresses(OutboxItem.to_number, phone))
    cancelled = session.execute(
        update(OutboxItem)
        .where(to_them, OutboxItem.state == "pending")
        .values(state="cancelled", last_error="member erased")
        .execution_options(synchronize_session=False)
    ).rowcount
    # Nothing is left for a person to answer: their waiting conversations leave the inbox.
    session.execute(
        update(Conversation)
        .where(Conversation.member_id == mid, Conversation.state.in_(OPEN_STATES))
        .values(state=ConversationState.DONE.value, done_by=by.id, done_at=now, unread=0)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxItem)
        .where(to_them)
        .values(body=None, to_number=ERASED_ADDRESS)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxItem)
        .where(to_them, OutboxItem.state != "cancelled")
        .values(last_error=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CheckIn)
        .where(CheckIn.member_id == mid)
        .values(words=None, recording_url=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(VoiceCall)
        .where(VoiceCall.member_id == mid)
        .values(recording_url=None)
        .execution_options(synchronize_session=False)
    )
    events = session.execute(
        update(EscalationEvent)
        .where(
            EscalationEvent.escalation_id.in_(esc_ids or [-1]),
            EscalationEvent.kind.in_(PRIVATE_EVENT_DETAILS),
        )
        .values(detail=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    events += session.execute(
        update(EscalationEvent)
        .where(EscalationEvent.escalation_id.in_(esc_ids or [-1]), EscalationEvent.note.is_not(None))
        .values(note=None)
        .execution_options(synchronize_session=False)
    ).rowcount

    for sid, kind in sids.items():
        if session.scalar(select(ProviderDeletion.id).where(ProviderDeletion.sid == sid)) is None:
            session.add(ProviderDeletion(kind=kind, sid=sid, member_id=mid, requested_at=now, attempts=0))

    if member.status != MemberStatus.OPTED_OUT:
        session.add(ConsentEvent(member_id=mid, kind="opt_out", source="erasure", created_at=now))
    member.status = MemberStatus.OPTED_OUT.value
    member.phone_digest = crypto.digests(phone, dialect)[0] if phone else None
    member.phone = None
    member.display_name = new_name
    member.timezone = None
    member.paused_until = None
    member.erased_at = now
    session.flush()

    result = Erasure(
        member_id=mid,
        alias=new_name,
        messages=counted,
        checkins=len(checkins),
        case_events=events,
        staff_texts=staff_texts,
        cancelled=cancelled,
        provider_records=len(sids),
    )
    audit(
        session,
        "member_erased",
        by.id,
        member_id=mid,
        detail=f"via {via}: {result.summary()}"[:255],
        ip=ip,
        now=now,
    )
    log.info("member=%s erased by staff=%s via %s", mid, by.id, via)
    return result


def _their_addresses(column, phone: str | None):
    """The number itself, or an address on another channel that carries it (`whatsapp:+1...`)."""
    if not phone:
        return column == "\x00never"  # an erased member has no number left to find
    return or_(column == phone, column.like(f"%:{phone}"))


def _their_escalations(session: Session, member_id: int, their_messages) -> list[int]:
    """Their cases, and the cases opened for their number before it was a member's."""
    ids = set(session.scalars(select(Escalation.id).where(Escalation.member_id == member_id)))
    ids |= set(
        session.scalars(
            select(EscalationEvent.escalation_id).where(EscalationEvent.message_id.in_(their_messages))
        )
    )
    return sorted(ids)


def _scrub_staff_texts(
    session: Session,
    phone: str | None,
    name: str,
    first: str,
    new_name: str,
    about_them: set[int],
    recordings: list[str],
    esc_ids: list[int],
) -> int:
    """Texts sent to staff (alerts, digests, fail-safe alerts, coordinators' notices) that name the
    member, carry their number or a recording: rewritten with the alias. The first name alone is
    replaced only in the texts about them, where it cannot be someone else's."""
    needles = [(re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), new_name)]
    if phone:
        national = phone[2:] if phone.startswith("+1") else None
        needles.append((re.compile(re.escape(phone)), NUMBER_ERASED))
        if national:
            needles.append((re.compile(rf"(?<!\d){re.escape(national)}(?!\d)"), NUMBER_ERASED))
    for sid in recordings:
        needles.append((re.compile(rf"https?://\S*{sid}\S*"), RECORDING_ERASED))
    first_name = re.compile(rf"\b{re.escape(first)}\b", re.IGNORECASE)
    changed = 0
    staff_rows = select(OutboxItem).where(
        or_(OutboxItem.staff_id.is_not(None), OutboxItem.member_id.is_(None))
    )
    for item in session.scalars(staff_rows.where(OutboxItem.body.is_not(None))):
        text = _scrub(item.body, needles, first_name if item.id in about_them else None, new_name)
        if text != item.body:
            item.body, changed = text, changed + 1
    # Texts to staff, and what staff texted in (a command can name someone: "RESOLVE 12 called Sam").
    staff_messages = select(Message).where(
        or_(Message.staff_id.is_not(None), (Message.direction == "outbound") & Message.member_id.is_(None)),
        or_(Message.body.is_not(None), Message.reply_body.is_not(None)),
    )
    # A LIST answer names each case's member by first name: "26 crisis Sam (not taken)".
    listed = [
        (re.compile(rf"\b{e} (\w+) {re.escape(first)}\b", re.IGNORECASE), rf"{e} \1 {new_name}")
        for e in esc_ids
    ]
    for message in session.scalars(staff_messages):
        command = commands.parse(message.body) if message.staff_id else None
        about = message.outbox_id in about_them or (
            command is not None and command[0] in ("ACK", "RESOLVE") and command[1] in esc_ids
        )
        first = first_name if about else None
        body, reply = message.body, message.reply_body
        if about and command is not None:
            body = f"{command[0]} {command[1]}"  # a RESOLVE's note is a note about them: it goes
        elif body:
            body = _scrub(body, needles, first, new_name)
        if reply:
            reply = _scrub(reply, needles + listed, first, new_name)
        if (body, reply) != (message.body, message.reply_body):
            message.body, message.reply_body, changed = body, reply, changed + 1
    return changed


def _scrub(text: str, needles, first_name, new_name: str) -> str:
    for pattern, replacement in needles:
        text = pattern.sub(replacement, text)
    if first_name is not None:
        text = first_name.sub(new_name, text)
    return text
