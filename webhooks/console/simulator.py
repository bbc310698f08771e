"""The simulator: what the service would answer a member, and whom it would alert, with nothing kept.

Each text goes through the real inbound path (checkin.inbound.receive_sms: store, assess, escalate,
reply) inside one database transaction that is rolled back at the end. So the coordinator sees the
real reply and the real alert texts, but no message, escalation or outbox row survives: no worker,
sweeper or escalation timer can ever deliver a simulated alert, whichever messaging backend is set,
and the member's real record (consent, check-ins, timeline) is untouched.

The texts are sent by a stand-in (`stand_in`): a member made inside the rolled-back transaction with the
chosen member's profile (name, language, channel, zone, groups, opted-out or paused) and a number
nobody has. So whatever the run writes, and whatever the domain logs while it runs (`member=...`),
names the stand-in's id, which never exists outside the transaction: nothing about the real member is
written anywhere, logs included. Each run is an audit row (action "simulate") in the console.

A conversation is replayed from its first text on every turn (the page posts the earlier texts
back), so later answers see the earlier ones, e.g. START after STOP, within the same rollback.
Simulated MessageSids start with "SMsim" as a second mark in case one is ever logged.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from textwrap import shorten

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import crypto, inbound
from checkin.db import unit_of_work, utcnow
from checkin.models import ConsentEvent, Group, Member, OutboxItem, StaffUser
from checkin.unit_of_work import ListDispatcher, WorkSession

SID_PREFIX = "SMsim"
MAX_TURNS = 12
MAX_TEXT = 1600


@dataclass(frozen=True)
class Send:
    """An outbox row the text caused: a reply to the member or an alert to a member of staff."""

    to: str  # who, in words: a staff name or "the member"
    channel: str
    purpose: str
    body: str | None


@dataclass(frozen=True)
class Turn:
    text: str
    reply: str | None
    level: str | None
    alerts: tuple[Send, ...] = ()
    other: tuple[Send, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"“{shorten(self.text, 40, placeholder='…')}”"


class _RolledBack:
    """Looks like checkin.db.Database to the domain, but every unit of work is a savepoint on one
    connection whose outer transaction the simulator rolls back."""

    def __init__(self, connection):
        self.connection = connection
        self.collected = ListDispatcher()  # what each unit of work would send: shown, never sent

    def session(self):
        return unit_of_work(
            WorkSession(
                bind=self.connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                dispatcher=self.collected,
            )
        )

    def take_send_ids(self) -> list[int]:
        """The outbox rows written since the last call (in the order a dispatcher gets them)."""
        ids = [s.id for s in self.collected.sends]
        self.collected.dispatched.clear()
        return ids


def _engine(db):
    """The engine to roll back on (see Database.savepoint_engine), with the database's keys."""
    engine = db.savepoint_engine
    crypto.share(db.engine, engine)
    return engine


def sid() -> str:
    return SID_PREFIX + uuid.uuid4().hex


# The stand-in's number: 555-0100..0199 is set aside for fiction in the North American plan.
STAND_IN_NUMBERS = [f"+1800555{n:04d}" for n in range(100, 200)]


def stand_in(session: Session, member_id: int) -> Member:
    """A member with `member_id`'s profile and a number nobody has, for a rolled-back run to text as."""
    member = session.get(Member, member_id)
    taken = set(session.scalars(select(Member.phone).where(Member.phone.in_(STAND_IN_NUMBERS))))
    number = next(n for n in STAND_IN_NUMBERS if n not in taken)
    double = Member(
        phone=number,
        display_name=member.display_name,
        language=member.language,
        timezone=member.timezone,
        channel=member.channel,
        status=member.status,
        paused_until=member.paused_until,
    )
    double.groups = list(member.groups)
    session.add(double)
    session.flush()
    # Consent as the member's stands now (the latest event), so STOP and START answer as they would.
    latest = session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member.id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )
    if latest is not None:
        session.add(ConsentEvent(member_id=double.id, kind=latest.kind, source="simulator"))
    return double


@contextmanager
def rolled_back(db) -> Iterator[_RolledBack]:
    """A stand-in for `db` on one connection: whatever is done through it is undone on exit."""
    with _engine(db).connect() as connection:
        outer = connection.begin()
        try:
            yield _RolledBack(connection)
        finally:
            outer.rollback()


def run(
    db, member_id: int, group_id: int, texts: list[str], *, context, now: datetime | None = None
) -> list[Turn]:
    """Replay `texts` from the member to the group's number and return what each caused."""
    texts = [t[:MAX_TEXT] for t in texts][-MAX_TURNS:]
    now = now or utcnow()
    turns: list[Turn] = []
    with rolled_back(db) as dry:
        with dry.session() as session:
            double = stand_in(session, member_id)
            group = session.get(Group, group_id)
            from_number, to_number = double.phone, group.phone_number or ""
        for text in texts:
            answer = inbound.receive_sms(
                dry, inbound.InboundSms(sid(), from_number, to_number, text), context=context, now=now
            )
            with dry.session() as session:
                alerts, other = sends(session, dry.take_send_ids())
            turns.append(Turn(text, answer.reply, answer.level, alerts, other))
    return turns


# An alert's link to its case (checkin.escalation.service.link), left out of a simulated alert.
_CASE_LINK = re.compile(r"\s*\S*/console/escalations/\d+")


def sends(session: Session, ids: list[int]) -> tuple[tuple[Send, ...], tuple[Send, ...]]:
    """The outbox rows `ids` as (alerts to staff, everything else), in the order they were written."""
    alerts, other = [], []
    rows = (
        session.execute(
            select(OutboxItem, StaffUser.name)
            .outerjoin(StaffUser, StaffUser.id == OutboxItem.staff_id)
            .where(OutboxItem.id.in_(ids))
            .order_by(OutboxItem.id)
        ).all()
        if ids
        else []
    )
    for item, staff_name in rows:
        body = item.body
        if item.staff_id is not None and body:  # the case was undone: no link to a case that is not there
            body = _CASE_LINK.sub("", body).rstrip()
        send = Send(staff_name or "the member", item.channel, item.purpose, body)
        (alerts if item.staff_id is not None else other).append(send)
    return tuple(alerts), tuple(other)
