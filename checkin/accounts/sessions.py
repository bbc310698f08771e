"""Server-side console sessions: the cookie carries a random token, the database says who it is.

Revoking is a row update, so a cookie copied before sign-out (or before a password reset or
deactivation) signs nobody in afterwards; nothing in the cookie is derived from the password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from checkin.accounts.models import StaffSession
from checkin.db import utcnow
from checkin.models import StaffUser

# last_seen_at is for the "signed in on" list, not security: one write a minute per browser is enough.
SEEN_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session,
    staff: StaffUser,
    *,
    lifetime: timedelta,
    device: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new session for `staff`; returns the token for the cookie (never stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_digest(token),
            staff_id=staff.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            device=(device or "")[:120] or None,
            ip=ip,
        )
    )
    return token


def live_session(
    session: Session, token: str | None, *, now: datetime | None = None
) -> tuple[StaffSession, StaffUser] | None:
    """The live session this token is and its (active) staff member, or None. Reads only: `seen` records
    the use, in a transaction of its own (see there)."""
    if not token:
        return None
    now = now or utcnow()
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    staff = session.get(StaffUser, row.staff_id)
    if staff is None or not staff.active:
        return None
    return row, staff


def seen_due(row: StaffSession, *, now: datetime | None = None) -> bool:
    """Whether this session's last use is old enough to be written again (see SEEN_EVERY)."""
    return (now or utcnow()) - row.last_seen_at >= SEEN_EVERY


def seen(session: Session, session_id: int, *, now: datetime | None = None) -> None:
    """Record that a session was used now. Its own short transaction, committed at once by the caller:
    a console request's session must not hold a write (on SQLite, the whole file's write lock) for the
    rest of the request while another unit of work, or another process, needs to write."""
    session.execute(
        update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now or utcnow())
    )


def end(session: Session, token: str | None, why: str = "signout", *, now: datetime | None = None) -> None:
    if token:
        session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _digest(token), StaffSession.ended_at.is_(None))
            .values(ended_at=now or utcnow(), ended_why=why)
        )


def end_all(
    session: Session, staff_id: int, why: str, *, now: datetime | None = None, except_token: str | None = None
) -> int:
    """End every live session of one staff member (but the one of `except_token`); returns how many."""
    query = update(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
    if except_token:
        query = query.where(StaffSession.token_hash != _digest(except_token))
    result = session.execute(query.values(ended_at=now or utcnow(), ended_why=why))
    return result.rowcount or 0


def live(session: Session, staff_id: int, *, now: datetime | None = None) -> list[StaffSession]:
    """The staff member's sessions that still sign someone in, newest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.staff_id == staff_id,
                StaffSession.ended_at.is_(None),
                StaffSession.expires_at > now,
            )
            .order_by(StaffSession.last_seen_at.desc())
        )
    )
