"""Escalation: assess each inbound message, open or update the member's one live case, page
facilitators by policy until someone takes it, and keep an audit row for every step.

Every outbound effect is an outbox row written in the caller's transaction, with the key
`alert:{escalation}:{step}:{attempt}:{staff}:{channel}`, so running any of this twice (two
webhooks, two timer ticks) never sends anything twice. Logs carry ids, never bodies or numbers.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from checkin import answers, keywords, outbox, rota, unit_of_work
from checkin.answers.parse import parse_score  # the one score parser
from checkin.checkins import ANSWER_FIELDS, answered_values
from checkin.db import lock_until_commit
from checkin.escalation import effective, failsafe
from checkin.escalation import policy as policy_module
from checkin.escalation.models import (
    LIVE_STATES,
    AssessmentRecord,
    Escalation,
    EscalationEvent,
    EscalationState,
)
from checkin.escalation.policy import GroupPolicy, LevelPolicy, Policy
from checkin.models import Group, GroupStaff, Member, Message, OutboxItem, StaffUser
from checkin.rows import adopt, adopt_instance, from_row, insert_returning_id
from checkin.rules.engine import Level

log = logging.getLogger("checkin.escalation")

RANK = {level.value: rank for rank, level in enumerate(Level)}  # none 0, watch 1, urgent 2, crisis 3
PAGED = ("urgent", "crisis")
ALERT_PURPOSE, INFO_PURPOSE = "alert", "alert_info"
_KEY = re.compile(r"^alert:(\d+):(\d+):(\d+):(\d+):(sms|voice)$")


# --- context -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the domain needs from outside: where links point, and the policy."""

    base_url: str
    policy: Policy

    def group_policy(self, session: Session, esc: Escalation) -> GroupPolicy:
        """The case's group's effective policy (its console override, else the file's): the one reading."""
        return effective.group_policy(session, self.policy, esc.group_id)

    def level_policy(self, session: Session, esc: Escalation) -> LevelPolicy:
        return self.group_policy(session, esc).for_level(esc.level)


def context(base_url: str, policy: Policy | None = None) -> Context:
    """The context for links under `base_url` (checkin.bootstrap builds the process's one)."""
    return Context(base_url.rstrip("/"), policy or policy_module.load())


def _required(ctx: Context | None) -> Context:
    if ctx is None:
        raise TypeError("no escalation context: the composition root (checkin.bootstrap) builds it; pass it")
    return ctx


def _set_timer(session: Session, esc: Escalation, when: datetime | None) -> None:
    esc.next_action_at = when
    if when is not None:
        unit_of_work.record_timer(session, esc.id, when)  # scheduled once this commits


def _event(session: Session, esc: Escalation, kind: str, now: datetime, **fields) -> EscalationEvent:
    event = EscalationEvent(
        escalation_id=esc.id, kind=kind, at=now, level=fields.pop("level", esc.level), **fields
    )
    session.add(event)
    return event


# --- assessing ---------------------------------------------------------------------------


def _history(session: Session, member_id: int, before_message: int, limit: int = 5) -> tuple[int, ...]:
    rows = session.scalars(
        select(AssessmentRecord.score)
        .where(
            AssessmentRecord.member_id == member_id,
            AssessmentRecord.score.is_not(None),
            AssessmentRecord.message_id != before_message,
        )
        .order_by(AssessmentRecord.id.desc())
        .limit(limit)
    ).all()
    return tuple(reversed(rows))  # oldest first, as the rules engine expects


def _answer_values(message: Message, score: int, source: str) -> dict:
    """What recording a text's answer on its prompt sets (as `record_answer` does for a text)."""
    from checkin.db import utcnow

    words = (message.body or "").strip()
    return answered_values(
        utcnow(),
        channel=source,
        score=score,
        words=words if words != str(score) else None,
        message_id=message.id,
    )


def _history_recording_answer(
    session: Session, member: Member, message: Message, score: int, source: str
) -> tuple[tuple[int, ...], bool]:
    """(the member's recent scores, whether the answer is recorded already).

    On PostgreSQL, when the member's open prompt is known (read with the message), the answer is
    recorded on it in the same statement that reads the history (an UPDATE as a data-modifying CTE):
    one round trip fewer on every reply to a check-in. Otherwise only the history is read here, and
    the caller records the answer (`record_answer`)."""
    from checkin.answers.asked import known_open_prompt, recorded_answer

    prompt = known_open_prompt(session, member.id)
    if prompt is None or session.get_bind().dialect.name != "postgresql":
        return _history(session, member.id, message.id), False
    recorded = recorded_answer(session, member.id, message.id, prompt.id, score)
    if recorded is not None and recorded[0]["channel"] == source:
        # A bare 3-5 (never an RSVP) answering the open prompt read with the message: the statement that
        # stored the message recorded the answer and read the history already (checkin.inbound).
        values, history = recorded
        for key, value in values.items():
            set_committed_value(prompt, key, value)  # as stored: nothing left for the ORM to flush
        return history, True
    values = _answer_values(message, score, source)
    row = session.execute(
        _history_answering_statement(),
        # No bind parameter is named as a checkins column: Core would take it as one more value to SET.
        {"h_member_id": member.id, "h_message_id": message.id, "prompt_id": prompt.id}
        | {f"a_{k}": v for k, v in values.items()},
    ).one()
    history = tuple(reversed(row.scores or ()))  # oldest first, as the rules engine expects
    if row.answered_id is None:
        # Read open with the message, but a concurrent text answered it first (this UPDATE waited for
        # its commit and found it answered): recorded nothing; the caller reads the text again.
        raise PromptTaken(prompt.id)
    for key, value in values.items():
        set_committed_value(prompt, key, value)  # as stored: nothing left for the ORM to flush
    return history, True


@cache  # built once: an immutable statement, compiled and cached by SQLAlchemy after that
def _history_answering_statement():
    from sqlalchemy import func
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    from checkin.checkins import OPEN_LITERAL, CheckIn

    checkins, assessments = CheckIn.__table__, AssessmentRecord.__table__
    answered = (
        update(checkins)
        # Still open on the row itself: a concurrent answer committed first leaves nothing to update.
        .where(checkins.c.id == bindparam("prompt_id"), checkins.c.state == OPEN_LITERAL)
        .values({name: bindparam(f"a_{name}", type_=checkins.c[name].type) for name in ANSWER_FIELDS})
        .returning(checkins.c.id)
        .cte("answered")
    )
    recent = (
        select(assessments.c.id, assessments.c.score)
        .where(
            assessments.c.member_id == bindparam("h_member_id"),
            assessments.c.score.is_not(None),
            assessments.c.message_id != bindparam("h_message_id"),
        )
        .order_by(assessments.c.id.desc())
        .limit(5)
        .subquery("recent")
    )
    scores = select(func.array_agg(aggregate_order_by(recent.c.score, recent.c.id.desc()))).scalar_subquery()
    return select(select(answered.c.id).scalar_subquery().label("answered_id"), scores.label("scores"))


