"""A member's history for the console: messages and calls both ways, check-ins with a mood chart, escalations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from checkin.checkins import CheckIn
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.messaging.errors import meaning
from checkin.models import Member, Message, OutboxItem
from checkin.voice.models import VoiceCall

STATUS_WORDS = {
    "received": "received",
    "undecided": "received, its answer on the way",
    "accepted": "accepted by Twilio",
    "queued": "waiting at Twilio",
    "sending": "being sent",
    "sent": "sent to the carrier",
    "delivered": "delivered to the phone",
    "undelivered": "not delivered",
    "failed": "failed",
    "read": "read",
    "receiving": "arriving",
    # calls
    "initiated": "dialling",
    "ringing": "ringing",
    "in-progress": "in progress",
    "completed": "answered and finished",
    "busy": "busy",
    "no-answer": "no answer",
    "canceled": "cancelled",
}
LIMIT = 300


def status_words(message: Message) -> str:
    words = STATUS_WORDS.get(message.status, message.status)
    if message.status in ("failed", "undelivered", "busy", "no-answer") and (
        message.error_code or message.error_message
    ):
        words += ": " + (message.error_message or meaning(message.error_code))
    return words


@dataclass(frozen=True)
class Entry:
    """One line of the messages-and-calls list: a text or a call, either way."""

    at: datetime
    inbound: bool
    kind: str  # text | call
    status: str  # in words
    body: str | None = None
    reply: str | None = None
    detail: str | None = None
    message_id: int | None = None


def text_entry(m: Message, answers: dict[int, int] | None = None) -> Entry:
    """One text; with `answers` (automatic_answers), an automatic reply that went out as a text of its
    own is that text, with its delivery state, and not a second "Our reply" under the member's."""
    answers = answers or {}
    automatic = m.direction == "outbound" and m.outbox_id in answers
    return Entry(
        m.created_at,
        m.direction == "inbound",
        "call" if m.channel == "voice" else "text",
        f"automatic reply, {status_words(m)}" if automatic else status_words(m),
        m.body,
        None if m.id in answers.values() else m.reply_body,
        message_id=m.id,
    )


def automatic_answers(session: Session, messages) -> dict[int, int]:
    """{outbox id: inbound message id} for the automatic replies to these messages that were written as
    outbox rows (`answer:{message id}`, checkin.intake): each is one text, shown once, as sent."""
    keys = {f"answer:{m.id}": m.id for m in messages if m.direction == "inbound" and m.reply_body}
    if not keys:
        return {}
    rows = session.execute(
        select(OutboxItem.id, OutboxItem.idempotency_key).where(OutboxItem.idempotency_key.in_(keys))
    ).all()
    return {outbox_id: keys[key] for outbox_id, key in rows}


@dataclass(frozen=True)
class Scope:
    """The part of a member's record a facilitator may see: what happened in the groups they facilitate
    and the member shares with them, nothing from the member's other groups (minimum necessary).
    Messages carry no group, so they are told apart by the group's number; a number the member's other
    groups share (the service's default) is not theirs to read."""

    group_ids: frozenset[int]
    numbers: frozenset[str]

    def messages(self):
        """A WHERE clause for Message: texts and calls to or from these groups' numbers."""
        if not self.numbers:
            return Message.id.is_(None)  # none of these groups' messages can be told apart: none
        return or_(
            and_(Message.direction == "inbound", Message.to_number.in_(self.numbers)),
            and_(Message.direction == "outbound", Message.from_number.in_(self.numbers)),
        )


