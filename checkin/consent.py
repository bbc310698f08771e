"""Consent: opting out and back in, each recorded as a ConsentEvent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import crypto, timezones
from checkin.channels import phone_of
from checkin.models import ConsentEvent, Member, MemberStatus, Message, NumberOptOut

log = logging.getLogger("checkin.consent")


def is_opted_out(session: Session, channel: str, address: str, *, member_id: int | None = None) -> bool:
    """Has the person at `address` on `channel` (or member `member_id`) said STOP? Consent is the
    person's: a STOP by text holds for calls too, and for an address that is not a bare number.

    An erased member's number counts as opted out for good (it is kept only as its keyed hash), unless
    a member has that number again: an erasure ends consent, until the person is added anew."""
    phone = phone_of(channel, address)
    digests = crypto.digests(phone, session.get_bind().dialect)
    return bool(
        session.scalar(_opted_out_statement(), {"phone": phone, "member_id": member_id, "digests": digests})
    )


@cache  # built once: on the send path for every outbox row, and compiled once by SQLAlchemy after that
def _opted_out_statement():
    members = Member.__table__
    erased, current = members.alias("erased"), members.alias("current")
    phone = bindparam("phone", type_=members.c.phone.type)
    # `id = NULL` when no member id is given: never true, so the number alone decides.
    whose = or_(members.c.phone == phone, members.c.id == bindparam("member_id", type_=members.c.id.type))
    opted_out = exists().where(whose, members.c.status == MemberStatus.OPTED_OUT.value)
    was_erased = and_(
        exists().where(erased.c.phone_digest.in_(bindparam("digests", expanding=True))),
        ~exists().where(current.c.phone == phone),
    )
    return select(or_(opted_out, was_erased))


def erased_member(session: Session, phone: str) -> Member | None:
    """The erased member whose number `phone` was, unless a member has that number again."""
    if not phone or session.scalar(select(Member.id).where(Member.phone == phone)):
        return None
    digests = crypto.digests(phone, session.get_bind().dialect)
    return session.scalar(
        select(Member).where(Member.phone_digest.in_(digests)).order_by(Member.id.desc()).limit(1)
    )


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


STAFF = "staff:"


@dataclass(frozen=True)
class OwnStop:
    """An opt-out the member made themselves: how ("keyword:STOP", "phrase", "carrier:21610", or the same
    behind "before-added:") and when (their text's time when it is kept, else when it was recorded)."""

    source: str
    at: datetime


def own_stop(session: Session, member: Member) -> OwnStop | None:
    """The member's own opt-out still in force, if any: a STOP (or carrier block) since their last opt-in,
    or a STOP from their number not yet applied. Carriers and Twilio refuse texts to that number until it
    texts START (error 21610), and the rule here is the same: only their START lifts it, never staff."""
    if member.phone:
        digests = crypto.digests(member.phone, session.get_bind().dialect)
        row = session.scalar(select(NumberOptOut).where(NumberOptOut.phone_digest.in_(digests)))
        if row is not None:
            return OwnStop(row.source, _said_at(session, row.message_id) or row.created_at)
    events = session.scalars(
        select(ConsentEvent).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id.desc())
    )
    for event in events:
        if event.kind == "opt_in":
            return None
        if not event.source.startswith(STAFF):
            return OwnStop(event.source, _said_at(session, event.message_id) or event.created_at)
    return None


def _said_at(session: Session, message_id: int | None) -> datetime | None:
    if not message_id:
        return None
    return session.scalar(select(Message.created_at).where(Message.id == message_id))


class OptInRefused(ValueError):
    """A staff opt-in that must not be recorded; the message says why, in words for staff."""