class PromptTaken(Exception):
    """The open prompt a text was read as answering was answered by a concurrent text first."""


# Every column but the id: what an assessment written later (`write=False`) carries until then.
RECORD_FIELDS = tuple(prop.key for prop in AssessmentRecord.__mapper__.column_attrs if prop.key != "id")


def _record(session: Session, *, write: bool = True, **values) -> AssessmentRecord:
    """The assessment, written with one Core INSERT (every member message passes here) and returned as
    a persistent ORM object, so escalating can still link it to a case. `write=False`: not written
    yet (transient): the caller writes it with `store_record`, or in the statement that stores its
    reply (checkin.inbound), before the transaction commits."""
    from checkin.db import utcnow

    values.update(escalation_id=None, created_at=utcnow())
    if not write:
        record = AssessmentRecord.__mapper__.class_manager.new_instance()
        record.__dict__.update(values)  # as `adopt` does: no change events for what is not stored yet
        return record
    session.flush()  # the message it belongs to may still be pending in the ORM
    record_id = insert_returning_id(session, AssessmentRecord, values)
    return adopt(session, AssessmentRecord, dict(values, id=record_id))


def record_values(record: AssessmentRecord) -> dict:
    """What an assessment not yet written holds, as the row to INSERT."""
    return {name: getattr(record, name) for name in RECORD_FIELDS}


def store_record(session: Session, record: AssessmentRecord) -> AssessmentRecord:
    """Write an assessment made with `write=False` (one INSERT); it is persistent in `session` after."""
    if record.id is not None:
        return record
    session.flush()
    record.__dict__["id"] = insert_returning_id(session, AssessmentRecord, record_values(record))
    return adopt_instance(session, record)


@dataclass(frozen=True)
class Verdict:
    level: str
    rules: tuple[str, ...]
    record: AssessmentRecord


def assess_message(
    session: Session,
    member: Member,
    message: Message,
    *,
    source: str = "sms",
    language: str | None = None,
    write: bool = True,
) -> Verdict:
    """Assess an inbound message with the member's history, and record the verdict. Never raises:
    if the rules engine fails in any way the message is treated as urgent. `language` is the one the
    words are in when it is known to differ from the member's (a call switched to Spanish with 8).
    Every text is read in all configured languages whatever `language` says (the highest verdict
    wins): a member may cry for help in the other language, or in both at once.

    `write=False`: the verdict's record is not written yet (see `_record`); `handle_verdict` writes
    it before it links a case to it, and the caller writes it otherwise."""
    # The one reading of a reply's score (checkin.answers): "3/5", "tres", but not an RSVP "1".
    try:
        reading = answers.read(session, member, message)
        score = reading.score
    except SQLAlchemyError:
        raise
    except Exception as exc:
        log.error("reading the reply failed for message=%s (%s)", message.id, type(exc).__name__)
        reading, score = None, parse_score(message.body)
    if reading is not None and (
        reading.kind == "unasked" or (reading.kind == "rsvp" and (message.body or "").strip() in ("1", "2"))
    ):
        # A bare "1" that answers a reminder (an RSVP), or a bare digit nobody asked for, says nothing
        # about risk: no rules. Worded RSVPs ("can't make it") are still read by the rules.
        record = _record(
            session,
            write=write,
            message_id=message.id,
            member_id=member.id,
            level="none",
            rules=[],
            score=None,
            source=source,
        )
        return Verdict("none", (), record)
    try:
        from checkin.rules import ALL_LANGUAGES, AssessmentContext, assess

        # The history only matters to a message that carries a score (see the rules engine's step 4).
        history, answered = (), False
        if score is not None:
            try:
                history, answered = _history_recording_answer(session, member, message, score, source)
            except PromptTaken as taken:
                # As a moment later: the text is read again with the open prompt left (an older one),
                # or with none (a "nothing to answer right now", an RSVP, or an unprompted
                # check-in), and assessed as such.
                log.info("open prompt=%s answered concurrently; message=%s", taken.args[0], message.id)
                from checkin.answers.asked import open_prompt_again
                from checkin.db import utcnow

                open_prompt_again(session, member.id, utcnow())
                answers.forget_reading(session, message.id)
                return assess_message(session, member, message, source=source, language=language, write=write)
        context = AssessmentContext(score=score, recent_scores=history, source=source)
        # Every live text is read in every configured language and the highest verdict wins: a member
        # registered as English may write to us in Spanish (or mix both) when it matters most.
        result = assess(
            message.body or "",
            language=ALL_LANGUAGES,
            context=context,
            # On blind text it raised recall for +1 harmless alarm in 158; a whole-message opt-out is
            # the rules' alone (see keywords.is_opt_out).
            second_opinion=not keywords.is_opt_out(message.body),
        )
        level, rules = result.level, tuple(result.rules)
        if level not in RANK:
            raise ValueError(f"unknown level {level!r}")
    except Exception as exc:
        log.error(
            "risk assessment failed for message=%s (%s); escalating as urgent", message.id, type(exc).__name__
        )
        level, rules = "urgent", ("engine.error",)
    record = _record(
        session,
        write=write,
        message_id=message.id,
        member_id=member.id,
        level=level,
        rules=list(rules),
        score=score,
        source=source,
    )
    if score is not None and not answered:
        from checkin.answers.asked import open_prompt
        from checkin.checkins import record_answer
        from checkin.db import utcnow

        words = (message.body or "").strip()
        record_answer(
            session,
            member.id,
            channel=source,
            score=score,
            message_id=message.id,
            words=words if words != str(score) else None,
            # Read with the message (PostgreSQL) or by the reading of the reply: not asked for again.
            prompt=open_prompt(session, member.id, utcnow()),
        )
    if level != "none":
        # The message id and level only: rule ids next to a member's id would say what they wrote.
        log.info("assessed message=%s level=%s", message.id, level)
    return Verdict(level, rules, record)


# --- who is told -------------------------------------------------------------------------


