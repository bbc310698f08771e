"""The stored state of the service. Times are UTC; message bodies are encrypted at rest."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkin.crypto import EncryptedText
from checkin.db import Base, UTCDateTime, utcnow

LANGUAGES = ("en", "es")
CHANNELS = ("sms", "voice")


class MemberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    OPTED_OUT = "opted_out"


class StaffRole(StrEnum):
    FACILITATOR = "facilitator"
    COORDINATOR = "coordinator"


MEMBER_STATUSES = tuple(s.value for s in MemberStatus)
STAFF_ROLES = tuple(r.value for r in StaffRole)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    phone_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The planner's next-due index (checkin.schedules.due_index): the earliest instant any send of this
    # group can be due; NULL until planned, and again after anything the planner reads changes.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Bumped by each such change, so a tick that planned from older state does not overwrite the NULL.
    plan_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    members: Mapped[list[Member]] = relationship(secondary="group_members", back_populates="groups")
    staff_links: Mapped[list[GroupStaff]] = relationship(back_populates="group", cascade="all, delete-orphan")


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None once the member is erased (checkin.member_data.erase): then only `phone_digest` is kept.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(2), default="en")
    # None means "the group's time zone".
    timezone: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    status: Mapped[str] = mapped_column(String(12), default="active")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a text with no words was last answered ("reached us empty"): repeated at most once per
    # checkin.auto_replies.REPEAT_AFTER, so two auto-responders cannot ping-pong.
    wordless_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An erased member: an anonymous row that keeps the counts. The number survives only as a keyed
    # hash (checkin.crypto.digests), so a text from it is still known to be from someone who opted out.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where and when the member agreed to be texted or called, as the coordinator recorded it
    # ("paper form at meeting", "verbal on phone", "text START"); None: not recorded. The opt-in and
    # opt-out events themselves are ConsentEvents.
    consent_source: Mapped[str | None] = mapped_column(String(80))
    consent_date: Mapped[date | None] = mapped_column(Date)

    groups: Mapped[list[Group]] = relationship(secondary="group_members", back_populates="members")
    consent_events: Mapped[list[ConsentEvent]] = relationship(
        back_populates="member", order_by="ConsentEvent.id"
    )

    @property
    def first_name(self) -> str:
        return self.display_name.split()[0] if self.display_name.strip() else "member"

    def zone_in(self, group: Group | None = None) -> str:
        """The one place a member's time zone is decided: their own, else that of `group` (the group
        texting them), else their first group's, else UTC."""
        if self.timezone:
            return self.timezone
        if group is not None:
            return group.timezone
        return self.groups[0].timezone if self.groups else "UTC"

    @property
    def effective_timezone(self) -> str:
        return self.zone_in()

    @property
    def opted_out(self) -> bool:
        return self.status == MemberStatus.OPTED_OUT


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(Base):
    """Every opt-in and opt-out, with where it came from; the member's status is derived from the latest."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # opt_in | opt_out
    # keyword:STOP, phrase, staff:<id>, carrier:21610, import
    source: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member] = relationship(back_populates="consent_events")


class NumberOptOut(Base):
    """A STOP from a number that is not a member's, kept as the number's keyed hash (checkin.crypto.digests)
    so that the number, if it is added as a member later, is added opted out: the STOP was confirmed, and
    a reminder 14 s after adding them broke that promise. Removed when the number is added, or texts START."""

    __tablename__ = "number_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_digest: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(40))  # keyword:STOP, phrase
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(12))  # facilitator | coordinator
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Staff accounts (checkin.accounts): a password someone else set must be changed at the next sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The authenticator app's shared secret (base32), encrypted at rest; set at enrolment, on once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last 30-second step a code was accepted for: the same code never signs in twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    group_links: Mapped[list[GroupStaff]] = relationship(back_populates="staff", cascade="all, delete-orphan")


class GroupStaff(Base):
    """A facilitator's place in a group: first or backup, and a manual switch (ONCALL/OFFCALL) that
    overrides the rota. When they are on call is in their OnCallWindows (none: always)."""

    __tablename__ = "group_staff"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12), default="primary")  # primary | backup
    on_call: Mapped[bool] = mapped_column(Boolean, default=True)

    group: Mapped[Group] = relationship(back_populates="staff_links")
    staff: Mapped[StaffUser] = relationship(back_populates="group_links")
    windows: Mapped[list[OnCallWindow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="OnCallWindow.id"
    )


class WindowKind(StrEnum):
    WEEKLY = "weekly"
    COVER = "cover"
    AWAY = "away"


WINDOW_KINDS = tuple(k.value for k in WindowKind)


class OnCallWindow(Base):
    """When a rota place is on call: a weekly shift in the group's zone (days it starts on, local
    start and end, ending `span_days` later), or a dated cover (on call) or absence (away), in UTC.
    The rule that reads these is checkin.rota."""

    __tablename__ = "on_call_windows"
    __table_args__ = (
        ForeignKeyConstraint(
            ["group_id", "staff_id"], ["group_staff.group_id", "group_staff.staff_id"], ondelete="CASCADE"
        ),
        Index("ix_on_call_windows_link", "group_id", "staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # weekly | cover | away
    # weekly: ISO weekdays the shift starts on ("12345" = Monday to Friday); minutes after local midnight.
    days: Mapped[str | None] = mapped_column(String(7))
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    span_days: Mapped[int | None] = mapped_column(Integer)  # 0: ends the day it starts; 1: the next day ...
    # cover | away
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """One SMS or call leg in either direction, as the provider knows it."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Indexed with created_at (ix_messages_member_created): a member's messages, and the planner's
    # "texted in the last 2 hours" as one index range per member.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # Provider addresses: an E.164 number, or 'whatsapp:+1...', 'client:name', a SIP address.
    from_number: Mapped[str] = mapped_column(String(128))
    to_number: Mapped[str] = mapped_column(String(128))
    body: Mapped[str | None] = mapped_column(EncryptedText)
    # For inbound messages: the answer we gave, so a retried webhook gets the same one.
    reply_body: Mapped[str | None] = mapped_column(EncryptedText)
    # Pictures or other files an inbound text carried (Twilio's NumMedia; the files stay with Twilio): what
    # tells a picture sent alone from an empty text. NULL: none. Kept for every inbound text, those
    # answered in the webhook (a crisis, STOP, HELP) as those stored for a worker.
    media_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(255))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    member: Mapped[Member | None] = relationship()

    __table_args__ = (
        Index("ix_messages_member_created", "member_id", "created_at"),
        # Routine texts stored and not yet decided (checkin.intake): what the cron sweeper looks for.
        Index(
            "ix_messages_undecided",
            "created_at",
            postgresql_where=text("status = 'undecided'"),
            sqlite_where=text("status = 'undecided'"),
        ),
    )


