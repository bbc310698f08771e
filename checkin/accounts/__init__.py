"""Staff accounts for the console: passwords, sign-in throttling, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkin.accounts import audit_chain, passwords, sessions
from checkin.accounts.models import AuditEvent
from checkin.db import utcnow
from checkin.models import StaffUser

ACTION_MAX = 24  # audit_events.action


class ThrottleUnavailable(RuntimeError):
    """The attempt counters cannot be reached: sign-in is refused for a moment rather than unthrottled."""


class SignInThrottle(Protocol):
    """Failed sign-in attempts counted per account and per client address (checkin.adapters.redis_throttle)."""

    def blocked_for(self, email: str, ip: str) -> int:
        """Seconds until sign-in may be tried again for this email/address; 0 if allowed now."""

    def record_failure(self, email: str, ip: str) -> None: ...

    def record_success(self, email: str, ip: str) -> None: ...


@dataclass(frozen=True)
class SignIn:
    staff: StaffUser | None
    # None on success; otherwise why, in words a person can act on.
    error: str | None = None
    retry_after: int = 0


def audit(
    session: Session,
    action: str,
    staff_id: int | None,
    *,
    member_id: int | None = None,
    escalation_id: int | None = None,
    detail: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one row to the audit log (hash-chained, append-only) in `session`'s transaction.

    Refer to people by id (member_id, `staff:12` in detail), never by phone, name or anything they
    wrote: erasing a member must leave the log untouched and still verifying. Commit soon after: on
    PostgreSQL appends hold a lock until the transaction ends."""
    # AUDIT_ACTIONS lists the actions in use (add yours there); any short name is taken, so a feature
    # merged with a name of its own still records rather than fails.
    if not action or len(action) > ACTION_MAX:
        raise ValueError(f"audit action must be 1-{ACTION_MAX} characters, not {action!r}")
    event = AuditEvent(
        action=action,
        staff_id=staff_id,
        member_id=member_id,
        escalation_id=escalation_id,
        detail=detail[:255] if detail else detail,
        ip=ip,
        at=now or utcnow(),
    )
    return audit_chain.append(session, event)


def audit_many(
    session: Session,
    action: str,
    staff_id: int | None,
    rows: list[tuple[int | None, str | None]],
    *,
    ip: str | None = None,
) -> list[AuditEvent]:
    """One audit row per (member_id, detail) in `rows`, chained in one go (as `audit`, for many members)."""
    if not action or len(action) > ACTION_MAX:
        raise ValueError(f"audit action must be 1-{ACTION_MAX} characters, not {action!r}")
    now = utcnow()
    return audit_chain.append_many(
        session,
        [
            AuditEvent(
                action=action,
                staff_id=staff_id,
                member_id=member_id,
                detail=detail[:255] if detail else detail,
                ip=ip,
                at=now,
            )
            for member_id, detail in rows
        ],
    )


def authenticate(session: Session, throttle: SignInThrottle, email: str, password: str, ip: str) -> SignIn:
    """Check a staff member's password, counting failures on `throttle` (ThrottleUnavailable if it cannot count)."""
    email = (email or "").strip().lower()
    wait = throttle.blocked_for(email, ip)
    if wait:
        minutes = (wait + 59) // 60
        return SignIn(
            None,
            f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' * (minutes != 1)}.",
            wait,
        )
    staff = session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
    if staff is None or not staff.active or not staff.password_hash:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify_password(staff.password_hash, password)
    if not ok:
        throttle.record_failure(email, ip)
        audit(session, "signin_failed", staff.id if staff else None, ip=ip)
        return SignIn(None, "Email or password is not right.")
    throttle.record_success(email, ip)
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = passwords.hash_password(password)
    audit(session, "signin", staff.id, ip=ip)
    return SignIn(staff)


def set_password(session: Session, staff: StaffUser, password: str, *, by: StaffUser | None = None) -> None:
    """A new password ends every session signed in with the old one."""
    staff.password_hash = passwords.hash_password(password)
    sessions.end_all(session, staff.id, "password")
    audit(session, "password_reset", by.id if by else staff.id, detail=f"staff:{staff.id}")
