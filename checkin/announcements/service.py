"""Announcements: who gets one and when (the preview), writing it to the outbox once, and its progress.

An announcement is automated (one coordinator, many members), so it keeps every member's night: a member
whose local time is outside the group's sending window gets it when the window opens, and the outbox's
send-time gate (`send_gate`) checks again when it goes. Opted-out and paused members are skipped and
counted; consent is checked again by the outbox at the moment of sending, as for every send. Pacing per
sending number is the outbox's own. Voice members get a call that reads the text (checkin.voice.flow).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin import quiet_hours, unit_of_work
from checkin.announcements.models import Announcement
from checkin.db import utcnow
from checkin.errors import ValidationError
from checkin.models import Group, GroupMember, Member, Message, OutboxItem
from checkin.outbox import DEFAULT_QUEUE, Cancel
from checkin.schedules.plan import STOP_EXAMPLE, stop_problem
from checkin.schedules.service import get_plan, plan_from
from checkin.schedules.tick import BulkInsert, insert_outbox_rows
from checkin.templates import segments

log = logging.getLogger("checkin.announcements")

PURPOSE = "announcement"
MAX_SEGMENTS = 4  # a longer text is a letter, not a text: carriers split it and may deliver parts apart
MAX_CHARS = 600


class AnnouncementError(ValidationError):
    """The announcement cannot be sent as asked; the message says what to change. `field` is the text it
    is about ("text_en" | "text_es", None for the whole form); `all`, every such problem at once (the
    first is the error itself), so a form can mark each text."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
        self.all: list[AnnouncementError] = [self]


class KeyUsed(AnnouncementError):
    """The send key already sent other words (a form sent, then changed with the browser's Back)."""

    def __init__(self, announcement_id: int):
        super().__init__(
            f"this form was already sent, with other words, as announcement {announcement_id}: "
            "preview again to send these words as a new announcement"
        )
        self.announcement_id = announcement_id


@dataclass(frozen=True)
class Recipient:
    member_id: int
    name: str
    language: str
    channel: str
    zone: str
    send_at: datetime | None  # UTC; None when skipped
    skipped: str | None = None  # why not: "opted out", "paused"

    @property
    def local(self) -> datetime | None:
        return self.send_at.astimezone(ZoneInfo(self.zone)) if self.send_at else None


@dataclass(frozen=True)
class Preview:
    group: Group
    recipients: list[Recipient]
    now: datetime

    @property
    def sending(self) -> list[Recipient]:
        return [r for r in self.recipients if r.skipped is None]

    @property
    def now_count(self) -> int:
        return sum(1 for r in self.sending if r.send_at <= self.now)

    @property
    def later(self) -> list[Recipient]:
        """Members in their night: they get it when their window opens."""
        return [r for r in self.sending if r.send_at > self.now]

    @property
    def skipped(self) -> Counter:
        return Counter(r.skipped for r in self.recipients if r.skipped)

    @property
    def languages(self) -> Counter:
        return Counter(r.language for r in self.sending)

    def summary(self) -> str:
        """One line for a coordinator: how many now, how many later and from when, how many skipped why."""
        n = len(self.sending)
        parts = [f"{n} {'member gets' if n == 1 else 'members get'} it: {self.now_count} now"]
        if self.later:
            # In the group's own time, as the rest of the page reads (members' own times are per line).
            first = min(r.send_at for r in self.later).astimezone(ZoneInfo(self.group.timezone))
            # As the console writes a time elsewhere: "Mon, Dec 7, 8:00 am CST".
            clock = f"{first.hour % 12 or 12}:{first:%M} {'am' if first.hour < 12 else 'pm'}"
            parts.append(
                f"{len(self.later)} at their morning (quiet hours; first at "
                f"{first:%a}, {first:%b} {first.day}, {clock} {first:%Z})"
            )
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"{n} skipped ({reason})")
        return "; ".join(parts)