class OutboxItem(Base):
    """An outbound effect decided by the domain, delivered by a worker, at most once per key."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        # The planner's tick closes the check-ins of prompts cancelled lately (checkins.close_stale_prompts).
        Index(
            "ix_outbox_cancelled_prompts",
            "created_at",
            postgresql_where=text("state = 'cancelled' AND purpose = 'prompt'"),
            sqlite_where=text("state = 'cancelled' AND purpose = 'prompt'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    purpose: Mapped[str] = mapped_column(String(24), default="notice")
    queue: Mapped[str] = mapped_column(String(16), default="outbox")
    to_number: Mapped[str] = mapped_column(String(128))
    from_number: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str | None] = mapped_column(EncryptedText)
    twiml_url: Mapped[str | None] = mapped_column(String(500))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # pending -> sending -> sent | failed | cancelled
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    last_error_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Escalation tables (assessments, escalations, escalation_events) live beside their domain code.
from checkin import calendar_feed as _calendar_feed_models  # noqa: E402
from checkin import checkins as _checkins  # noqa: E402
from checkin.accounts import models as _account_models  # noqa: E402
from checkin.announcements import models as _announcement_models  # noqa: E402
from checkin.answers import models as _answer_models  # noqa: E402
from checkin.escalation import models as _escalation_models  # noqa: E402
from checkin.inbox import models as _inbox_models  # noqa: E402
from checkin.member_data import models as _member_data_models  # noqa: E402
from checkin.retention import models as _retention_models  # noqa: E402
from checkin.schedules import models as _schedule_models  # noqa: E402
from checkin.voice import models as _voice_models  # noqa: E402

# Every mapped table is known once this module is imported (Alembic, create_all, relationships by name).
MODEL_MODULES = (
    _announcement_models,
    _calendar_feed_models,
    _checkins,
    _account_models,
    _answer_models,
    _escalation_models,
    _inbox_models,
    _retention_models,
    _member_data_models,
    _schedule_models,
    _voice_models,
)