def scope_for(member: Member, group_ids: set[int] | None, default_number: str | None) -> Scope | None:
    """What of `member` a reader of `group_ids` may see; None (everything) for a coordinator (`group_ids`
    None) and for a reader of every group the member is in."""
    if group_ids is None:
        return None

    def numbers(group) -> set[str]:
        # A group without its own number texts from the service's (an outbound row then has "").
        return (
            {group.phone_number} if group.phone_number else {n for n in (default_number, "") if n is not None}
        )

    mine = [g for g in member.groups if g.id in group_ids]
    others = [g for g in member.groups if g.id not in group_ids]
    if not others:
        return None  # every group of the member's is the reader's: nothing to hold back
    shared = set().union(*(numbers(g) for g in others)) if others else set()
    visible = set().union(*(numbers(g) for g in mine)) - shared if mine else set()
    return Scope(frozenset(g.id for g in mine), frozenset(visible))


def recent_messages(session: Session, member: Member, scope: Scope | None, limit: int) -> list[Message]:
    query = select(Message).where(Message.member_id == member.id)
    if scope is not None:
        query = query.where(scope.messages())
    return list(session.scalars(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)))


def calls(session: Session, member_id: int, scope: Scope | None) -> list[Entry]:
    """The member's phone calls (checkin.voice)."""
    entries = []
    query = select(VoiceCall).where(VoiceCall.member_id == member_id)
    if scope is not None:
        query = query.where(VoiceCall.group_id.in_(scope.group_ids or [-1]))
    for call in session.scalars(query.order_by(VoiceCall.created_at.desc()).limit(LIMIT)):
        detail = []
        if call.kind:
            detail.append(call.kind)
        if call.duration_seconds:
            detail.append(f"{call.duration_seconds // 60} min {call.duration_seconds % 60} s")
        if call.answered_by and call.answered_by.startswith("machine"):
            detail.append("answered by a machine")
        if call.recording_url:
            detail.append("left a recorded message")
        entries.append(
            Entry(
                call.created_at,
                call.direction == "inbound",
                "call",
                STATUS_WORDS.get(call.status, call.status),
                detail=", ".join(detail) or None,
            )
        )
    return entries


def assessed_rules(session: Session, events) -> dict[int, str]:
    """{message id: "rule,ids"} for the "assessed" events among `events`: the rule ids are kept (encrypted)
    on the message's assessment, and shown to staff as the rules' reasons."""
    ids = {e.message_id for e in events if e.kind == "assessed" and e.message_id}
    if not ids:
        return {}
    rows = session.execute(
        select(AssessmentRecord.message_id, AssessmentRecord.rules).where(
            AssessmentRecord.message_id.in_(ids)
        )
    )
    return {message_id: ",".join(rules or ()) for message_id, rules in rows}


# The alert rows an escalation repeats (each round of paging, each channel): on the member's page, the
# same alert to the same person by the same channel is one line with how many times and the last time.
ALERT_KINDS = frozenset({"notified", "sent", "delivered", "failed", "realerted"})


@dataclass
class EventLine:
    event: EscalationEvent  # the first of its kind; `last_at` is the latest
    count: int = 1
    last_at: datetime | None = None


def event_lines(events: list[EscalationEvent]) -> list[EventLine]:
    """`events` in their order, the repeated alert rows folded into their first (see ALERT_KINDS); a
    "sent" (the provider took it) says again what the "notified" line of the same alert says, so is left out."""
    notified = {e.outbox_id for e in events if e.kind == "notified" and e.outbox_id}
    lines: list[EventLine] = []
    seen: dict[tuple, EventLine] = {}
    for event in events:
        if event.kind == "sent" and event.outbox_id in notified:
            continue
        key = (event.kind, event.staff_id, event.channel, event.detail)
        line = seen.get(key) if event.kind in ALERT_KINDS and not event.note else None
        if line is None:
            line = EventLine(event, 1, event.at)
            lines.append(line)
            if event.kind in ALERT_KINDS and not event.note:
                seen[key] = line
        else:
            line.count += 1
            line.last_at = max(line.last_at, event.at)
    return lines


@dataclass
class MemberTimeline:
    messages: list[Message]
    entries: list[Entry]
    checkins: list[CheckIn]
    escalations: list[tuple[Escalation, list[EventLine]]]
    chart: Markup
    rules: dict[int, str]