def _text_problems(text_en: str | None, text_es: str | None, group_name: str = "") -> list[AnnouncementError]:
    """Every way the two texts are not acceptable, each for its text. The length counted is the text
    as sent: the group's name before it and the stop wording after it (body_for)."""
    problems = []
    if not (text_en or "").strip():
        problems.append(
            AnnouncementError("the announcement text is empty: write what the members should read", "text_en")
        )
    for label, field, text in (("English", "text_en", text_en), ("Spanish", "text_es", text_es)):
        text = (text or "").strip()
        if not text:
            continue
        if len(text) > MAX_CHARS:
            problems.append(
                AnnouncementError(f"the {label} text is {len(text)} characters; at most {MAX_CHARS}", field)
            )
            continue
        encoding, chars, count = segments(body_for(group_name, text, field[-2:]))
        if count > MAX_SEGMENTS:
            problems.append(
                AnnouncementError(
                    f"the {label} text is {count} SMS segments ({chars} {encoding} characters, with the "
                    f"group's name and how to stop); at most {MAX_SEGMENTS}",
                    field,
                )
            )
    return problems


def _refuse(problems: list[AnnouncementError]) -> None:
    if problems:
        first = problems[0]
        first.all = list(problems)
        raise first


def _texts(text_en: str | None, text_es: str | None, group_name: str = "") -> tuple[str, str | None]:
    _refuse(_text_problems(text_en, text_es, group_name))
    return (text_en or "").strip(), (text_es or "").strip() or None


def preview(
    session: Session, group: Group, text_en: str | None, text_es: str | None, now: datetime | None = None
) -> Preview:
    """Who gets the announcement and when, in their local time, after quiet hours; who is skipped and why.
    Refuses (AnnouncementError) an empty or too long text, and a group with Spanish speakers but no
    Spanish text."""
    now = now or utcnow()
    problems = _text_problems(
        text_en, text_es, group.name
    )  # refused below, with the Spanish one: all at once
    plan = get_plan(session, group.id)
    rows = session.execute(
        select(
            Member.id,
            Member.display_name,
            Member.language,
            Member.channel,
            Member.timezone,
            Member.status,
            Member.paused_until,
        )
        .join(GroupMember, GroupMember.member_id == Member.id)
        .where(GroupMember.group_id == group.id)
        .order_by(Member.display_name, Member.id)
    ).all()
    windows: dict[str, datetime] = {}  # one quiet-hours answer per zone, not per member
    recipients = []
    for mid, name, language, channel, zone, status, paused_until in rows:
        zone = zone or group.timezone
        first = name.split()[0] if name and name.strip() else "member"
        if paused_until is not None and paused_until > now and status == "active":
            status = "paused"  # paused through a date: automated sends wait for nobody until then
        skipped = {"opted_out": "opted out", "paused": "paused"}.get(status)
        send_at = None
        if skipped is None:
            if zone not in windows:
                windows[zone] = quiet_hours.next_allowed(now, zone, plan.quiet_start, plan.quiet_end)
            send_at = windows[zone]
        recipients.append(Recipient(mid, first, language, channel, zone, send_at, skipped))
    result = Preview(group, recipients, now)
    spanish = result.languages.get("es", 0)
    if spanish and not (text_es or "").strip():
        members = "member" if spanish == 1 else "members"
        problems.append(
            AnnouncementError(
                f"{group.name} has {spanish} Spanish-speaking {members}: write the Spanish text too",
                "text_es",
            )
        )
    _refuse(problems)
    return result


def request_key_for(group_id: int, text_en: str, text_es: str | None, day: str) -> str:
    """A key for a command-line announcement: the same words to the same group on the same day send once."""
    digest = hashlib.sha256(f"{group_id}\0{text_en}\0{text_es or ''}\0{day}".encode()).hexdigest()
    return f"cli:{digest[:40]}"