def coordinators_of(session: Session, group_id: int | None) -> list[StaffUser]:
    """Coordinators with a phone linked to the group, or every one with a phone if none is: the coordinator step."""
    reachable = (StaffUser.active.is_(True), StaffUser.phone.is_not(None))
    linked = []
    if group_id is not None:
        linked = list(
            session.scalars(
                select(StaffUser)
                .join(GroupStaff, GroupStaff.staff_id == StaffUser.id)
                .where(GroupStaff.group_id == group_id, StaffUser.role == "coordinator", *reachable)
                .order_by(StaffUser.id)
            )
        )
    return linked or list(
        session.scalars(
            select(StaffUser).where(StaffUser.role == "coordinator", *reachable).order_by(StaffUser.id)
        )
    )


def reachable(session: Session, group_id: int | None) -> list[StaffUser]:
    """Whoever can be reached when the policy's steps reach nobody: the coordinators (linked to the
    group, or any with a phone), else the group's facilitators with a phone (on call or not), else any
    active facilitator with a phone. Empty only when no active staff member has a phone at all."""
    people = coordinators_of(session, group_id)
    if people:
        return people
    reachable_staff = (StaffUser.active.is_(True), StaffUser.phone.is_not(None))
    if group_id is not None:
        people = list(
            session.scalars(
                select(StaffUser)
                .join(GroupStaff, GroupStaff.staff_id == StaffUser.id)
                .where(GroupStaff.group_id == group_id, *reachable_staff)
                .order_by(GroupStaff.tier != "primary", StaffUser.id)
            )
        )
    return people or list(
        session.scalars(
            select(StaffUser).where(StaffUser.role == "facilitator", *reachable_staff).order_by(StaffUser.id)
        )
    )


def _policy_circles(
    session: Session, esc: Escalation, lp: LevelPolicy, now: datetime
) -> tuple[list[list[StaffUser]], bool]:
    """(circles, whether the policy itself reached nobody and `reachable` stands in for it)."""
    return step_circles(session, esc.group_id, lp, now, from_member=esc.member_id is not None)


def step_circles(
    session: Session, group_id: int | None, lp: LevelPolicy, now: datetime, *, from_member: bool = True
) -> tuple[list[list[StaffUser]], bool]:
    """Who a case of the group is paged to at `now`, step by step (each step includes the ones before),
    and whether the policy itself reached nobody so `reachable` stands in for it. The engine pages by
    this, and the console's policy preview (checkin.escalation.preview) says it in words."""
    # Primaries and backups are facilitators: a coordinator linked to the group is paged at the
    # policy's coordinator step, never in the first round.
    if not from_member:
        # A text from an unknown or staff number: the coordinators take it, at every step.
        on_rota = []
        tiers = ["coordinator" for _ in lp.levels]
    else:
        on_rota = [p for p in rota.on_call_places(session, group_id, now) if p.staff.role != "coordinator"]
        tiers = list(lp.levels)
    out, seen, acc = [], set(), []
    for tier in tiers:
        people = (
            coordinators_of(session, group_id)
            if tier == "coordinator"
            else [p.staff for p in on_rota if p.link.tier == tier]
        )
        for staff in people:
            if staff.id not in seen:
                seen.add(staff.id)
                acc.append(staff)
        out.append(list(acc))
    if acc:
        return out, False
    fallback = reachable(session, group_id)
    return [list(fallback) for _ in lp.levels], True


def circles(session: Session, esc: Escalation, lp: LevelPolicy, now: datetime) -> list[list[StaffUser]]:
    """For each policy step, everyone told at that step (each step includes the ones before): the
    facilitators the rota has on call at `now` by tier (primary, backup), then coordinators. An
    escalation never reaches nobody while someone has a phone: if the policy leaves no one, every
    step is whoever `reachable` finds."""
    return _policy_circles(session, esc, lp, now)[0]


def _note_empty_rota(session: Session, esc: Escalation, now: datetime, *, fell_back: bool, told: int) -> None:
    """Say in the case's audit (and loudly in the log) when the rota had nobody on call, and when
    the policy reached nobody at all so whoever could be reached was paged instead."""
    if fell_back:
        _event(
            session,
            esc,
            "unreachable",
            now,
            detail=f"the policy reaches nobody; paging {told} reachable staff instead"
            if told
            else "the policy reaches nobody and no staff member has a phone: NOBODY CAN BE PAGED",
        )
        log.error(
            "escalation %s: POLICY REACHES NOBODY for group=%s level=%s; paging %d reachable staff instead",
            esc.id,
            esc.group_id,
            esc.level,
            told,
        )
        return
    if esc.member_id is None or any(
        p.staff.role != "coordinator" for p in rota.on_call_places(session, esc.group_id, now)
    ):
        return
    group = session.get(Group, esc.group_id) if esc.group_id else None
    local = (
        now.astimezone(ZoneInfo(group.timezone)).strftime("%a %H:%M %Z")
        if group
        else now.strftime("%a %H:%M UTC")
    )
    _event(
        session,
        esc,
        "nobody_on_call",
        now,
        detail=f"nobody on call in the rota at {local}; alerting {told} coordinator(s) instead",
    )
    log.warning(
        "escalation %s: nobody on call for group=%s; coordinators=%d alerted", esc.id, esc.group_id, told
    )


def can_act(session: Session, staff: StaffUser, esc: Escalation) -> bool:
    """Coordinators may take any escalation; facilitators only those of their own groups."""
    if not staff.active:
        return False
    if staff.role == "coordinator":
        return True
    if esc.group_id is not None and session.get(GroupStaff, (esc.group_id, staff.id)) is not None:
        return True
    # Paged for it (the fallback reaches another group's facilitator) or holding it: that case only.
    return esc.acknowledged_by == staff.id or staff.id in notified_staff(session, esc)


def paged_or_holding(staff_id: int):
    """A condition on Escalation: the staff member holds the case or was paged for it (whatever their
    groups): the cases they may open and act on outside their own groups, one by one."""
    return or_(
        Escalation.acknowledged_by == staff_id,
        exists().where(
            EscalationEvent.escalation_id == Escalation.id,
            EscalationEvent.kind == "notified",
            EscalationEvent.staff_id == staff_id,
        ),
    )


# --- texts ---------------------------------------------------------------------------------

# Whoever calls the member back must know to speak their language (first name only otherwise).
SPEAKS = {"es": "speaks Spanish"}


