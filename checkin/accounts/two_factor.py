"""The second factor: a six-digit code from an authenticator app (TOTP, RFC 6238, with pyotp), or one of
ten single-use recovery codes.

The shared secret is stored encrypted (StaffUser.totp_secret, checkin.crypto) and only turned on once the
person has typed a code made from it. A code is accepted one 30-second step either side of now (a phone's
clock drifts) and never twice: the last step used is kept. Recovery codes are shown once and stored as
sha256 digests.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Literal

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from checkin.accounts.models import RecoveryCode
from checkin.db import utcnow
from checkin.models import StaffUser

ISSUER = "Checkin"
DRIFT_STEPS = 1  # one 30-second step either side
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def grouped(secret: str) -> str:
    """'JBSW Y3DP EHPK 3PXP': the secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// address an app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def _clean_code(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (now ± DRIFT_STEPS) whose code this is, or None."""
    code = _clean_code(code)
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def use_app_code(
    session: Session, staff: StaffUser, code: str, now: datetime | None = None
) -> Literal["accepted", "used", "wrong"]:
    """A code from the person's app, its step worked out once: "accepted" if it is theirs and not used
    before (its step is remembered, by a conditional update, so two requests with one code cannot both
    sign in); "used" if it is theirs but its step was already used to sign in (a replay, or the person
    typing the same code twice within its 30 seconds: refused, but worth saying why); else "wrong"."""
    if not staff.totp_secret or staff.totp_enabled_at is None:
        return "wrong"
    step = matching_step(staff.totp_secret, code, now or utcnow())
    if step is None:
        return "wrong"
    claimed = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == staff.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed:
        return "accepted"
    return "used" if staff.totp_last_step is not None and step <= staff.totp_last_step else "wrong"


def enable(
    session: Session, staff: StaffUser, secret: str, code: str, now: datetime | None = None
) -> list[str] | None:
    """Turn the app on if `code` was made from `secret`; returns the new recovery codes (show them
    once), or None when the code does not match."""
    now = now or utcnow()
    step = matching_step(secret, code, now)
    if step is None:
        return None
    staff.totp_secret = secret
    staff.totp_enabled_at = now
    staff.totp_last_step = step
    return new_recovery_codes(session, staff, now=now)


def disable(session: Session, staff: StaffUser) -> None:
    """Turn the app off and forget the secret and the recovery codes (a reset, or the person's choice)."""
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    session.query(RecoveryCode).filter(RecoveryCode.staff_id == staff.id).delete()


def _digest(code: str) -> str:
    return hashlib.sha256(_clean_code(code).lower().encode()).hexdigest()


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))  # ~79 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_recovery_codes(session: Session, staff: StaffUser, *, now: datetime | None = None) -> list[str]:
    """Ten fresh codes; the old ones stop working."""
    now = now or utcnow()
    session.query(RecoveryCode).filter(RecoveryCode.staff_id == staff.id).delete()
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(staff_id=staff.id, code_hash=_digest(c), created_at=now) for c in codes)
    session.flush()
    return codes


def use_recovery_code(session: Session, staff: StaffUser, code: str, now: datetime | None = None) -> bool:
    """Spend one recovery code (a conditional update, so two requests cannot both spend it)."""
    if staff.totp_enabled_at is None or not _clean_code(code):
        return False
    result = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.staff_id == staff.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
    )
    return bool(result.rowcount)


def recovery_codes_left(session: Session, staff_id: int) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.staff_id == staff_id, RecoveryCode.used_at.is_(None))
        ).all()
    )
