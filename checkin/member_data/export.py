"""A member's copy of everything held about them (right of access): readable JSON, or a zip of CSVs.

Sections: the member, their messages and calls both ways (words decrypted), check-ins, the rules'
verdicts on their messages, escalations about them with every event and note, consent history, meeting
answers, and who did or saw what about them (the audit rows naming them). Every export is itself an
audit row. CSV cells that a spreadsheet would run as a formula are quoted (OWASP's advice).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from checkin.accounts import audit
from checkin.accounts.models import AuditEvent
from checkin.answers.models import Rsvp
from checkin.checkins import CheckIn
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import ConsentEvent, Group, Member, Message, StaffUser
from checkin.voice.models import VoiceCall

FORMATS = ("json", "csv")
# The order of the sections, in the JSON and as the zip's files.
SECTIONS = (
    "member",
    "messages",
    "calls",
    "checkins",
    "assessments",
    "escalations",
    "escalation_events",
    "consents",
    "rsvps",
    "audit",
)


def collect(session: Session, member: Member) -> dict[str, list[dict]]:
    """Every section, as rows of plain values (times in UTC, ISO 8601)."""
    mid = member.id
    groups = {g.id: g.name for g in session.scalars(select(Group))}
    staff = {s.id: s.name for s in session.scalars(select(StaffUser))}
    addresses = [a for a in (member.phone,) if a]
    theirs = or_(
        Message.member_id == mid, Message.from_number.in_(addresses), Message.to_number.in_(addresses)
    )
    messages = list(session.scalars(select(Message).where(theirs).order_by(Message.created_at, Message.id)))
    # A subquery rather than a list of ids: years of texts would pass PostgreSQL's parameter limit.
    message_ids = select(Message.id).where(theirs)
    esc_ids = set(session.scalars(select(Escalation.id).where(Escalation.member_id == mid)))
    esc_ids |= set(
        session.scalars(
            select(EscalationEvent.escalation_id).where(EscalationEvent.message_id.in_(message_ids))
        )
    )
    escalations = list(
        session.scalars(select(Escalation).where(Escalation.id.in_(esc_ids or {-1})).order_by(Escalation.id))
    )
    events = list(
        session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id.in_(esc_ids or {-1}))
            .order_by(EscalationEvent.escalation_id, EscalationEvent.id)
        )
    )
    return {
        "member": [
            {
                "id": mid,
                "name": member.display_name,
                "phone": member.phone,
                "groups": ", ".join(g.name for g in member.groups),
                "language": member.language,
                "channel": member.channel,
                "timezone": member.timezone,
                "status": member.status,
                "consent_source": member.consent_source,
                "consent_date": member.consent_date.isoformat() if member.consent_date else None,
                "paused_until": _at(member.paused_until),
                "added": _at(member.created_at),
                "erased": _at(member.erased_at),
            }
        ],
        "messages": [
            {
                "id": m.id,
                "at": _at(m.created_at),
                "direction": m.direction,
                "channel": m.channel,
                "from": m.from_number,
                "to": m.to_number,
                "words": m.body,
                "our_reply": m.reply_body,
                "status": m.status,
                "error": m.error_message,
            }
            for m in messages
        ],
        "calls": [
            {
                "id": c.id,
                "at": _at(c.created_at),
                "direction": c.direction,
                "kind": c.kind,
                "group": groups.get(c.group_id),
                "language": c.language,
                "status": c.status,
                "answered_by": c.answered_by,
                "seconds": c.duration_seconds,
                "recording": c.recording_url,
                "ended": _at(c.ended_at),
            }
            for c in session.scalars(
                select(VoiceCall).where(VoiceCall.member_id == mid).order_by(VoiceCall.id)
            )
        ],
        "checkins": [
            {
                "id": c.id,
                "group": groups.get(c.group_id),
                "by": c.channel,
                "asked": _at(c.prompted_at),
                "answered": _at(c.answered_at),
                "state": c.state,
                "score": c.score,
                "words": c.words,
                "recording": c.recording_url,
            }
            for c in session.scalars(select(CheckIn).where(CheckIn.member_id == mid).order_by(CheckIn.id))
        ],
        "assessments": [
            {
                "message_id": a.message_id,
                "at": _at(a.created_at),
                "level": a.level,
                "rules": " ".join(a.rules or []),
                "score": a.score,
                "escalation_id": a.escalation_id,
            }
            for a in session.scalars(
                select(AssessmentRecord)
                .where(
                    or_(
                        AssessmentRecord.member_id == mid,
                        AssessmentRecord.message_id.in_(message_ids),
                    )
                )
                .order_by(AssessmentRecord.id)
            )
        ],
        "escalations": [
            {
                "id": e.id,
                "group": groups.get(e.group_id),
                "level": e.level,
                "state": e.state,
                "opened": _at(e.opened_at),
                "acknowledged_by": staff.get(e.acknowledged_by),
                "acknowledged": _at(e.acknowledged_at),
                "resolved_by": staff.get(e.resolved_by),
                "resolved": _at(e.resolved_at),
            }
            for e in escalations
        ],
        "escalation_events": [
            {
                "escalation_id": e.escalation_id,
                "at": _at(e.at),
                "what": e.kind,
                "level": e.level,
                "staff": staff.get(e.staff_id),
                "channel": e.channel,
                "message_id": e.message_id,
                "detail": e.detail,
                "note": e.note,
            }
            for e in events
        ],
        "consents": [
            {"at": _at(c.created_at), "kind": c.kind, "source": c.source, "message_id": c.message_id}
            for c in session.scalars(
                select(ConsentEvent).where(ConsentEvent.member_id == mid).order_by(ConsentEvent.id)
            )
        ],
        "rsvps": [
            {
                "group": groups.get(r.group_id),
                "meeting": r.occurrence_key,
                "answer": r.answer,
                "at": _at(r.answered_at),
            }
            for r in session.scalars(select(Rsvp).where(Rsvp.member_id == mid).order_by(Rsvp.id))
        ],
        "audit": [
            {"at": _at(a.at), "action": a.action, "staff": staff.get(a.staff_id), "detail": a.detail}
            for a in session.scalars(
                select(AuditEvent).where(AuditEvent.member_id == mid).order_by(AuditEvent.id)
            )
        ],
    }


def export(
    session: Session, member: Member, fmt: str, *, by: StaffUser, via: str, ip: str | None = None
) -> tuple[bytes, str]:
    """The member's copy as (content, file name), audited in the caller's transaction."""
    if fmt not in FORMATS:
        from checkin.errors import ValidationError

        raise ValidationError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    sections = collect(session, member)
    audit(session, "member_export", by.id, member_id=member.id, detail=f"via {via}: {fmt}", ip=ip)
    stem = f"member-{member.id}-data"
    if fmt == "json":
        return to_json(sections).encode("utf-8"), f"{stem}.json"
    return to_zip(sections), f"{stem}.zip"


def to_json(sections: dict[str, list[dict]]) -> str:
    document = {"member": sections["member"][0], **{k: sections[k] for k in SECTIONS if k != "member"}}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_zip(sections: dict[str, list[dict]]) -> bytes:
    """One CSV per section (UTF-8 with a byte-order mark, so spreadsheets read accents), in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in SECTIONS:
            archive.writestr(f"{name}.csv", "\ufeff" + to_csv(sections[name]))
    return buffer.getvalue()


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return out.getvalue()


# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value) -> str:
    """The cell's text, with a leading apostrophe when a spreadsheet would take it for a formula (a
    member's words "=HYPERLINK(...)" stay words; a number like +1202... is shown as typed)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