def _names(session: Session, esc: Escalation) -> tuple[str, str]:
    member = session.get(Member, esc.member_id) if esc.member_id else None
    group = session.get(Group, esc.group_id) if esc.group_id else None
    name = member.first_name if member else "a member"
    if member is None:
        opener = session.scalar(
            select(Message)
            .join(EscalationEvent, EscalationEvent.message_id == Message.id)
            .where(EscalationEvent.escalation_id == esc.id, EscalationEvent.kind == "opened")
            .limit(1)
        )
        if opener is not None and opener.staff_id is not None:
            staff = session.get(StaffUser, opener.staff_id)
            name = f"staff member {staff.name if staff else opener.staff_id}, {opener.from_number}"
        elif opener is not None:
            name = f"unknown number {opener.from_number} (please call back)"
    if member is not None and member.language in SPEAKS:
        name = f"{name} ({SPEAKS[member.language]})"
    return name, (group.name if group else "no group")


def link(ctx: Context, esc: Escalation) -> str:
    return f"{ctx.base_url}/console/escalations/{esc.id}"


def alert_text(session: Session, esc: Escalation, ctx: Context) -> str:
    name, group = _names(session, esc)
    return f"Checkin ALERT {esc.id} ({esc.level}): {name}, {group}. Reply ACK {esc.id} to take it. {link(ctx, esc)}"


def voice_text(session: Session, esc: Escalation) -> str:
    name, group = _names(session, esc)
    if esc.state == EscalationState.ACKNOWLEDGED:
        # Only the holder is called on a taken case: they need to hear it is new, not to take it again.
        return (
            f"Checkin alert {esc.id}, {esc.level}: a new message from {name}, {group}, on the case you took. "
            f"Please reach them now. Details are in the console. Reply by text RESOLVE {esc.id} when done."
        )
    return f"Checkin alert {esc.id}, {esc.level}, {name}, {group}. Press 1 to acknowledge."


def _final_text(session, esc, ctx) -> str:
    name, group = _names(session, esc)
    return (
        f"Checkin ALERT {esc.id} ({esc.level}) UNACKNOWLEDGED: nobody has taken it. {name}, {group}. "
        f"Reply ACK {esc.id} to take it. {link(ctx, esc)}"
    )


def _reminder_text(session, esc, ctx, raised: bool) -> str:
    name, group = _names(session, esc)
    what = f"is now {esc.level}" if raised else "is still open"
    return f"Checkin ALERT {esc.id} ({esc.level}): {name}, {group} {what}. Reply RESOLVE {esc.id} <note> when done. {link(ctx, esc)}"


def _new_message_text(session, esc, ctx, level: str, *, raised: bool, taken: bool) -> str:
    """A new urgent or crisis message on a live case: ids, first name, level and the link, never its words."""
    name, group = _names(session, esc)
    what = f"now {esc.level}, new {level} message" if raised else f"new {level} message"
    ask = f"Reply RESOLVE {esc.id} <note> when done." if taken else f"Reply ACK {esc.id} to take it."
    return f"Checkin ALERT {esc.id} ({esc.level}): {what} from {name}, {group}. {ask} {link(ctx, esc)}"


# --- alerts ----------------------------------------------------------------------------------


def _alert(
    session: Session,
    esc: Escalation,
    staff: StaffUser,
    channel: str,
    ctx: Context,
    now: datetime,
    *,
    step: int | None = None,
    attempt: int | None = None,
    text: str | None = None,
    why: str = "",
) -> OutboxItem | None:
    step = esc.step if step is None else step
    attempt = esc.attempt if attempt is None else attempt
    key = f"alert:{esc.id}:{step}:{attempt}:{staff.id}:{channel}"
    group = session.get(Group, esc.group_id) if esc.group_id else None
    item, created = outbox.add(
        session,
        key,
        to=staff.phone,
        channel=channel,
        purpose=ALERT_PURPOSE,
        queue=outbox.ALERT_QUEUE,
        body=(text or alert_text(session, esc, ctx)) if channel == "sms" else None,
        twiml_url=f"{ctx.base_url}/twilio/voice/alert/{esc.id}" if channel == "voice" else None,
        staff_id=staff.id,
        member_id=None,
        from_number=group.phone_number if group else None,
    )
    if created:
        key = ("escalation.alerts", esc.id)
        unit_of_work.note(session, key, unit_of_work.noted(session, key, 0) + 1)
        # In the console's words: which tier of the policy was paged, and the how-many-th time.
        tiers = ctx.level_policy(session, esc).levels
        tier = tiers[step] if 0 <= step < len(tiers) else f"step {step + 1}"
        _event(
            session,
            esc,
            "notified",
            now,
            staff_id=staff.id,
            channel=channel,
            outbox_id=item.id,
            detail=f"{tier} tier, round {attempt}{' (' + why + ')' if why else ''}",
        )
    return item if created else None


def _wave(
    session: Session, esc: Escalation, ctx: Context, now: datetime, recipients: list[StaffUser]
) -> None:
    lp = ctx.level_policy(session, esc)
    esc.attempt += 1
    esc.step_attempts += 1
    for staff in recipients:
        for channel in lp.channels:
            _alert(session, esc, staff, channel, ctx, now)
    _set_timer(session, esc, now + timedelta(minutes=lp.timeout_minutes))


def _page(session: Session, esc: Escalation, ctx: Context, now: datetime, start: int, *, widen: bool) -> None:
    """Notify the circle at the first step from `start` that has someone (that adds someone, when
    widening). With nobody left to ask, give up loudly."""
    lp = ctx.level_policy(session, esc)
    steps, fell_back = _policy_circles(session, esc, lp, now)
    for s in range(start, len(steps)):
        ids = {x.id for x in steps[s]}
        before = {x.id for x in steps[s - 1]} if s > 0 else set()
        if ids and (not widen or ids - before):
            if not widen:
                _note_empty_rota(session, esc, now, fell_back=fell_back, told=len(steps[s]))
            esc.step, esc.step_attempts = s, 0
            _wave(session, esc, ctx, now, steps[s])
            return
    if not widen and not any(steps):
        _note_empty_rota(session, esc, now, fell_back=True, told=0)
    _give_up(session, esc, ctx, now)


