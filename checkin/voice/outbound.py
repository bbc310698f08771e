"""Calls we place to members (reminders and check-in prompts the planner wrote to the outbox with
channel "voice"): follow their status, call again when nobody answered, record a missed check-in,
and keep the number of member calls in progress under the configured cap.

No answer or busy: call again after each of `calls.retry_minutes` (default 15, then 60 minutes)
if that time is inside the member's quiet-hours window; then, for a check-in prompt, the check-in
is recorded as missed. An answering machine got its short reminder: that is not retried.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkin import outbox, quiet_hours, status
from checkin.checkins import ANSWER_WINDOW, CheckIn, open_prompt_id
from checkin.db import lock_until_commit, utcnow
from checkin.models import Member, Message, OutboxItem
from checkin.voice import calls
from checkin.voice.config import VoiceConfig
from checkin.voice.config import load as load_config

log = logging.getLogger("checkin.voice")

MEMBER_KINDS = ("reminder", "prompt", "nudge", "change", "announcement")
UNANSWERED = ("busy", "no-answer")
_RETRY = re.compile(r"^(?P<base>.*):call(?P<n>\d)$")
# A call still ringing or talking after this long lost its final callback: stop counting it.
STALE_AFTER = timedelta(minutes=30)
IN_PROGRESS = ("queued", "sending", "sent")  # a call's Message status before its final callback
GATE_LOCK = 0x56_4F_49_43  # "VOIC": the PostgreSQL advisory lock around counting calls in progress


def is_member_call(item: OutboxItem) -> bool:
    return item.channel == "voice" and item.member_id is not None and item.purpose in MEMBER_KINDS


def split_key(key: str) -> tuple[str, int]:
    """('reminder:7:...', 0) for the first call; a retry's key ends in ':call1', ':call2'."""
    match = _RETRY.match(key)
    return (match["base"], int(match["n"])) if match else (key, 0)


def on_call_status(
    session: Session,
    item: OutboxItem,
    update: status.StatusUpdate,
    cfg: VoiceConfig | None = None,
    now: datetime | None = None,
) -> None:
    """Every status callback of a call placed through the outbox: record it; retry a member call
    nobody answered; after the last try, a check-in prompt is missed."""
    call = calls.record_status(
        session, update.sid, update.call_status, answered_by=update.answered_by, direction="outbound"
    )
    call.outbox_id = call.outbox_id or item.id
    call.member_id, call.kind = call.member_id or item.member_id, call.kind or item.purpose[:16]
    if not is_member_call(item) or update.call_status not in UNANSWERED:
        return
    cfg, now = cfg or load_config(), now or utcnow()
    base, tried = split_key(item.idempotency_key)
    checkin = None
    if item.purpose in ("prompt", "nudge"):
        # A nudge's check-in is its prompt's: same key after the kind.
        checkin = _checkin_for(
            session, item.member_id, "prompt:" + base.split(":", 1)[1] if ":" in base else base, now
        )
        if checkin is not None and checkin.state != "open":
            return  # answered meanwhile (they called us, or texted): no need to ring again
    member = session.get(Member, item.member_id)
    if member is not None and tried < len(cfg.retry_minutes):
        when = now + timedelta(minutes=cfg.retry_minutes[tried])
        if quiet_hours.allowed(when, member.effective_timezone):
            _, created = outbox.add(
                session,
                f"{base}:call{tried + 1}",
                to=item.to_number,
                twiml_url=item.twiml_url,
                channel="voice",
                purpose=item.purpose,
                member_id=item.member_id,
                from_number=item.from_number,
                not_before=when,
            )
            if created:
                log.info(
                    "member call outbox=%s %s; calling again at %s",
                    item.id,
                    update.call_status,
                    when.isoformat(),
                )
            return
    if checkin is not None and checkin.state == "open":
        checkin.state, checkin.closed_at = "missed", now
    log.info("member call outbox=%s %s; no more tries", item.id, update.call_status)


def _checkin_for(session: Session, member_id: int, prompt_key: str, now: datetime) -> CheckIn | None:
    """The prompt's check-in: by the prompt's outbox key, else the member's newest open one."""
    checkin = session.scalar(select(CheckIn).where(CheckIn.prompt_key == prompt_key))
    if checkin is None:
        checkin = session.scalar(
            select(CheckIn).where(CheckIn.id == open_prompt_id(member_id, now - ANSWER_WINDOW))
        )
    return checkin


def calls_in_progress(session: Session, now: datetime, excluding: int | None = None) -> int:
    """Member calls being placed or not yet finished (their Message has no final status yet)."""
    member_voice = (
        OutboxItem.channel == "voice",
        OutboxItem.member_id.is_not(None),
        OutboxItem.purpose.in_(MEMBER_KINDS),
    )
    placing = session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(*member_voice, OutboxItem.state == "sending", OutboxItem.id != (excluding or -1))
    )
    live = session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .join(Message, Message.outbox_id == OutboxItem.id)
        .where(
            *member_voice,
            OutboxItem.state == "sent",
            OutboxItem.sent_at >= now - STALE_AFTER,
            Message.status.in_(IN_PROGRESS),
        )
    )
    return (placing or 0) + (live or 0)


def call_gate(
    session: Session, item: OutboxItem, now: datetime, cfg: VoiceConfig | None = None
) -> datetime | None:
    """Outbox gate: hold a member call while `max_concurrent` are in progress (try again in a minute)."""
    if not is_member_call(item):
        return None
    cfg = cfg or load_config()
    # One worker at a time counts and claims: the lock lasts until this send's claim commits,
    # so the next worker's count includes it and the cap is exact.
    lock_until_commit(session, GATE_LOCK)
    if calls_in_progress(session, now, excluding=item.id) >= cfg.max_concurrent:
        log.info("member call outbox=%s held: %d calls in progress", item.id, cfg.max_concurrent)
        return now + timedelta(seconds=60)
    return None