def voice_url(base_url: str, member_id: int, announcement_id: int) -> str:
    query = urlencode({"kind": PURPOSE, "member": member_id, "occurrence": announcement_id})
    return f"{base_url.rstrip('/')}/twilio/voice/outbound?{query}"


def body_for(group_name: str, text: str, language: str = "en") -> str:
    """What the member reads: the group's name first, since the same number may serve several groups, and
    how to stop last, as every automated text says (the planned texts' own words, STOP_EXAMPLE), unless
    the coordinator's words already say it. `language` is the language the text is written in."""
    stop = "" if stop_problem(language, "announcement", text) is None else f" {STOP_EXAMPLE[language]}"
    return f"{group_name}: {text}{stop}"


def bodies_for(group_name: str, text_en: str | None, text_es: str | None) -> dict[str, str]:
    """The texts members read, by their language (English words to a Spanish speaker when there is no
    Spanish text: the preview refuses that when the group has Spanish speakers)."""
    text_en, text_es = (text_en or "").strip(), (text_es or "").strip()
    english = body_for(group_name, text_en, "en")
    return {"en": english, "es": body_for(group_name, text_es, "es") if text_es else english}


def send(
    session: Session,
    group: Group,
    text_en: str | None,
    text_es: str | None,
    *,
    request_key: str,
    staff_id: int | None = None,
    now: datetime | None = None,
    base_url: str = "",
    bulk_insert: BulkInsert | None = None,
) -> tuple[Announcement, bool]:
    """Write the announcement and one outbox row per member who gets it, in this transaction. Returns
    (announcement, created): the same `request_key` again returns the first one and writes nothing."""
    request_key = (request_key or "").strip()
    if not request_key or len(request_key) > 64:
        raise AnnouncementError("the form's send key is missing or malformed: reload the page and send again")
    existing = session.scalar(select(Announcement).where(Announcement.request_key == request_key))
    if existing is not None:
        if (existing.text_en, existing.text_es) != _texts(text_en, text_es, group.name):
            raise KeyUsed(existing.id)
        return existing, False
    now = now or utcnow()
    planned = preview(session, group, text_en, text_es, now)
    if not planned.sending:
        raise AnnouncementError(
            f"nobody in {group.name} would get it: it has no active members (opted-out and paused ones are skipped)"
        )
    text_en, text_es = _texts(text_en, text_es, group.name)
    announcement = Announcement(
        request_key=request_key,
        group_id=group.id,
        staff_id=staff_id,
        text_en=text_en,
        text_es=text_es,
        recipients=len(planned.sending),
        skipped=sum(planned.skipped.values()),
        created_at=now,
    )
    try:
        with session.begin_nested():  # a second press racing the first: that one's announcement stands
            session.add(announcement)
            session.flush()
    except IntegrityError:
        return session.scalars(
            select(Announcement).where(Announcement.request_key == request_key)
        ).one(), False
    phones = dict(
        session.execute(
            select(Member.id, Member.phone).where(Member.id.in_([r.member_id for r in planned.sending]))
        ).all()
    )
    bodies = bodies_for(group.name, text_en, text_es)
    rows = []
    for r in planned.sending:
        voice = r.channel == "voice"
        rows.append(
            dict(
                idempotency_key=f"announce:{announcement.id}:{r.member_id}",
                channel=r.channel,
                purpose=PURPOSE,
                queue=DEFAULT_QUEUE,
                to_number=phones[r.member_id],
                from_number=group.phone_number,
                body=None if voice else bodies.get(r.language, bodies["en"]),
                twiml_url=voice_url(base_url, r.member_id, announcement.id) if voice else None,
                member_id=r.member_id,
                next_attempt_at=r.send_at,
            )
        )
    created = insert_outbox_rows(session, rows, now, bulk_insert) if rows else []
    due = {f"announce:{announcement.id}:{r.member_id}": r for r in planned.sending if r.send_at <= now}
    # Only what is due now is queued; the sweeper queues the rest when each member's morning comes.
    unit_of_work.record_sends(session, ((i, q, due[k].channel) for i, k, q in created if k in due))
    log.info(
        "announcement=%s group=%s written=%d now=%d later=%d skipped=%d",
        announcement.id,
        group.id,
        len(created),
        planned.now_count,
        len(planned.later),
        announcement.skipped,
    )
    return announcement, True