def _give_up(session: Session, esc: Escalation, ctx: Context, now: datetime) -> None:
    """The policy's last step timed out and nobody took it: a final alert to everyone the policy
    reaches (or whoever can be reached), the case shows as unacknowledged on every console page, and
    the policy starts again from its first step after one more timeout, until someone takes it."""
    lp = ctx.level_policy(session, esc)
    esc.state = "unacknowledged"
    esc.step = len(lp.levels)
    esc.attempt += 1
    steps = circles(session, esc, lp, now)
    everyone = steps[-1] if steps else []
    for staff in everyone:
        _alert(session, esc, staff, "sms", ctx, now, text=_final_text(session, esc, ctx), why="final")
    _set_timer(session, esc, now + timedelta(minutes=lp.timeout_minutes))
    _event(
        session,
        esc,
        "unacknowledged",
        now,
        detail=f"nobody acknowledged; final alert to {len(everyone)} staff; "
        f"the policy repeats in {lp.timeout_minutes:g} min until someone takes it",
    )
    log.error(
        "escalation %s UNACKNOWLEDGED: nobody took it after the last policy level (level=%s group=%s "
        "told=%d attempt=%d); repeating the policy",
        esc.id,
        esc.level,
        esc.group_id,
        len(everyone),
        esc.attempt,
    )


def _repeat(session: Session, esc: Escalation, ctx: Context, now: datetime) -> None:
    """Go round the policy again from its first step (PagerDuty's "repeat this policy")."""
    _event(
        session,
        esc,
        "repeated",
        now,
        detail=f"nobody has taken it: paging again from the first step (wave {esc.attempt + 1})",
    )
    log.error("escalation %s still UNACKNOWLEDGED: repeating the policy from its first step", esc.id)
    _page(session, esc, ctx, now, 0, widen=False)


def _realert(session: Session, esc: Escalation, ctx: Context, now: datetime, *, raised: bool = False) -> None:
    gp = ctx.group_policy(session, esc)
    esc.attempt += 1
    staff = session.get(StaffUser, esc.acknowledged_by) if esc.acknowledged_by else None
    if staff is not None and staff.phone and staff.active:
        _alert(
            session,
            esc,
            staff,
            "sms",
            ctx,
            now,
            text=_reminder_text(session, esc, ctx, raised),
            why="re-alert",
        )
        _event(
            session,
            esc,
            "realerted",
            now,
            staff_id=staff.id,
            detail="raised" if raised else "acknowledged, not resolved",
        )
        _set_timer(session, esc, now + timedelta(minutes=gp.realert_after_ack_minutes))
    else:
        _holder_unreachable(session, esc, ctx, now, "acknowledger unreachable; paging again")


def _reachable_holder(session: Session, esc: Escalation) -> StaffUser | None:
    staff = session.get(StaffUser, esc.acknowledged_by) if esc.acknowledged_by else None
    return staff if staff is not None and staff.phone and staff.active else None


def _holder_unreachable(session: Session, esc: Escalation, ctx: Context, now: datetime, why: str) -> None:
    """Whoever took the case can no longer be reached: it is nobody's again, and the circle is paged
    from the policy's first step until someone takes it."""
    holder = esc.acknowledged_by
    esc.state = "open"
    esc.acknowledged_by, esc.acknowledged_at = None, None
    _event(session, esc, "reassigned", now, detail=f"{why} (was staff {holder})")
    log.error(
        "escalation %s: the staff member who took it (staff=%s) cannot be reached; paging again",
        esc.id,
        holder,
    )
    _page(session, esc, ctx, now, 0, widen=False)


def _tell_holder(
    session: Session, esc: Escalation, ctx: Context, now: datetime, level: str, *, raised: bool
) -> None:
    """A new urgent or crisis message on a taken case: whoever holds it is told as the first page told
    them (the level's channels: a crisis is a text and a call, urgent a text); if they cannot be
    reached, the case goes back to paging the circle."""
    staff = _reachable_holder(session, esc)
    if staff is None:
        _holder_unreachable(
            session, esc, ctx, now, f"new {level} message; whoever took it has no phone now; paging again"
        )
        return
    esc.attempt += 1
    text = _new_message_text(session, esc, ctx, level, raised=raised, taken=True)
    for channel in ctx.group_policy(session, esc).for_level(level).channels:
        _alert(session, esc, staff, channel, ctx, now, text=text, why=f"new {level} message")
    _event(
        session,
        esc,
        "realerted",
        now,
        staff_id=staff.id,
        detail=f"new {level} message" + (f", raised to {esc.level}" if raised else ""),
    )


def _tell_circle(session: Session, esc: Escalation, ctx: Context, now: datetime, level: str) -> None:
    """A new urgent or crisis message on a case nobody has taken yet, at the same level: everyone its
    current step pages gets a text now (the policy's own waves, calls included, go on as timed)."""
    lp = ctx.level_policy(session, esc)
    steps = circles(session, esc, lp, now)
    here = steps[min(esc.step, len(steps) - 1)] if steps else []
    if not here:
        _note_empty_rota(session, esc, now, fell_back=True, told=0)
        return
    esc.attempt += 1
    text = _new_message_text(session, esc, ctx, level, raised=False, taken=False)
    for staff in here:
        _alert(session, esc, staff, "sms", ctx, now, text=text, why=f"new {level} message")


# --- opening and attaching --------------------------------------------------------------------


@cache
def _live_for_statement(lock: bool):
    table = Escalation.__table__
    statement = select(table).where(
        table.c.member_id == bindparam("member_id"), table.c.state.in_(LIVE_STATES)
    )
    return statement.with_for_update() if lock else statement


def live_for(session: Session, member_id: int, *, lock: bool = False) -> Escalation | None:
    """The member's live escalation, read with one prebuilt Core statement (every watch, urgent and
    crisis message asks) and adopted into the session.

    `lock`: the case is about to be changed (a message attached: its round, level, alerts): its row is
    locked (FOR UPDATE, PostgreSQL), so texts racing onto one case take turns and each reads the round
    the one before it committed; two read together would both write the same round, and the second's
    alerts would be the first's (same keys): nobody told, for it."""
    session.flush()  # an escalation opened a moment ago in this session counts, as with autoflush
    row = session.connection().execute(_live_for_statement(lock), {"member_id": member_id}).first()
    if row is None:
        return None
    # Locked, the row may be newer than an instance already in the session (its round): refresh it.
    return from_row(session, Escalation, dict(row._mapping), refresh=lock)


