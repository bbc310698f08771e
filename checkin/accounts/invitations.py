"""Invitation and reset links: how a staff member comes to set their own password.

A coordinator invites someone (or resets their password); the console shows the link once and may text
it to the person's phone. The link carries a random token; only its sha256 is stored, so a copy of the
table lets nobody in. A link works once, until it expires (CHECKIN_INVITE_HOURS, 72 by default), and a
new link for the same person revokes the ones before it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from checkin.accounts.models import StaffInvitation
from checkin.db import utcnow
from checkin.models import StaffUser

INVITE, RESET = "invite", "reset"
KINDS = (INVITE, RESET)
DEFAULT_HOURS = 72
PATH = "/console/welcome/"  # + token: the page where the person sets their password


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    staff: StaffUser,
    *,
    kind: str,
    lifetime: timedelta,
    by: StaffUser | None,
    now: datetime | None = None,
) -> tuple[StaffInvitation, str]:
    """A new link for `staff` (the ones before it stop working); returns the row and the raw token,
    which is never stored: show it once, or text it."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    now = now or utcnow()
    revoke_open(session, staff.id, now=now)
    token = secrets.token_urlsafe(32)
    row = StaffInvitation(
        token_hash=_digest(token),
        staff_id=staff.id,
        kind=kind,
        created_by=by.id if by else None,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return row, token


def revoke_open(session: Session, staff_id: int, *, now: datetime | None = None) -> int:
    """Revoke every link of this person that could still be used; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.staff_id == staff_id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def latest(session: Session, staff_id: int) -> StaffInvitation | None:
    return session.scalar(
        select(StaffInvitation)
        .where(StaffInvitation.staff_id == staff_id)
        .order_by(StaffInvitation.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Opened:
    """What a link is: usable (`problem` None) or why not, in words, with the person it was for."""

    invitation: StaffInvitation | None
    staff: StaffUser | None
    problem: str | None = None


ASK = "Ask your coordinator to send you a new link."


def open_link(session: Session, token: str, *, now: datetime | None = None) -> Opened:
    now = now or utcnow()
    row = (
        session.scalar(select(StaffInvitation).where(StaffInvitation.token_hash == _digest(token)))
        if token and len(token) <= 100
        else None
    )
    if row is None:
        return Opened(None, None, f"This link is not one we know: it may be cut short or mistyped. {ASK}")
    staff = session.get(StaffUser, row.staff_id)
    if staff is None or not staff.active:
        return Opened(
            row, None, "This link is for an account that is no longer active. Ask your coordinator."
        )
    if row.used_at is not None:
        return Opened(row, staff, f"This link has already been used, and works only once. {ASK}")
    if row.revoked_at is not None:
        return Opened(row, staff, f"This link was cancelled, or replaced by a newer one. {ASK}")
    if row.expires_at <= now:
        return Opened(row, staff, f"This link has expired. {ASK}")
    return Opened(row, staff)


def mark_used(row: StaffInvitation, *, now: datetime | None = None) -> None:
    row.used_at = now or utcnow()
