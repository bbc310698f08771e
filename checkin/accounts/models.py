"""Tables for staff accounts. Imported by `checkin.models` so Alembic and the app see them.

Staff passwords live in StaffUser.password_hash (argon2id, see checkin.accounts.passwords).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from checkin.db import Base, UTCDateTime, utcnow

AUDIT_ACTIONS = (
    "signin",
    "signin_failed",
    "signout",
    "password_reset",
    "view_messages",
    "view_paged_case",
    "case_taken",
    "case_resolved",
    "member_added",
    "member_edited",
    "consent",
    "import",
    "staff_added",
    "staff_removed",
    "staff_edited",
    "on_call",
    "inbox_take",
    "inbox_done",
    "reply",
    "reply_refused",
    "canned_replies",
    "member_erased",
    "member_export",
    # Reads of a member's record, on purpose (issue 17): every one is a row.
    "view_member",
    "view_escalation",
    "reveal_phone",
    "simulate",
    # Settings and actions outside the staff pages.
    "setting_changed",
    "escalation_policy",
    "cli",
    # Written by the erasure, export and retention features.
    "export",
    "erase",
    "retention",
    # A group's weekly report downloaded as CSV (checkin.reports).
    "report_export",
    # Staff accounts (invitations, own passwords, authenticator app).
    "invite_sent",
    "invite_texted",
    "invite_revoked",
    "invite_used",
    "password_changed",
    "signin_password",
    "signin_code_failed",
    "2fa_on",
    "2fa_off",
    "2fa_reset",
    "recovery_codes_new",
)


class AuditEvent(Base):
    """Who did or saw what, when: every read of a member's record, every export, erasure, setting and
    staff change, every CLI action. Append-only (database triggers) and hash-chained
    (checkin.accounts.audit_chain); write rows with `checkin.accounts.audit`, never directly.

    Members and staff are referred to by id only, with no foreign key: the log outlives the rows it
    names, and a cascade (SET NULL) would have to rewrite it, which the chain forbids."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the chain: 1, 2, 3, ... with no gap (a gap is a deleted row).
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(24))
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    escalation_id: Mapped[int | None] = mapped_column(Integer)
    # Ids and reasons only: never a message body, a note, a name or a phone number.
    detail: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    # sha256 hex of prev_hash + the canonical row (audit_chain.canonical).
    hash: Mapped[str] = mapped_column(String(64))


class StaffSession(Base):
    """One signed-in browser. The cookie holds only a random token; this row is the session, so
    signing out, a password reset or deactivation ends it everywhere, copies of the cookie included."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the token: a copy of this table signs nobody in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_why: Mapped[str | None] = mapped_column(String(24))  # signout | password | deactivated | everywhere
    device: Mapped[str | None] = mapped_column(String(120))  # the browser's own words, for the list
    ip: Mapped[str | None] = mapped_column(String(64))


class StaffInvitation(Base):
    """A link that lets one person set their own password: an invitation for someone new, or a reset.
    Single use, expires, revocable. Only the sha256 of its token is stored, so this table opens nothing."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # invite | reset
    created_by: Mapped[int | None] = mapped_column(Integer)  # a staff id (no key: the person may be gone)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One of a staff member's single-use codes for signing in without their authenticator app
    (sha256 of the code: they are 80 random bits, too many to guess, so a slow hash adds nothing)."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