def handle_verdict(
    session: Session,
    member: Member,
    message: Message,
    verdict: Verdict,
    now: datetime,
    ctx: Context | None = None,
) -> Escalation | None:
    """Open an escalation for urgent/crisis, or attach to (and raise) the member's live one. Returns
    the member's live escalation, or None for a "none" verdict (which never touches one)."""
    if verdict.level == "none":
        return None  # the everyday reply: no lookup
    ctx = _required(ctx)
    store_record(session, verdict.record)  # a case links to it
    live = live_for(session, member.id, lock=verdict.level in PAGED)
    if verdict.level not in PAGED:
        if live is not None:  # watch
            verdict.record.escalation_id = live.id
            _event(
                session,
                live,
                "assessed",
                now,
                level="watch",
                message_id=message.id,
            )
        return live
    if live is None:
        # The group whose number was written to (a member of two groups who texts B's number is B's
        # case, paged by B's rota and read by B's facilitators, as a call is), else the first.
        to = message.to_number
        group = next((g for g in member.groups if to and g.phone_number == to), None) or (
            member.groups[0] if member.groups else None
        )
        esc = _open(session, member.id, group.id if group else None, message, verdict, now, ctx)
        if esc is not None:
            return esc
        # Another message from this member opened one a moment ago: attach to it.
        live = live_for(session, member.id, lock=True)
    return _attach(session, live, message, verdict, now, ctx)


