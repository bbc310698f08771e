"""Staff accounts for the console: passwords, invitation links, the authenticator app, sign-in throttling, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from checkin.accounts import audit_chain, invitations, passwords, sessions, two_factor
from checkin.accounts.models import AuditEvent, StaffInvitation
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
    # The password was right and the person has an authenticator app: ask for a code before signing in.
    needs_code: bool = False


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


def _is(column, value):
    """`column` equals `value`, where None matches NULL (as `audit` stores it)."""
    return column.is_(None) if value is None else column == value


# A page read again within this long by the same person, showing the same thing, is not a new row.
READ_AGAIN = timedelta(hours=1)


def audit_read(
    session: Session,
    action: str,
    staff_id: int | None,
    *,
    member_id: int | None = None,
    escalation_id: int | None = None,
    detail: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> AuditEvent | None:
    """`audit` for a read of a page of a member's record, at most once an hour per person for what they
    saw: None (no row) when the same staff user already has a row for this page with the same `detail`
    in the last hour. So `detail` must name what was shown (how many messages and the newest one's id):
    a new message on the page (a crisis text, say) makes a new detail and a new row, and who saw it
    stays known; a reload of the same page does not add a row each time."""
    now = now or utcnow()
    same = (
        select(AuditEvent.id)
        .where(
            _is(AuditEvent.staff_id, staff_id),
            AuditEvent.action == action,
            _is(AuditEvent.member_id, member_id),
            _is(AuditEvent.escalation_id, escalation_id),
            _is(AuditEvent.detail, detail[:255] if detail else None),
            AuditEvent.at > now - READ_AGAIN,
        )
        .limit(1)
    )
    if session.scalar(same) is not None:
        return None
    return audit(
        session,
        action,
        staff_id,
        member_id=member_id,
        escalation_id=escalation_id,
        detail=detail,
        ip=ip,
        now=now,
    )


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


def _minutes(wait: int) -> str:
    """A lockout's remaining seconds in whole minutes, rounded up: "1 minute", "15 minutes"."""
    minutes = (wait + 59) // 60
    return f"{minutes} minute{'s' * (minutes != 1)}"


def authenticate(session: Session, throttle: SignInThrottle, email: str, password: str, ip: str) -> SignIn:
    """Check a staff member's password, counting failures on `throttle` (ThrottleUnavailable if it cannot count)."""
    email = (email or "").strip().lower()
    wait = throttle.blocked_for(email, ip)
    if wait:
        return SignIn(None, f"Too many failed sign-in attempts. Try again in {_minutes(wait)}.", wait)
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
        staff.password_hash = passwords.rehash(password)
    if staff.totp_enabled_at is not None:
        audit(session, "signin_password", staff.id, detail="code asked next", ip=ip)
        return SignIn(staff, needs_code=True)
    audit(session, "signin", staff.id, ip=ip)
    return SignIn(staff)


def _code_key(staff_id: int) -> str:
    return f"2fa:{staff_id}"  # the throttle counts wrong codes per account under this name


def second_factor(
    session: Session,
    throttle: SignInThrottle,
    staff: StaffUser,
    code: str,
    ip: str,
    *,
    now: datetime | None = None,
) -> SignIn:
    """The code after the password: from the authenticator app, or a recovery code (each works once).
    Wrong codes are counted and locked out like wrong passwords (ThrottleUnavailable if they cannot be)."""
    wait = throttle.blocked_for(_code_key(staff.id), ip)
    if wait:
        return SignIn(None, f"Too many wrong codes. Try again in {_minutes(wait)}.", wait)
    app_code = two_factor.use_app_code(session, staff, code, now)
    if app_code == "accepted":
        how = "authenticator app"
    elif two_factor.use_recovery_code(session, staff, code, now):
        how = f"recovery code ({two_factor.recovery_codes_left(session, staff.id)} left)"
    else:
        throttle.record_failure(_code_key(staff.id), ip)
        if app_code == "used":
            audit(session, "signin_code_failed", staff.id, detail="code already used", ip=ip)
            return SignIn(
                None,
                "That code was just used. Wait for the next one (a new code appears every 30 seconds).",
            )
        audit(session, "signin_code_failed", staff.id, ip=ip)
        return SignIn(
            None,
            "That code is not right. Type the 6 digits your authenticator app shows now, "
            "or one of your recovery codes (each works once).",
        )
    throttle.record_success(_code_key(staff.id), ip)
    audit(session, "signin", staff.id, detail=f"with {how}", ip=ip)
    return SignIn(staff)


def set_password(session: Session, staff: StaffUser, password: str, *, by: StaffUser | None = None) -> None:
    """A new password ends every session signed in with the old one. One set by someone else (`by`, or
    the CLI's generated one) is temporary: the person must change it at their next sign-in."""
    staff.password_hash = passwords.hash_password(password)
    staff.must_change_password = by is not None and by.id != staff.id
    sessions.end_all(session, staff.id, "password")
    audit(session, "password_reset", by.id if by else staff.id, detail=f"staff:{staff.id}")


def change_own_password(
    session: Session,
    staff: StaffUser,
    current: str,
    new: str,
    *,
    keep_token: str | None,
    throttle: SignInThrottle,
    ip: str | None = None,
) -> None:
    """The signed-in person's own change: the current password is asked for, the new one must meet the
    rules and differ, and every other browser signed in as them is signed out (this one stays).
    Wrong current passwords count on the sign-in throttle under the account's email, so a stolen
    session cannot guess the password here faster than at the sign-in page (ThrottleUnavailable if
    the counter cannot be reached). Raises ValidationError saying what to fix."""
    from checkin.errors import ValidationError

    email = (staff.email or "").strip().lower()
    wait = throttle.blocked_for(email, ip or "")
    if wait:
        raise ValidationError(f"too many wrong passwords; try again in {_minutes(wait)}")
    if not passwords.verify_password(staff.password_hash, current):
        throttle.record_failure(email, ip or "")
        raise ValidationError("your current password is not right")
    if current == new:
        raise ValidationError("the new password must be different from the current one")
    staff.password_hash = passwords.hash_password(new)
    staff.must_change_password = False
    ended = sessions.end_all(session, staff.id, "password", except_token=keep_token)
    audit(
        session,
        "password_changed",
        staff.id,
        detail=f"staff:{staff.id} other browsers signed out ({ended})",
        ip=ip,
    )


def invite(
    session: Session,
    staff: StaffUser,
    *,
    by: StaffUser | None,
    lifetime: timedelta,
    reset: bool = False,
    ip: str | None = None,
) -> tuple[StaffInvitation, str]:
    """A link for `staff` to set their own password (an invitation, or a reset: then the old password
    stops working and they are signed out everywhere). `by` None: from the CLI. Returns the row and the
    token (never stored)."""
    row, token = invitations.issue(
        session, staff, kind=invitations.RESET if reset else invitations.INVITE, lifetime=lifetime, by=by
    )
    if reset:
        staff.password_hash = None
        sessions.end_all(session, staff.id, "password")
    hours = round(lifetime.total_seconds() / 3600)
    audit(
        session,
        "invite_sent",
        by.id if by else None,
        detail=f"staff:{staff.id} {row.kind} link:{row.id} for {hours} h",
        ip=ip,
    )
    return row, token


def revoke_invitations(session: Session, staff: StaffUser, *, by: StaffUser, ip: str | None = None) -> int:
    count = invitations.revoke_open(session, staff.id)
    audit(
        session, "invite_revoked", by.id, detail=f"staff:{staff.id} ({count} link{'s' * (count != 1)})", ip=ip
    )
    return count


def accept_invitation(
    session: Session, token: str, password: str, *, ip: str | None = None, now: datetime | None = None
) -> StaffUser:
    """Set the password a link was sent for, once. Raises ValidationError (the link's problem, or what is
    wrong with the password); nothing is spent when the password is refused."""
    from checkin.errors import ValidationError

    now = now or utcnow()
    opened = invitations.open_link(session, token, now=now)
    if opened.problem:
        raise ValidationError(opened.problem)
    staff, row = opened.staff, opened.invitation
    staff.password_hash = passwords.hash_password(password)
    # Spent with a conditional update: two tabs sending the form at once cannot both use it.
    claimed = session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.id == row.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
        )
        .values(used_at=now)
    ).rowcount
    if not claimed:
        raise ValidationError(f"This link has already been used, and works only once. {invitations.ASK}")
    staff.must_change_password = False
    sessions.end_all(session, staff.id, "password", now=now)
    audit(
        session, "invite_used", staff.id, detail=f"staff:{staff.id} {row.kind} link:{row.id}", ip=ip, now=now
    )
    return staff


def enable_two_factor(
    session: Session, staff: StaffUser, secret: str, code: str, *, ip: str | None = None
) -> list[str] | None:
    codes = two_factor.enable(session, staff, secret, code)
    if codes is not None:
        audit(session, "2fa_on", staff.id, detail=f"staff:{staff.id}", ip=ip)
    return codes


def turn_off_two_factor(session: Session, staff: StaffUser, *, by: StaffUser, ip: str | None = None) -> None:
    """The person's own choice ("2fa_off") or a coordinator's reset for someone who lost their phone
    ("2fa_reset": they sign in with their password and set up an app again)."""
    two_factor.disable(session, staff)
    if by.id != staff.id:
        sessions.end_all(session, staff.id, "2fa_reset")
    audit(session, "2fa_off" if by.id == staff.id else "2fa_reset", by.id, detail=f"staff:{staff.id}", ip=ip)
