"""A person's reply to a member, from the group's number, through the outbox.

A reply is written by a facilitator or coordinator (console form, or `R 12 <text>` by SMS), so it is
not an automated send: quiet hours do not hold it (`checkin.schedules.late` only judges the planner's
kinds). Consent still does: a reply to an opted-out member is refused here, with the reason, and the
outbox checks again at the moment of sending. It goes on the alert queue, which workers take first and
the pacer never holds behind a fan-out: a person is waiting for it, and there are few.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from checkin import outbox, templates, unit_of_work
from checkin.db import utcnow
from checkin.errors import ValidationError
from checkin.inbox import conversations
from checkin.inbox.models import CannedReply, ConversationState
from checkin.models import LANGUAGES, ConsentEvent, Group, GroupMember, Member, StaffUser
from config import CONFIG_DIR

log = logging.getLogger("checkin.inbox.replies")

PURPOSE = "reply"
MAX_CHARS = 1600  # Twilio's limit for one message body
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


class ReplyRefused(ValidationError):
    """The reply cannot be sent; the message says why, in words for the person who wrote it."""


@dataclass(frozen=True)
class Sent:
    outbox_id: int
    created: bool  # False: this very reply was sent already (a second press, a retried webhook)
    encoding: str
    segments: int
    from_number: str | None


# How an opt-out came, in words (ConsentEvent.source); a keyword names itself ("texted STOP").
_STOPPED_BY = (
    ("phrase", " (asked in words)"),
    ("staff:", " (recorded in the console)"),
    ("carrier:", " (their carrier reported it)"),
)


def refusal(session: Session, member: Member, group: Group | None) -> str | None:
    """Why nothing can be sent to `member` from `group` now, or None."""
    name = member.display_name
    if member.opted_out:
        stop = session.scalar(
            select(ConsentEvent)
            .where(ConsentEvent.member_id == member.id, ConsentEvent.kind == "opt_out")
            .order_by(ConsentEvent.id.desc())
            .limit(1)
        )
        source = stop.source if stop is not None else ""
        how = next((words for prefix, words in _STOPPED_BY if source.startswith(prefix)), "")
        if source.startswith("keyword:"):
            how = f" (texted {source[8:]})"
        return f"{name} has opted out{how}: nothing can be sent to them until they text START."
    if member.channel != "sms":
        return (
            f"{name} is reached by phone calls, not texts (the number may be a landline): call them instead."
        )
    if group is None:
        return f"{name} is in no group, so there is no group number to reply from."
    return None


def send(
    session: Session,
    *,
    member: Member,
    group: Group,
    staff: StaffUser,
    body: str,
    key: str,
    now: datetime | None = None,
) -> Sent:
    """Write the reply to the outbox (sent when the caller's unit of work commits), or raise
    ReplyRefused. `key` makes it idempotent: the same key sends once."""
    now = now or utcnow()
    text = (body or "").strip()
    if not text:
        raise ReplyRefused("Write the reply first: it is empty.")
    if len(text) > MAX_CHARS:
        raise ReplyRefused(
            f"The reply is {len(text)} characters; at most {MAX_CHARS} can be sent in one message."
        )
    if "\x00" in text:
        raise ReplyRefused("The reply contains a NUL character.")
    if group is not None and not session.scalar(
        select(GroupMember.member_id).where(
            GroupMember.group_id == group.id, GroupMember.member_id == member.id
        )
    ):
        raise ReplyRefused(f"{member.display_name} is not in {group.name}.")
    why = refusal(session, member, group)
    if why:
        raise ReplyRefused(why)
    item, created = outbox.add(
        session,
        key,
        to=member.phone,
        body=text,
        purpose=PURPOSE,
        queue=unit_of_work.ALERT_QUEUE,
        member_id=member.id,
        staff_id=staff.id,
        from_number=group.phone_number,
        not_before=now,
    )
    conversation = conversations.open_for(session, member.id, group.id)
    if conversation is not None and conversation.state == ConversationState.WAITING:
        conversations.take(session, conversation, staff.id, now)
    elif conversation is not None:
        conversation.unread = 0
    encoding, _chars, count = templates.segments(text)
    log.info(
        "reply outbox=%s member=%s staff=%s group=%s created=%s",
        item.id,
        member.id,
        staff.id,
        group.id,
        created,
    )
    return Sent(item.id, created, encoding, count, group.phone_number)


# --- canned replies --------------------------------------------------------------------------

CANNED_PATH = CONFIG_DIR / "replies.toml"
MAX_CANNED = 30


@dataclass(frozen=True)
class Canned:
    label: str
    body: str


@lru_cache(maxsize=2)
def defaults(path: Path = CANNED_PATH) -> dict[str, tuple[Canned, ...]]:
    """config/replies.toml: per language, a list of {label, body}. Checked at start (see `check`)."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    out = {}
    for language, items in raw.items():
        if language not in LANGUAGES:
            raise ValueError(f"{path.name}: [{language}] is not a language ({', '.join(LANGUAGES)})")
        if not isinstance(items, dict) or not isinstance(items.get("reply"), list):
            raise ValueError(f"{path.name}: [{language}] must hold [[{language}.reply]] entries")
        out[language] = tuple(
            _canned(f"{path.name} [{language}] reply {i + 1}", r) for i, r in enumerate(items["reply"])
        )
    return out


def _canned(where: str, raw) -> Canned:
    if not isinstance(raw, dict) or set(raw) != {"label", "body"}:
        raise ValueError(f"{where}: must have exactly label and body")
    return Canned(*_checked(where, raw["label"], raw["body"]))


def _checked(where: str, label, body) -> tuple[str, str]:
    label = label.strip() if isinstance(label, str) else ""
    body = body.strip() if isinstance(body, str) else ""
    if not label or len(label) > 40:
        raise ValueError(f"{where}: the label must be 1-40 characters")
    if not body or len(body) > 480:
        raise ValueError(f"{where}: the text must be 1-480 characters")
    return label, body


def canned(session: Session, language: str) -> tuple[Canned, ...]:
    """The replies a coordinator saved for `language`, else the file's."""
    rows = session.scalars(
        select(CannedReply)
        .where(CannedReply.language == language)
        .order_by(CannedReply.position, CannedReply.id)
    ).all()
    if rows:
        return tuple(Canned(r.label, r.body) for r in rows)
    return defaults().get(language, ())


def parse_lines(text: str, language: str) -> list[Canned]:
    """The console's editor: one reply a line, `label | text`. Blank lines are skipped."""
    out = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        label, bar, body = line.partition("|")
        where = f"{LANGUAGE_NAMES.get(language, language)} line {number}"
        if not bar:
            raise ValidationError(f"{where}: write it as label | text")
        try:
            out.append(Canned(*_checked(where, label, body)))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
    if len(out) > MAX_CANNED:
        raise ValidationError(f"{LANGUAGE_NAMES.get(language, language)}: at most {MAX_CANNED} replies")
    return out


def save_canned(session: Session, language: str, replies: list[Canned], staff_id: int) -> None:
    """Replace `language`'s list (an empty list goes back to the file's)."""
    if language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}")
    session.execute(delete(CannedReply).where(CannedReply.language == language))
    for position, reply in enumerate(replies):
        session.add(
            CannedReply(
                language=language, position=position, label=reply.label, body=reply.body, updated_by=staff_id
            )
        )