def staff_opt_in(
    session: Session, member: Member, *, source: str, how: str, asked_on: date, today: date
) -> None:
    """Record that the member asked staff to receive messages again, `how` (in words, for the consent
    record) on `asked_on`. Only for an opt-out staff recorded (a paper request, a call): the member's own
    STOP is lifted by their START alone (own_stop). `today` is in the member's zone."""
    if not member.opted_out:
        raise OptInRefused("they have not opted out")
    if own_stop(session, member) is not None:
        raise OptInRefused("they texted STOP; only they can undo that, by texting START")
    if not how.strip():
        raise OptInRefused("say how they asked to receive messages again")
    last_out = session.scalar(
        select(ConsentEvent.created_at)
        .where(ConsentEvent.member_id == member.id, ConsentEvent.kind == "opt_out")
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )
    zone = member.effective_timezone
    # Days are the member's (the form says so): the zone is named, as the coordinator may live elsewhere.
    where = "UTC" if zone == "UTC" else f"{timezones.city(zone)} time, the member's time zone"
    if last_out is not None:
        out_on = last_out.astimezone(ZoneInfo(zone)).date()
        if asked_on < out_on:
            raise OptInRefused(
                f"they asked again on {_day(asked_on)}, before they opted out on {_day(out_on)} ({where}): "
                f"choose {_day(out_on)} or a later day"
            )
    if asked_on > today:
        raise OptInRefused(
            f"they cannot have asked on {_day(asked_on)}, after today ({_day(today)}, {where}): choose the "
            "day they asked, today or earlier"
        )
    opt_in(session, member, source=source)
    # The consent on file is this request, not the one their opt-out ended.
    member.consent_source = how.strip()[:80]
    member.consent_date = asked_on


def remember_number_opt_out(
    session: Session, phone: str, *, source: str, message_id: int | None = None
) -> bool:
    """A STOP from a number that is no member's: kept (as its keyed hash) until the number is added.
    Returns False if that number had already said so."""
    digests = crypto.digests(phone, session.get_bind().dialect)
    if session.scalar(select(NumberOptOut.id).where(NumberOptOut.phone_digest.in_(digests))):
        return False
    try:
        with session.begin_nested():  # two STOPs from the number at once: the second finds the first
            session.add(NumberOptOut(phone_digest=digests[0], source=source, message_id=message_id))
    except IntegrityError:
        return False
    log.info("opt-out by a number that is no member's source=%s", source)
    return True


def forget_number_opt_out(session: Session, phone: str) -> bool:
    """START from that number: its earlier STOP no longer holds."""
    digests = crypto.digests(phone, session.get_bind().dialect)
    gone = session.execute(NumberOptOut.__table__.delete().where(NumberOptOut.phone_digest.in_(digests)))
    return bool(gone.rowcount)


def apply_number_opt_out(session: Session, member: Member) -> bool:
    """A member just added whose number said STOP before: they are opted out from the start (the STOP was
    confirmed to them), recorded in their consent history. Returns True if so, for the adder to be told."""
    digests = crypto.digests(member.phone, session.get_bind().dialect)
    earlier = session.scalar(select(NumberOptOut).where(NumberOptOut.phone_digest.in_(digests)))
    if earlier is None:
        return False
    member.status = MemberStatus.OPTED_OUT.value
    source = f"{BEFORE_ADDED}{earlier.source}"[:40]
    session.add(
        ConsentEvent(member_id=member.id, kind="opt_out", source=source, message_id=earlier.message_id)
    )
    session.delete(earlier)
    session.flush()
    log.info("member=%s added opted out: their number said STOP before they were added", member.id)
    return True


BEFORE_ADDED = "before-added:"


def added_opted_out(session: Session, member: Member) -> tuple[str, datetime | None] | None:
    """Why `member` was added opted out, if their number had said STOP before they were added: how it
    said so (the earlier opt-out's source, "keyword:STOP") and when (its text's time; None once the text
    is gone). None if they were not added so."""
    event = session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member.id, ConsentEvent.source.startswith(BEFORE_ADDED))
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    return event.source.removeprefix(BEFORE_ADDED), _said_at(session, event.message_id)


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
        # Erased members' numbers, as keyed hashes, and the function that hashes a number to compare.
        self._digests: set[str] = set()
        self._digest_of = None
        self._read_at: float | None = None
        self._lock = threading.Lock()

    @property
    def known(self) -> bool:
        """Whether it has been read at all (a process started while the database was down has not)."""
        return self._read_at is not None

    def __contains__(self, phone: str) -> bool:
        if phone in self._numbers:
            return True
        return bool(self._digests) and any(d in self._digests for d in self._digest_of(phone))

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
                digests = set(
                    session.scalars(select(Member.phone_digest).where(Member.phone_digest.is_not(None)))
                )
                dialect = session.get_bind().dialect
            self._digest_of = lambda phone: crypto.digests(phone, dialect)
            self._numbers, self._digests, self._read_at = numbers, digests, now
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


def _day(value: date) -> str:
    """'Mon, Dec 7, 2026', as the console writes a day."""
    return f"{value:%a}, {value:%b} {value.day}, {value.year}"