@dataclass(frozen=True)
class Progress:
    total: int
    waiting: int  # not yet sent: due later (quiet hours) or in the queue
    sent: int  # accepted by the provider (delivered ones included)
    delivered: int
    failed: int
    cancelled: int  # not sent after all (opted out meanwhile)

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int(100 * self.done / self.total)

    def as_dict(self) -> dict:
        return dict(
            total=self.total,
            waiting=self.waiting,
            sent=self.sent,
            delivered=self.delivered,
            failed=self.failed,
            cancelled=self.cancelled,
            done=self.done,
            percent=self.percent,
        )


# A call's completed status is its delivery; undelivered texts and calls nobody answered failed to reach.
DELIVERED = ("delivered", "read", "completed")
UNDELIVERED = ("undelivered", "failed", "busy", "no-answer", "canceled")


def progress(session: Session, announcement_id: int) -> Progress:
    """Counts of the announcement's sends by state, from the outbox and the provider's status callbacks."""
    mine = (OutboxItem.purpose == PURPOSE, OutboxItem.idempotency_key.like(f"announce:{announcement_id}:%"))
    # A voice retry (`...:call1`) is the same member's announcement: count the member once, by the first row.
    first_only = ~OutboxItem.idempotency_key.like("%:call%")
    states = dict(
        session.execute(
            select(OutboxItem.state, func.count()).where(*mine, first_only).group_by(OutboxItem.state)
        ).all()
    )
    reached = dict(
        session.execute(
            select(Message.status, func.count())
            .join(OutboxItem, Message.outbox_id == OutboxItem.id)
            .where(*mine, first_only, OutboxItem.state == "sent")
            .group_by(Message.status)
        ).all()
    )
    delivered = sum(n for status, n in reached.items() if status in DELIVERED)
    undelivered = sum(n for status, n in reached.items() if status in UNDELIVERED)
    return Progress(
        total=sum(states.values()),
        waiting=states.get("pending", 0) + states.get("sending", 0),
        sent=states.get("sent", 0) - undelivered,
        delivered=delivered,
        failed=states.get("failed", 0) + undelivered,
        cancelled=states.get("cancelled", 0),
    )


def send_gate(session: Session, item: OutboxItem, now: datetime) -> datetime | Cancel | None:
    """Outbox gate: an announcement still goes only in the member's sending window (the group's plan)."""
    if item.purpose != PURPOSE or item.member_id is None:
        return None
    return night_hold(session, item, now)


def night_hold(session: Session, item: OutboxItem, now: datetime) -> datetime | None:
    """When a text to a member that is not a reply (an announcement, a welcome) may go: None for now,
    else the start of their sending window (their zone, the window of the group whose number sends it)."""
    from checkin.schedules.models import ReminderPlan

    row = session.execute(
        select(Member.timezone, Group.id, Group.timezone, ReminderPlan.overrides)
        .select_from(Member)
        .outerjoin(Group, Group.phone_number == item.from_number)
        .outerjoin(ReminderPlan, ReminderPlan.group_id == Group.id)
        .where(Member.id == item.member_id)
    ).first()
    if row is None:
        return None  # no such member any more: nobody's night to keep
    member_zone, group_id, group_zone, overrides = row
    plan = plan_from(overrides, group_id or 0)
    zone = member_zone or group_zone or "UTC"
    resume = quiet_hours.next_allowed(now, zone, plan.quiet_start, plan.quiet_end)
    if resume > now:
        log.info("outbox id=%s member=%s %s held for quiet hours", item.id, item.member_id, item.purpose)
        return resume
    return None