def for_member(session: Session, member: Member, scope: Scope | None = None) -> MemberTimeline:
    """The member's history; with a `scope`, only what happened in its groups (see Scope)."""
    messages = recent_messages(session, member, scope, LIMIT)
    checkin_query = select(CheckIn).where(CheckIn.member_id == member.id)
    escalation_query = select(Escalation).where(Escalation.member_id == member.id)
    if scope is not None:
        # An answer nobody prompted has no group: it belongs where the message that carried it went.
        seen_messages = select(Message.id).where(Message.member_id == member.id, scope.messages())
        checkin_query = checkin_query.where(
            CheckIn.group_id.in_(scope.group_ids or [-1])
            | (CheckIn.group_id.is_(None) & CheckIn.message_id.in_(seen_messages))
        )
        escalation_query = escalation_query.where(Escalation.group_id.in_(scope.group_ids or [-1]))
    checkins = list(
        session.scalars(checkin_query.order_by(CheckIn.created_at.desc(), CheckIn.id.desc()).limit(LIMIT))
    )
    escalations = list(session.scalars(escalation_query.order_by(Escalation.id.desc())))
    events = {}
    if escalations:
        for event in session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id.in_([e.id for e in escalations]))
            .order_by(EscalationEvent.at, EscalationEvent.id)
        ):
            events.setdefault(event.escalation_id, []).append(event)
    points = sorted(
        (c.answered_at, c.score) for c in checkins if c.score is not None and c.answered_at is not None
    )
    answers = automatic_answers(session, messages)
    entries = sorted(
        [text_entry(m, answers) for m in messages] + calls(session, member.id, scope),
        key=lambda e: e.at,
        reverse=True,
    )
    all_events = [e for evs in events.values() for e in evs]
    return MemberTimeline(
        messages,
        entries,
        checkins,
        [(e, event_lines(events.get(e.id, []))) for e in escalations],
        mood_chart(points),
        assessed_rules(session, all_events),
    )


def mood_chart(points: list[tuple[datetime, int]], width: int = 640, height: int = 200) -> Markup:
    """Scores 1-5 over time as an inline SVG line chart, drawn on the server (no scripts)."""
    if not points:
        return Markup('<p class="muted">No check-in answers yet.</p>')
    left, right, top, bottom = 36, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    span = (t1 - t0) or 1.0

    def x(when: datetime) -> float:
        return left + (plot_w / 2 if t1 == t0 else (when.timestamp() - t0) / span * plot_w)

    def y(score: int) -> float:
        return top + (5 - score) / 4 * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="mood-title mood-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        '<title id="mood-title">Mood over time</title>',
        f'<desc id="mood-desc">{len(points)} check-in score(s) from 1 (very low) to 5 (very good), '
        f"latest {points[-1][1]}.</desc>",
    ]
    for score in range(1, 6):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(score):.1f}" y2="{y(score):.1f}" stroke="#e3e7ee"/>'
            f'<text x="{left - 8}" y="{y(score) + 4:.1f}" text-anchor="end" font-size="12" fill="#5b6474">{score}</text>'
        )
    line = " ".join(f"{x(t):.1f},{y(s):.1f}" for t, s in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    for t, s in points:
        label = escape(f"{t:%b} {t.day}, {t.year}: {s}")
        parts.append(
            f'<circle cx="{x(t):.1f}" cy="{y(s):.1f}" r="4" fill="{"#b00020" if s <= 2 else "#1f5fbf"}">'
            f"<title>{label}</title></circle>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 8}" font-size="12" fill="#5b6474">{points[0][0]:%b} {points[0][0].day}</text>'
    )
    if t1 != t0:
        parts.append(
            f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="12" fill="#5b6474">{points[-1][0]:%b} {points[-1][0].day}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in the SVG is a number or escaped
