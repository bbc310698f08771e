"""Consent: opting out and back in, each recorded as a ConsentEvent."""

from __future__ import annotations

import logging

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from checkin.channels import phone_of
from checkin.models import ConsentEvent, Member, MemberStatus

log = logging.getLogger("checkin.consent")


def is_opted_out(session: Session, channel: str, address: str, *, member_id: int | None = None) -> bool:
    """Has the person at `address` on `channel` (or member `member_id`) said STOP? Consent is the
    person's: a STOP by text holds for calls too, and for an address that is not a bare number."""
    phone = phone_of(channel, address)
    whose = Member.phone == phone if member_id is None else or_(Member.phone == phone, Member.id == member_id)
    return bool(session.scalar(select(exists().where(whose, Member.status == MemberStatus.OPTED_OUT.value))))


def opt_out(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    """Stop every automated message to `member` now. Returns False if they had already opted out."""
    from checkin import outbox

    already = member.status == MemberStatus.OPTED_OUT
    member.status = MemberStatus.OPTED_OUT.value
    session.add(ConsentEvent(member_id=member.id, kind="opt_out", source=source, message_id=message_id))
    cancelled = outbox.cancel_pending_for(session, member.phone, "recipient opted out", member.id)
    log.info("opt-out member=%s source=%s cancelled_outbox=%s", member.id, source, cancelled)
    return not already


def opt_in(session: Session, member: Member, *, source: str, message_id: int | None = None) -> bool:
    was_out = member.status == "opted_out"
    member.status = "active"
    session.add(ConsentEvent(member_id=member.id, kind="opt_in", source=source, message_id=message_id))
    log.info("opt-in member=%s source=%s", member.id, source)
    return was_out


class OptedOutNumbers:
    """The numbers that had opted out when last read, kept in memory (never logged) for the one moment
    the database cannot be asked: answering a text that could not be stored. Read again at most every
    `max_age_seconds`, after a text was stored; a STOP or START answered without the database updates
    it at once. It can be a minute stale and is per process: it narrows what an answer without the
    database may text, it does not replace the send-time consent check."""

    def __init__(self, max_age_seconds: float = 60.0):
        import threading

        self.max_age_seconds = max_age_seconds
        self._numbers: set[str] = set()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    @property
    def known(self) -> bool:
        """Whether it has been read at all (a process started while the database was down has not)."""
        return self._read_at is not None

    def __contains__(self, phone: str) -> bool:
        return phone in self._numbers

    def refresh_if_due(self, session_factory) -> None:
        import time

        now = time.monotonic()
        if self._read_at is not None and now - self._read_at < self.max_age_seconds:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is reading it
        try:
            with session_factory() as session:
                numbers = set(
                    session.scalars(select(Member.phone).where(Member.status == MemberStatus.OPTED_OUT.value))
                )
            self._numbers, self._read_at = numbers, now
        except Exception as exc:
            log.warning(
                "could not read the opted-out numbers (%s); keeping the last list", type(exc).__name__
            )
        finally:
            self._lock.release()

    def said(self, phone: str, kind: str | None) -> None:
        """A STOP or START answered without the database: what its replay will record, known now."""
        if kind == "opt_out":
            self._numbers.add(phone)
        elif kind == "opt_in":
            self._numbers.discard(phone)
