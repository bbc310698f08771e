"""Escalation tables. Imported by `checkin.models` so Alembic and the app see them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkin.crypto import EncryptedJSON, EncryptedText
from checkin.db import Base, UTCDateTime, utcnow


class EscalationState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    UNACKNOWLEDGED = "unacknowledged"


class EventKind(StrEnum):
    ASSESSED = "assessed"
    OPENED = "opened"
    RAISED = "raised"
    NOTIFIED = "notified"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    NOTE = "note"
    REASSIGNED = "reassigned"
    UNACKNOWLEDGED = "unacknowledged"
    REALERTED = "realerted"
    NOBODY_ON_CALL = "nobody_on_call"
    UNREACHABLE = "unreachable"
    REPEATED = "repeated"


ESCALATION_STATES = tuple(s.value for s in EscalationState)
# States in which an escalation is still a live case: a member has at most one of these.
LIVE_STATES = tuple(s.value for s in EscalationState if s is not EscalationState.RESOLVED)
EVENT_KINDS = tuple(k.value for k in EventKind)

_LIVE_SQL = text("state IN ('open', 'acknowledged', 'unacknowledged')")


class AssessmentRecord(Base):
    """The rules engine's verdict on one inbound message (never the text itself)."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    # none | watch | urgent | crisis: in the clear, as on the escalation, for the digest and the console.
    level: Mapped[str] = mapped_column(String(8))
    # Rule ids that fired: they carry the meaning of the member's words, so encrypted at rest.
    rules: Mapped[list] = mapped_column(EncryptedJSON, default=list)
    # A check-in score (1-5) read from the message, when it was one: the history for later assessments.
    # Encrypted (NULL when none, so the history can still find the scored ones).
    score: Mapped[int | None] = mapped_column(EncryptedJSON)
    source: Mapped[str] = mapped_column(String(8), default="sms")
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Escalation(Base):
    __tablename__ = "escalations"
    __table_args__ = (
        Index("ix_escalations_due", "state", "next_action_at"),
        # One live escalation per member: new concerning messages attach to it.
        Index(
            "uq_escalations_live_member",
            "member_id",
            unique=True,
            postgresql_where=_LIVE_SQL,
            sqlite_where=_LIVE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"), index=True)
    level: Mapped[str] = mapped_column(String(8))  # urgent | crisis
    state: Mapped[str] = mapped_column(String(16), default="open")
    # Index into the policy's ordered recipient levels (0 = on-call primaries).
    step: Mapped[int] = mapped_column(Integer, default=0)
    # Notification waves sent so far (across steps; part of every alert's idempotency key).
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # Waves sent at the current step (for the policy's repeats).
    step_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    events: Mapped[list[EscalationEvent]] = relationship(
        back_populates="escalation", order_by="EscalationEvent.id", cascade="all, delete-orphan"
    )


class EscalationEvent(Base):
    """The audit trail: every step of an escalation, with its time."""

    __tablename__ = "escalation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str | None] = mapped_column(String(8))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(8))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # Ids and reasons only (step/attempt, an error in words): nothing a member wrote, and no rule ids
    # (an "assessed" event's rules are its message's assessment, encrypted there).
    detail: Mapped[str | None] = mapped_column(String(255))
    # Free text a facilitator wrote (RESOLVE 12 <note>): encrypted at rest.
    note: Mapped[str | None] = mapped_column(EncryptedText)

    escalation: Mapped[Escalation] = relationship(back_populates="events")


class PolicyOverride(Base):
    """A group's escalation policy as its coordinators set it in the console, over config/escalation.toml
    (which stays the default: a group without a row follows the file; "reset to default" deletes the row).

    `settings` is a complete group section in the file's own shape ({"crisis": {"levels": [...],
    "timeout_minutes": 5, ...}, "urgent": {...}, "watch": {"digest_hour": 9},
    "realert_after_ack_minutes": 30}), read by the same validation as the file
    (checkin.escalation.effective)."""

    __tablename__ = "escalation_policy_overrides"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Who saved it (no foreign key, as the audit log: it outlives the staff row).
    updated_by: Mapped[int | None] = mapped_column(Integer)