def _open(
    session: Session,
    member_id: int | None,
    group_id: int | None,
    message: Message,
    verdict: Verdict,
    now: datetime,
    ctx: Context,
) -> Escalation | None:
    """Open a case and page its first circle; None when the member's one live case was opened by
    another message a moment ago. The case is open since its message arrived: a text spooled while
    storage failed and stored later keeps its received time, and is paged now."""
    received = getattr(message, "created_at", None)
    esc = Escalation(
        member_id=member_id,
        group_id=group_id,
        level=verdict.level,
        state="open",
        step=0,
        attempt=0,
        step_attempts=0,
        opened_at=min(now, received) if received is not None else now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(esc)
            session.flush()
    except IntegrityError:
        return None
    verdict.record.escalation_id = esc.id
    _event(session, esc, "assessed", now, message_id=message.id)
    _event(session, esc, "opened", now, message_id=message.id)
    log.warning(
        "escalation %s opened level=%s member=%s staff=%s message=%s",
        esc.id,
        esc.level,
        member_id,
        message.staff_id,
        message.id,
    )
    _page(session, esc, ctx, now, 0, widen=False)
    unit_of_work.note(session, ("escalation.told", esc.id), _alerts_written(session, esc) > 0)
    return esc


# pg_advisory_xact_lock(int4, int4) namespace for one number's cases ("ESCA" in ASCII): the two-key
# form, a key space apart from the one-bigint locks (the voice gate, the audit chain).
SENDER_LOCK = 0x45_53_43_41


def _serialise_sender(session: Session, number: str | None) -> None:
    """Take turns with any other text from this number looking for its live case, until commit.

    A member's case is one by a unique index; a number's case (no member) has none to lean on: two
    first texts from one unknown number at the same instant each found no live case and each opened
    one. On PostgreSQL a transaction-scoped advisory lock keyed on the number's hash makes the second
    wait for the first's commit, then find its case and join it. SQLite serialises writers already."""
    digest = hashlib.sha256((number or "").encode()).digest()
    key = int.from_bytes(digest[:4], "big", signed=True)  # int4: a collision only makes two numbers wait
    lock_until_commit(session, SENDER_LOCK, key)


def escalate_sender(
    session: Session,
    message: Message,
    level: str,
    rules: tuple[str, ...],
    now: datetime,
    ctx: Context | None = None,
) -> Escalation:
    """A crisis or urgent text from a number that is not a member's (an unknown number, or a staff
    member writing something other than a command): a case like any other, in the console, paging the
    coordinators (or whoever can be reached) until someone takes it. One live case per number: a
    second message attaches to it. The group is the one whose number was texted, if any."""
    ctx = _required(ctx)
    record = _record(
        session,
        message_id=message.id,
        member_id=None,
        level=level,
        rules=list(rules),
        score=None,
        source="sms",
    )
    verdict = Verdict(level, tuple(rules), record)
    _serialise_sender(session, message.from_number)
    live_id = session.scalar(
        select(Escalation.id)
        .join(EscalationEvent, EscalationEvent.escalation_id == Escalation.id)
        .join(Message, Message.id == EscalationEvent.message_id)
        .where(
            Escalation.member_id.is_(None),
            Escalation.state.in_(LIVE_STATES),
            EscalationEvent.kind == "opened",
            Message.from_number == message.from_number,
        )
        .order_by(Escalation.id.desc())
        .limit(1)
    )
    if live_id is not None:
        # Locked, as a member's case is (`live_for`): texts racing onto it take turns. Unlike
        # `live_for`'s, this lock is by id alone: a case resolved while this text waited on its row is
        # no live case any more (attached to, its alert would page for a case nobody sees or repeats).
        esc = session.get(Escalation, live_id, with_for_update=True, populate_existing=True)
        if esc.state in LIVE_STATES:
            return _attach(session, esc, message, verdict, now, ctx)
    group_id = session.scalar(select(Group.id).where(Group.phone_number == message.to_number))
    return _open(session, None, group_id, message, verdict, now, ctx)


def anyone_told(session: Session, esc: Escalation | None) -> bool:
    """Whether someone is being told about the case: what a member is told ("a facilitator is being
    told") must be true. When this unit of work opened the case or added a message to it, that is
    whether it paged anyone now (a case paged before, with nobody reachable now, does not count).
    Otherwise (a later step of a call, say): whether the case has paged anyone at all."""
    if esc is None:
        return False
    told = unit_of_work.noted(session, ("escalation.told", esc.id))
    if told is not None:
        return told
    session.flush()
    return (
        session.scalar(
            select(OutboxItem.id)
            .where(OutboxItem.idempotency_key.like(f"alert:{esc.id}:%"), OutboxItem.purpose == ALERT_PURPOSE)
            .limit(1)
        )
        is not None
    )


def _attach(
    session, esc: Escalation, message: Message, verdict: Verdict, now: datetime, ctx: Context
) -> Escalation:
    """Another urgent or crisis message on the live case: whoever holds it, or the circle paging it, is
    told now, every time (a raise pages the new level's policy); never dropped. Notes in the unit of
    work whether anyone was told, for the reply (`anyone_told`)."""
    verdict.record.escalation_id = esc.id
    _event(
        session,
        esc,
        "assessed",
        now,
        level=verdict.level,
        message_id=message.id,
    )
    before = _alerts_written(session, esc)
    raised = RANK[verdict.level] > RANK[esc.level]
    if raised:
        old, esc.level = esc.level, verdict.level
        _event(session, esc, "raised", now, message_id=message.id, detail=f"{old} -> {esc.level}")
        log.warning("escalation %s raised %s -> %s message=%s", esc.id, old, esc.level, message.id)
    if esc.state == "acknowledged":
        _tell_holder(session, esc, ctx, now, verdict.level, raised=raised)
    elif esc.state == "unacknowledged":
        # Nobody took it and the member wrote again: go round the circle once more (it stays
        # unacknowledged, and on every console page, until someone takes it).
        if not raised:
            _event(
                session,
                esc,
                "opened",
                now,
                message_id=message.id,
                detail="reopened: new message while unacknowledged",
            )
        _page(session, esc, ctx, now, 0, widen=False)
    elif raised:
        _page(
            session, esc, ctx, now, min(esc.step, len(ctx.level_policy(session, esc).levels) - 1), widen=False
        )
    else:
        _tell_circle(session, esc, ctx, now, verdict.level)
    told = _alerts_written(session, esc) > before
    unit_of_work.note(session, ("escalation.told", esc.id), told)
    if not told:
        log.error(
            "escalation %s: new %s message=%s and NOBODY CAN BE PAGED", esc.id, verdict.level, message.id
        )
    return esc


def _alerts_written(session: Session, esc: Escalation) -> int:
    """How many alerts for the case this unit of work has written so far."""
    return unit_of_work.noted(session, ("escalation.alerts", esc.id), 0)


# --- acknowledging and resolving ----------------------------------------------------------


def _cancel_pending_alerts(session: Session, esc: Escalation) -> int:
    return session.execute(
        update(OutboxItem)
        .where(OutboxItem.idempotency_key.like(f"alert:{esc.id}:%"), OutboxItem.state == "pending")
        .values(state="cancelled", last_error="escalation taken")
        .execution_options(synchronize_session=False)
    ).rowcount


def notified_staff(session: Session, esc: Escalation) -> list[int]:
    return list(
        session.scalars(
            select(OutboxItem.staff_id)
            .distinct()
            .where(OutboxItem.idempotency_key.like(f"alert:{esc.id}:%"), OutboxItem.staff_id.is_not(None))
        )
    )


@dataclass(frozen=True)
class Result:
    ok: bool
    reply: str


def _audit(session: Session, action: str, staff: StaffUser, esc: Escalation, via: str, now: datetime) -> None:
    """Taking and closing a case are in the audit log as every other staff action is: who, which case,
    when, and how (console or SMS); never the note, which may quote the member."""
    from checkin.accounts import audit  # here: the accounts package reaches the inbound path, and us

    how = {"sms": "by text", "console": "in the console", "voice": "by phone"}.get(via, f"via {via}")
    audit(session, action, staff.id, member_id=esc.member_id, escalation_id=esc.id, detail=how, now=now)


def acknowledge(
    session: Session,
    esc: Escalation,
    staff: StaffUser,
    now: datetime,
    *,
    via: str = "sms",
    ctx: Context | None = None,
) -> Result:
    ctx = _required(ctx)
    if not can_act(session, staff, esc):
        return Result(False, f"Escalation {esc.id} is not in one of your groups.")
    if esc.state == "resolved":
        return Result(False, f"Escalation {esc.id} is already resolved.")
    if esc.state == "acknowledged":
        if esc.acknowledged_by == staff.id:
            return Result(
                True, f"You already have escalation {esc.id}. Reply RESOLVE {esc.id} <note> when done."
            )
        taker = session.get(StaffUser, esc.acknowledged_by) if esc.acknowledged_by else None
        return Result(
            False, f"Escalation {esc.id} was already taken by {taker.name if taker else 'someone'}."
        )
    esc.state = "acknowledged"
    esc.acknowledged_by, esc.acknowledged_at = staff.id, now
    _set_timer(
        session, esc, now + timedelta(minutes=ctx.group_policy(session, esc).realert_after_ack_minutes)
    )
    cancelled = _cancel_pending_alerts(session, esc)
    _event(
        session,
        esc,
        "acknowledged",
        now,
        staff_id=staff.id,
        channel=via,
        detail=f"cancelled {cancelled} pending alert(s)",
    )
    log.info("escalation %s acknowledged by staff=%s via=%s", esc.id, staff.id, via)
    _audit(session, "case_taken", staff, esc, via, now)
    for other_id in notified_staff(session, esc):
        other = session.get(StaffUser, other_id)
        if other is None or other.id == staff.id or not other.phone:
            continue
        outbox.add(
            session,
            f"ack:{esc.id}:{staff.id}:{other.id}",
            to=other.phone,
            purpose=INFO_PURPOSE,
            queue=outbox.ALERT_QUEUE,
            staff_id=other.id,
            body=f"Checkin: ALERT {esc.id} was taken by {staff.name}. No action needed from you.",
        )
    name, group = _names(session, esc)
    return Result(
        True,
        f"You have escalation {esc.id} ({esc.level}): {name}, {group}. Reply RESOLVE {esc.id} <note> when done. {link(ctx, esc)}",
    )


def resolve(
    session: Session,
    esc: Escalation,
    staff: StaffUser,
    now: datetime,
    note: str | None = None,
    *,
    via: str = "sms",
) -> Result:
    if not can_act(session, staff, esc):
        return Result(False, f"Escalation {esc.id} is not in one of your groups.")
    if esc.state == "resolved":
        return Result(False, f"Escalation {esc.id} is already resolved.")
    if esc.acknowledged_by is None:
        esc.acknowledged_by, esc.acknowledged_at = staff.id, now
    esc.state = "resolved"
    esc.resolved_by, esc.resolved_at = staff.id, now
    _set_timer(session, esc, None)
    _cancel_pending_alerts(session, esc)
    _event(session, esc, "resolved", now, staff_id=staff.id, channel=via, note=(note or "").strip() or None)
    log.info("escalation %s resolved by staff=%s", esc.id, staff.id)
    _audit(session, "case_resolved", staff, esc, via, now)
    return Result(True, f"Escalation {esc.id} resolved. Thank you.")


# --- timers ------------------------------------------------------------------------------------


def advance(session: Session, now: datetime, ctx: Context | None = None, limit: int = 500) -> int:
    """Act on every escalation whose next action is due: repeat, widen, give up, or re-alert the
    acknowledger. Idempotent: a second run finds nothing due, and equal keys dedupe in the outbox."""
    ctx = _required(ctx)
    due = session.scalars(
        select(Escalation)
        .where(
            Escalation.state.in_(("open", "acknowledged", "unacknowledged")),
            Escalation.next_action_at.is_not(None),
            Escalation.next_action_at <= now,
        )
        .order_by(Escalation.next_action_at, Escalation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for esc in due:
        # One case's failure must not stall the others due in this tick (each has its own savepoint).
        try:
            with session.begin_nested():
                _advance_one(session, esc, ctx, now)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("advancing escalation=%s failed; paging its people directly", esc.id)
            _advance_failed(session, esc, now)
    return len(due)


def _advance_one(session: Session, esc: Escalation, ctx: Context, now: datetime) -> None:
    if esc.state == "acknowledged":
        _realert(session, esc, ctx, now)
        return
    lp = ctx.level_policy(session, esc)
    if esc.state == "unacknowledged" and esc.step >= len(lp.levels):
        _repeat(session, esc, ctx, now)
        return
    steps = circles(session, esc, lp, now)
    here = steps[esc.step] if esc.step < len(steps) else []
    if esc.step_attempts <= lp.repeats and here:
        _wave(session, esc, ctx, now, here)
    else:
        _page(session, esc, ctx, now, esc.step + 1, widen=True)


RETRY_FAILED_AFTER = timedelta(minutes=5)


def _advance_failed(session: Session, esc: Escalation, now: datetime) -> None:
    """A bug while advancing a case: its member's facilitators and the coordinators are texted
    directly (once per case), and the case is tried again in a few minutes, never dropped."""
    with session.begin_nested():
        member = session.get(Member, esc.member_id) if esc.member_id else None
        failsafe.alert(
            session,
            failsafe.recipients(session, member),
            f"alert:failsafe:escalation:{esc.id}",
            f"Checkin ALERT {esc.id} ({esc.level}): this case could not be followed up automatically. "
            f"Please open it in the console and take it. Reply ACK {esc.id} to take it.",
        )
        esc.next_action_at = now + RETRY_FAILED_AFTER


# --- the outbox hook: delivery outcomes of alerts ----------------------------------------------


def parse_alert_key(key: str) -> tuple[int, int, int, int, str] | None:
    match = _KEY.match(key or "")
    if not match:
        return None
    esc_id, step, attempt, staff_id, channel = match.groups()
    return int(esc_id), int(step), int(attempt), int(staff_id), channel


def on_alert_outcome(session: Session, item: OutboxItem, event: str, *, ctx: Context) -> None:
    """Record sent/delivered/failed; when an alert fails, call the same facilitator and tell the next one."""
    parsed = parse_alert_key(item.idempotency_key)
    if parsed is None:
        return
    esc_id, step, attempt, staff_id, channel = parsed
    esc = session.get(Escalation, esc_id)
    if esc is None:
        return
    from checkin.db import utcnow

    now = utcnow()
    kind = {"sent": "sent", "delivered": "delivered"}.get(event, "failed")
    if (
        kind == "failed"
        and session.scalar(
            select(EscalationEvent.id)
            .where(EscalationEvent.outbox_id == item.id, EscalationEvent.kind == "failed")
            .limit(1)
        )
        is not None
    ):
        return  # this failure was handled already (reported by the worker and again by a callback)
    _event(
        session,
        esc,
        kind,
        now,
        staff_id=staff_id,
        channel=channel,
        outbox_id=item.id,
        detail=(item.last_error or None) if kind == "failed" else None,
    )
    if (
        kind == "failed"
        and esc.state == "acknowledged"
        and staff_id == esc.acknowledged_by
        # An alert written since they took it (one that failed before says nothing about them now).
        and esc.acknowledged_at is not None
        and item.created_at >= esc.acknowledged_at
    ):
        _holder_alert_failed(session, esc, item, ctx, now, step=step, attempt=attempt, staff_id=staff_id)
        return
    if kind != "failed" or esc.state not in ("open", "unacknowledged"):
        return
    staff = session.get(StaffUser, staff_id)
    if channel == "sms" and staff is not None and staff.phone and staff.active:
        _alert(session, esc, staff, "voice", ctx, now, step=step, attempt=attempt, why="fallback: sms failed")
    lp = ctx.level_policy(session, esc)
    everyone = circles(session, esc, lp, now)
    candidates = everyone[-1] if everyone else []
    ids = [c.id for c in candidates]
    start = ids.index(staff_id) + 1 if staff_id in ids else 0
    for candidate in candidates[start:] + candidates[:start]:
        if candidate.id == staff_id:
            continue
        already = session.scalar(
            select(OutboxItem.id)
            .where(OutboxItem.idempotency_key.like(f"alert:{esc.id}:{step}:{attempt}:{candidate.id}:%"))
            .limit(1)
        )
        if already is None:
            for ch in lp.channels:
                _alert(
                    session,
                    esc,
                    candidate,
                    ch,
                    ctx,
                    now,
                    step=step,
                    attempt=attempt,
                    why=f"fallback: {channel} to staff {staff_id} failed",
                )
            log.warning(
                "escalation %s alert outbox=%s failed; next facilitator staff=%s",
                esc.id,
                item.id,
                candidate.id,
            )
            break
    else:
        log.error("escalation %s alert outbox=%s failed and nobody else is left to tell", esc.id, item.id)


def _holder_alert_failed(
    session: Session,
    esc: Escalation,
    item: OutboxItem,
    ctx: Context,
    now: datetime,
    *,
    step: int,
    attempt: int,
    staff_id: int,
) -> None:
    """An alert to whoever holds the case failed: a failed text is followed by a call; once both the
    text and the call of that alert failed (or the holder has no phone now), the case goes back to
    paging the circle."""
    other = "voice" if item.channel == "sms" else "sms"
    twin = session.scalar(
        select(OutboxItem).where(
            OutboxItem.idempotency_key == f"alert:{esc.id}:{step}:{attempt}:{staff_id}:{other}"
        )
    )
    holder = _reachable_holder(session, esc)
    if twin is None and other == "voice" and holder is not None:
        _alert(
            session, esc, holder, "voice", ctx, now, step=step, attempt=attempt, why="fallback: sms failed"
        )
        log.warning("escalation %s alert outbox=%s to its holder failed; calling them", esc.id, item.id)
        return
    twin_failed = twin is not None and (
        twin.state == "failed"
        or session.scalar(
            select(EscalationEvent.id)
            .where(EscalationEvent.outbox_id == twin.id, EscalationEvent.kind == "failed")
            .limit(1)
        )
        is not None
    )
    if holder is None or twin is None or twin_failed:
        _holder_unreachable(
            session, esc, ctx, now, f"alerts to whoever took it failed ({item.channel}); paging again"
        )
