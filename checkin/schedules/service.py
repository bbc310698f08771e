"""Reading and writing schedules, overrides and plans; loading the planner's state from the database.

Every edit cancels the outbox rows it makes wrong that are not yet sent (a reminder for a meeting
that moved, a notice superseded by a newer change), in the same transaction as the edit.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select, true, update
from sqlalchemy.orm import Session

from checkin.db import utcnow
from checkin.directory import ValidationError, check_timezone
from checkin.models import Group, GroupMember, Member, Message, OutboxItem
from checkin.phones import InvalidPhone, normalize_phone
from checkin.schedules.models import OccurrenceOverride, ReminderPlan, Schedule
from checkin.schedules.plan import (
    Plan,
    PlanConfig,
    PlanError,
    check_template_name,
    load_config,
    parse_group_templates,
    parse_plan,
    stored_problems,
    usable_templates,
)
from checkin.schedules.planning import (
    GroupState,
    MemberState,
    OpenPrompt,
    PlannedSend,
    due_sends,
    frozen,
    plan_sends,
)
from checkin.schedules.recurrence import (
    Occurrence,
    OverrideSpec,
    ScheduleSpec,
    expand,
    is_rule_occurrence,
    occurrence_key,
    parse_key,
    validate_rrule,
)

PLANNED_KINDS = ("reminder", "prompt", "nudge", "change")
# A group's own texts live in its ReminderPlan row beside the timing keys, under this key.
TEMPLATES_KEY = "templates"
log = logging.getLogger("checkin.schedules")


def _group(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise ValidationError(f"no group with id {group_id}")
    return group


def _spec(schedule: Schedule, group: Group) -> ScheduleSpec:
    return ScheduleSpec(
        group.id,
        group.timezone,
        schedule.rrule,
        schedule.starts_on,
        schedule.start_local,
        schedule.duration_minutes,
        schedule.location,
        schedule.dial_in,
    )


def _override_spec(row: OccurrenceOverride) -> OverrideSpec:
    return OverrideSpec(row.occurrence_key, row.status, row.new_start_local, row.version, row.updated_at)


def _overrides(session: Session, group_id: int) -> dict[str, OverrideSpec]:
    rows = session.scalars(select(OccurrenceOverride).where(OccurrenceOverride.group_id == group_id))
    return {row.occurrence_key: _override_spec(row) for row in rows}


def get_schedule(session: Session, group_id: int) -> Schedule | None:
    return session.scalar(select(Schedule).where(Schedule.group_id == group_id))


# --- reading occurrences ------------------------------------------------------------------


def occurrences(session: Session, group_id: int, start: datetime, end: datetime) -> list[Occurrence]:
    """The group's meetings starting in [start, end), cancelled and moved ones marked, oldest first."""
    group = _group(session, group_id)
    schedule = get_schedule(session, group_id)
    if schedule is None:
        return []
    return expand(_spec(schedule, group), _overrides(session, group_id), start, end)


def next_meeting(session: Session, group_id: int, now: datetime) -> Occurrence | None:
    """The next meeting that is not cancelled and has not started, looking up to a year ahead."""
    # The group, its schedule and overrides read once for both spans (a member's WHEN read them twice
    # when nothing was in the first, and a group without a schedule twice for nothing).
    group = _group(session, group_id)
    schedule = get_schedule(session, group_id)
    if schedule is None:
        return None
    spec, overrides = _spec(schedule, group), _overrides(session, group_id)
    for span in (timedelta(days=45), timedelta(days=366)):
        for occ in expand(spec, overrides, now, now + span):
            if occ.status != "cancelled":
                return occ
    return None


def find_occurrence(session: Session, group_id: int, local_day: date) -> Occurrence:
    """The occurrence originally on this local date of the group's zone (for the CLI and console)."""
    group = _group(session, group_id)
    zone = ZoneInfo(group.timezone)
    start = datetime.combine(local_day, time(0), zone)
    found = [
        o
        for o in occurrences(session, group_id, start - timedelta(days=1), start + timedelta(days=2))
        if o.original_start.astimezone(zone).date() == local_day
    ]
    if not found:
        raise ValidationError(f"{group.name} has no meeting on {local_day:%Y-%m-%d}")
    return found[0]


# --- writing schedules and overrides ------------------------------------------------------


def set_schedule(
    session: Session,
    group_id: int,
    *,
    rrule: str,
    start_local: time,
    duration_minutes: int,
    location: str | None = None,
    dial_in: str | None = None,
    starts_on: date | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Create or replace the group's schedule. Raises ValidationError with a one-line reason."""
    now = now or utcnow()
    group = _group(session, group_id)
    check_timezone(group.timezone)
    if not isinstance(duration_minutes, int) or not 5 <= duration_minutes <= 24 * 60:
        raise ValidationError("duration must be 5 to 1440 minutes")
    if location and len(location) > 200:
        raise ValidationError("address must be at most 200 characters")
    if dial_in:
        # A number members can call: "call me" or a typo would reach nobody (checkin.phones).
        try:
            dial_in = normalize_phone(dial_in)
        except InvalidPhone as exc:
            raise ValidationError(f"dial-in: {exc.advice}") from None
    schedule = get_schedule(session, group_id)
    starts_on = starts_on or (
        schedule.starts_on if schedule else now.astimezone(ZoneInfo(group.timezone)).date()
    )
    try:
        rrule = validate_rrule(rrule, starts_on, start_local)
    except ValueError as exc:
        raise ValidationError(f"rrule: {exc}") from None
    if schedule is None:
        schedule = Schedule(group_id=group_id)
        session.add(schedule)
    schedule.rrule, schedule.starts_on, schedule.start_local = rrule, starts_on, start_local
    schedule.duration_minutes = duration_minutes
    schedule.location, schedule.dial_in = (location or None), (dial_in or None)
    schedule.updated_at = now
    session.flush()
    cancel_outdated(session, group_id, now)
    return schedule


def _override_for(
    session: Session, group_id: int, occurrence_key_: str
) -> tuple[Group, Schedule, OccurrenceOverride | None]:
    group = _group(session, group_id)
    schedule = get_schedule(session, group_id)
    if schedule is None:
        raise ValidationError(f"{group.name} has no schedule yet")
    try:
        parse_key(occurrence_key_)
    except ValueError:
        raise ValidationError(f"not an occurrence key: {occurrence_key_!r} (e.g. 20261208T2300Z)") from None
    if not is_rule_occurrence(_spec(schedule, group), occurrence_key_):
        raise ValidationError(f"{group.name} has no meeting {occurrence_key_}")
    row = session.scalar(
        select(OccurrenceOverride).where(
            OccurrenceOverride.group_id == group_id, OccurrenceOverride.occurrence_key == occurrence_key_
        )
    )
    return group, schedule, row


def _save_override(
    session: Session,
    group_id: int,
    key: str,
    row,
    status: str,
    new_start_local: datetime | None,
    now: datetime,
):
    if row is None:
        row = OccurrenceOverride(group_id=group_id, occurrence_key=key, version=0)
        session.add(row)
    elif row.status == status and row.new_start_local == new_start_local:
        return row  # the same change again: nothing new to announce
    row.status, row.new_start_local = status, new_start_local
    row.version += 1
    row.updated_at = now
    session.flush()
    cancel_outdated(session, group_id, now)
    return row


def cancel_occurrence(
    session: Session, group_id: int, occurrence_key_: str, now: datetime | None = None
) -> OccurrenceOverride:
    """Cancel one meeting; its members who would be reminded are told once."""
    _, _, row = _override_for(session, group_id, occurrence_key_)
    return _save_override(session, group_id, occurrence_key_, row, "cancelled", None, now or utcnow())


def move_occurrence(
    session: Session,
    group_id: int,
    occurrence_key_: str,
    new_start_local: datetime,
    now: datetime | None = None,
) -> OccurrenceOverride:
    """Move one meeting to a new wall-clock start in the group's zone; members are told once."""
    now = now or utcnow()
    group, _, row = _override_for(session, group_id, occurrence_key_)
    new_start_local = new_start_local.replace(tzinfo=None, second=0, microsecond=0)
    zone = ZoneInfo(group.timezone)
    if row is not None and row.status == "moved":
        current = row.new_start_local
    elif row is None or row.status != "cancelled":
        current = parse_key(occurrence_key_).astimezone(zone).replace(tzinfo=None)
    else:
        current = None  # a cancelled meeting moved to any time is held again: a change members hear of
    if current is not None and new_start_local == current:
        raise ValidationError("That is already the meeting's time; nothing changed.")
    if new_start_local.replace(tzinfo=zone) <= now:
        raise ValidationError("The new time has already passed: choose a time still to come.")
    return _save_override(session, group_id, occurrence_key_, row, "moved", new_start_local, now)


# --- plans --------------------------------------------------------------------------------


def _timing(stored: dict | None) -> dict:
    """The plan keys of a stored ReminderPlan.overrides (its texts are kept apart)."""
    return {k: v for k, v in (stored or {}).items() if k != TEMPLATES_KEY}


def _stored_texts(stored: dict | None) -> dict:
    return (stored or {}).get(TEMPLATES_KEY) or {}


def get_plan(session: Session, group_id: int) -> Plan:
    row = session.get(ReminderPlan, group_id)
    return plan_timing(row.overrides if row else None)


def plan_timing(stored: dict | None) -> Plan:
    """The plan a group's stored ReminderPlan.overrides make, for a caller that read them already
    (raises PlanError when they no longer parse, as `get_plan` does)."""
    defaults = load_config().defaults
    timing = _timing(stored)
    return parse_plan(timing, base=defaults) if timing else defaults


def plan_from(stored: dict | None, group_id: int) -> Plan:
    """The plan a group's stored ReminderPlan.overrides make, for planning and sending (never raises)."""
    defaults = load_config().defaults
    timing = _timing(stored)
    if not timing:
        return defaults
    try:
        return parse_plan(timing, base=defaults)
    except PlanError as exc:
        # Stored before the defaults changed under it: plan this group by the defaults, and say so.
        log.error("group=%s plan overrides no longer valid (%s); using the defaults", group_id, exc)
        return defaults


def set_plan(session: Session, group_id: int, now: datetime | None = None, **overrides) -> Plan:
    """Override plan keys for one group (a value of None returns that key to the default)."""
    _group(session, group_id)
    row = session.get(ReminderPlan, group_id)
    merged = _timing(row.overrides if row else None)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        plan = parse_plan(merged, base=load_config().defaults)
    except PlanError as exc:
        raise ValidationError(str(exc)) from None
    # Store what the file would say, so a stored plan re-validates the same way.
    defaults = load_config().defaults.as_config()
    stored = {k: v for k, v in plan.as_config().items() if k in merged and v != defaults[k]}
    _save_plan_row(
        session, group_id, row, stored, _stored_texts(row.overrides if row else None), now or utcnow()
    )
    cancel_outdated(session, group_id, now or utcnow())
    return plan


def _save_plan_row(
    session: Session, group_id: int, row: ReminderPlan | None, timing: dict, texts: dict, now: datetime
) -> None:
    if row is None:
        row = ReminderPlan(group_id=group_id)
        session.add(row)
    # A new dict, not an edit in place: the JSON column only notices assignment.
    row.overrides = {**timing, **({TEMPLATES_KEY: texts} if texts else {})}
    row.updated_at = now
    session.flush()


# --- texts --------------------------------------------------------------------------------


def group_config(session: Session, group_id: int) -> PlanConfig:
    """config/plan.toml with the group's own texts laid over the file's."""
    _group(session, group_id)
    row = session.get(ReminderPlan, group_id)
    return load_config().with_templates(usable_templates(_stored_texts(row.overrides if row else None)))


def stored_text_problems(session: Session, group_id: int) -> tuple[dict[str, dict[str, str]], list]:
    """The group's stored texts that are not sent (the file's go instead), {language: {template: text}},
    and a TemplateTextError for each saying why: a text saved before a rule it breaks, or edited outside
    the app."""
    row = session.get(ReminderPlan, group_id)
    stored = _stored_texts(row.overrides if row else None)
    problems = stored_problems(stored)
    return _refused(stored, problems), problems


def _refused(stored: dict, problems: list) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for p in problems:
        out.setdefault(p.language, {})[p.key] = stored[p.language][p.key]
    return out


def get_templates(session: Session, group_id: int) -> dict[str, dict[str, str]]:
    """The texts the group's members get, {language: {template: text}}."""
    return group_config(session, group_id).templates


def _tidy(text) -> str | None:
    """A textarea's text as it will be sent: no CR from the browser, no stray outer space; blank is None."""
    if text is None or not isinstance(text, str):
        return text
    return text.replace("\r\n", "\n").strip() or None


def set_templates(
    session: Session, group_id: int, changes: dict[str, dict[str, str | None]], now: datetime | None = None
) -> dict[str, dict[str, str]]:
    """Set some of a group's texts, {language: {template: text}}; None, blank or the file's own text
    returns a template to the file's. Nothing is stored unless every text is acceptable (a
    ValidationError names the first that is not). Returns the texts now in effect.

    Texts already planned and not yet sent are reworded in place (see _reword_pending)."""
    now = now or utcnow()
    group = _group(session, group_id)
    config = load_config()
    row = session.get(ReminderPlan, group_id)
    merged = {lang: dict(table) for lang, table in _stored_texts(row.overrides if row else None).items()}
    try:
        if not isinstance(changes, dict) or not all(isinstance(t, dict) for t in changes.values()):
            raise PlanError("templates: expected {language: {template: text}}")
        for lang, table in changes.items():
            for key, text in table.items():
                check_template_name(lang, key)
                text = _tidy(text)
                if text is None or text == config.templates[lang][key]:
                    merged.get(lang, {}).pop(key, None)
                else:
                    merged.setdefault(lang, {})[key] = text
        texts = parse_group_templates({lang: t for lang, t in merged.items() if t}, config, group.name)
    except PlanError as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(str(exc)) from None
    _save_plan_row(session, group_id, row, _timing(row.overrides if row else None), texts, now)
    _reword_pending(session, group_id, now)
    return config.with_templates(texts).templates


def planned_bodies(
    session: Session, group_id: int, now: datetime, member_id: int | None = None
) -> dict[str, str]:
    """{idempotency key: text} of the group's planned texts due by `now`, worded as they would go out now
    (only `member_id`'s, if given: one send's worth of planning, not the whole group's)."""
    groups, prompts = load_state(session, now, [group_id])
    if not groups:
        return {}
    if member_id is not None:
        groups = [replace(g, members=tuple(m for m in g.members if m.id == member_id)) for g in groups]
        prompts = [p for p in prompts if p.member_id == member_id]
    return {
        s.key: s.body
        for s in due_sends(groups, now, config=load_config(), open_prompts=prompts)
        if s.body is not None
    }


def _reword_pending(session: Session, group_id: int, now: datetime) -> int:
    """Give pending planned texts to the group's members the group's current wording.

    Cancelling them would not do: the tick writes each idempotency key once (ON CONFLICT DO NOTHING),
    so a cancelled key is never planned again, and a new key would text again a member who already
    had the old one. So the body is rewritten in place, and only while the row is still pending: a
    worker's claim (pending -> sending) and this update exclude each other, so a send goes out once,
    with the old text or the new one."""
    wanted = planned_bodies(session, group_id, now)
    if not wanted:
        return 0
    member_ids = select(GroupMember.member_id).where(GroupMember.group_id == group_id)
    rows = session.execute(
        select(OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.body).where(
            OutboxItem.state == "pending",
            OutboxItem.channel == "sms",
            OutboxItem.purpose.in_(PLANNED_KINDS),
            OutboxItem.member_id.in_(member_ids),
        )
    ).all()
    by_body: dict[str, list[int]] = {}
    for row_id, key, body in rows:
        if key in wanted and wanted[key] != body:
            by_body.setdefault(wanted[key], []).append(row_id)
    for body, ids in by_body.items():
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), OutboxItem.state == "pending")
            .values(body=body, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    reworded = sum(len(ids) for ids in by_body.values())
    if reworded:
        log.info("group=%s texts changed: %d pending sends reworded", group_id, reworded)
    return reworded


# --- members ------------------------------------------------------------------------------


def _member_by_phone(session: Session, phone: str) -> Member:
    from checkin.phones import InvalidPhone, normalize_phone

    try:
        phone = normalize_phone(phone)
    except InvalidPhone as exc:
        raise ValidationError(f"phone: {exc}") from None
    member = session.scalar(select(Member).where(Member.phone == phone))
    if member is None:
        raise ValidationError(f"no member with phone {phone}")
    return member


def _cancel_planned_sends(session: Session, member_id: int) -> None:
    # What the tick (or an announcement) already wrote but no worker has sent yet waits for nobody: cancel it.
    session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.member_id == member_id,
            OutboxItem.state == "pending",
            # An announcement is automated too (checkin.announcements.PURPOSE; named here, which it imports).
            OutboxItem.purpose.in_((*PLANNED_KINDS, "announcement")),
        )
        .values(state="cancelled", last_error="member paused")
        .execution_options(synchronize_session=False)
    )


def pause_member(session: Session, phone: str, until: date | None) -> Member:
    """Hold a member's automated sends through the day `until` in their zone (None: resume now).

    The console's pause means the same: held through that day, resumed by itself the day after.
    """
    member = _member_by_phone(session, phone)
    if until is None:
        member.paused_until = None
        if member.status == "paused":
            member.status = "active"
    else:
        next_day = datetime.combine(until + timedelta(days=1), time(0), ZoneInfo(member.effective_timezone))
        member.paused_until = next_day.astimezone(ZoneInfo("UTC"))
    if member.paused_until is not None and member.paused_until > utcnow():
        _cancel_planned_sends(session, member.id)
    return member


def pause_member_until_resumed(session: Session, phone: str) -> Member:
    """Hold every automated send to a member until someone resumes them (status "paused")."""
    member = _member_by_phone(session, phone)
    member.status, member.paused_until = "paused", None
    _cancel_planned_sends(session, member.id)
    return member


# --- state for the planner ----------------------------------------------------------------


# Up to this many groups (a planning job's share is 200: about 10,000 members), members are looked up by
# their primary key, one probe each; beyond it (a whole tick in one process), in one pass over the table.
PROBE_GROUPS = 1000
_MEMBER_COLUMNS = (
    Member.id,
    Member.display_name,
    Member.phone,
    Member.language,
    Member.timezone,
    Member.channel,
    Member.status,
    Member.paused_until,
)


def _members_query(session: Session, group_ids: list[int]):
    """(group id, member columns...) of these groups' members, by member id.

    On PostgreSQL, for a planning job's few groups, each membership's member is fetched by its key in a
    LATERAL subquery (OFFSET 0 keeps the planner from flattening it back into a join): with its default
    costs the planner otherwise reads every member of every group to hash-join the job's 10,000
    (a parallel scan of the whole table for each job, 5x the time and 3 processes; at a million members
    that was most of a worker's database time, and two workers' parallel scans fought over two cores)."""
    if session.bind.dialect.name == "postgresql" and len(group_ids) <= PROBE_GROUPS:
        member = (
            select(*_MEMBER_COLUMNS)
            .where(Member.id == GroupMember.member_id)
            .offset(literal_column("0"))
            .lateral("member")
        )
        return (
            select(GroupMember.group_id, *member.c)
            .select_from(GroupMember)
            .join(member, true())
            .where(GroupMember.group_id.in_(group_ids))
            .order_by(member.c.id)
        )
    return (
        select(GroupMember.group_id, *_MEMBER_COLUMNS)
        .join(Member, Member.id == GroupMember.member_id)
        .where(GroupMember.group_id.in_(group_ids))
        .order_by(Member.id)
    )


def _recent_inbound_query(session: Session, group_ids: list[int], since: datetime):
    """(member id, newest inbound message time since `since`) of these groups' members who texted since.

    Only these groups' members: `messages` holds a year of every member's texts and has no index on
    created_at alone, so "every member's newest since" read all of it, in every planning job. On
    PostgreSQL each member is one range of the (member_id, created_at) index, in a LATERAL subquery (an
    aggregate, so the planner cannot flatten it into a scan of the whole table); elsewhere a semi-join."""
    if session.bind.dialect.name == "postgresql":
        last = (
            select(func.max(Message.created_at).label("at"))
            .where(
                Message.member_id == GroupMember.member_id,
                Message.created_at >= since,
                Message.direction == "inbound",
            )
            .lateral("last_inbound")
        )
        return (
            select(GroupMember.member_id, last.c.at)
            .select_from(GroupMember)
            .join(last, true())
            .where(GroupMember.group_id.in_(group_ids), last.c.at.is_not(None))
        )
    return (
        select(Message.member_id, func.max(Message.created_at))
        .where(
            Message.member_id.in_(select(GroupMember.member_id).where(GroupMember.group_id.in_(group_ids))),
            Message.created_at >= since,
            Message.direction == "inbound",
        )
        .group_by(Message.member_id)
    )


def load_state(
    session: Session, now: datetime, group_ids: list[int] | None = None
) -> tuple[list[GroupState], list[OpenPrompt]]:
    """Everything `plan_sends` needs, in a handful of queries (no per-member round trips)."""
    query = select(Group, Schedule).join(Schedule, Schedule.group_id == Group.id)
    if group_ids is not None:
        query = query.where(Group.id.in_(group_ids))
    pairs = session.execute(query).all()
    ids = [g.id for g, _ in pairs]
    if not ids:
        return [], []
    plans, plan_edits = {}, {}
    for row in session.scalars(select(ReminderPlan).where(ReminderPlan.group_id.in_(ids))):
        plans[row.group_id], plan_edits[row.group_id] = row.overrides, row.updated_at
    oldest = occurrence_key(now - timedelta(days=70))
    overrides: dict[int, dict[str, OverrideSpec]] = {}
    for row in session.scalars(
        select(OccurrenceOverride).where(
            OccurrenceOverride.group_id.in_(ids), OccurrenceOverride.occurrence_key >= oldest
        )
    ):
        overrides.setdefault(row.group_id, {})[row.occurrence_key] = _override_spec(row)
    recent = dict(session.execute(_recent_inbound_query(session, ids, now - timedelta(hours=2))).all())
    members: dict[int, list[MemberState]] = {}
    # Plain rows through the session's connection, fetched at once: the ORM's result handling and a fetch
    # per row were half of reading a million members, and these are columns, not entities.
    rows = session.connection().execute(_members_query(session, ids)).all()
    for gid, mid, name, phone, lang, tz, channel, status, paused in rows:
        first = name.split()[0] if name and name.strip() else "member"
        found = members.get(gid)
        if found is None:
            found = members[gid] = []
        found.append(
            frozen(
                MemberState,
                id=mid,
                name=first,
                phone=phone,
                language=lang,
                zone=tz,
                channel=channel,
                status=status,
                paused_until=paused,
                last_inbound_at=recent.get(mid),
            )
        )
    groups = []
    for group, schedule in pairs:
        stored = plans.get(group.id) or {}
        plan, texts = plan_from(stored, group.id), _stored_texts(stored)
        if texts:
            # A text edited outside the app that cannot be rendered falls back to the file's, not the group's sends.
            usable = usable_templates(texts)
            if usable != texts:
                log.error("group=%s some stored texts are not usable; using the file's for those", group.id)
            texts = usable
        groups.append(
            GroupState(
                group.id,
                group.name,
                group.timezone,
                group.phone_number,
                _spec(schedule, group),
                overrides.get(group.id, {}),
                plan,
                tuple(members.get(group.id, ())),
                texts,
                max(
                    (t for t in (schedule.updated_at, plan_edits.get(group.id)) if t is not None),
                    default=None,
                ),
            )
        )
    from checkin.checkins import CheckIn

    prompts = [
        OpenPrompt(r.member_id, r.group_id, r.prompt_key, r.prompted_at, r.nudged_at)
        for r in session.execute(
            select(
                CheckIn.member_id,
                CheckIn.group_id,
                CheckIn.prompt_key,
                CheckIn.prompted_at,
                CheckIn.nudged_at,
            ).where(
                CheckIn.state == "open",
                CheckIn.prompt_key.like("prompt:%"),
                CheckIn.group_id.in_(ids),
                CheckIn.prompted_at >= now - timedelta(days=8),
            )
        )
    ]
    return groups, prompts


def preview(
    session: Session,
    group_id: int,
    start: datetime,
    days: int,
    *,
    now: datetime | None = None,
    base_url: str = "",
    written: bool = False,
) -> list[PlannedSend]:
    """Every send the plan will make for the group in [start, start + days), held ones marked.
    `written`: also the ones already due and written to the outbox (sent or on their way), for a page
    that says which went out.

    A preview from now also lists what is already due but not yet written, as the next tick will write
    it (a catch-up reminder planned at the moment of an edit, a backlog), at the time it was due, and
    a prompt or nudge due but held while the member is texting with us ("live exchange"): it goes when
    the exchange ends, so it is shown held, not left out."""
    now = now or utcnow()
    groups, prompts = load_state(session, now, [group_id])
    end = start + timedelta(days=days)
    config = load_config()
    sends = plan_sends(groups, start, end, now=now, config=config, open_prompts=prompts, base_url=base_url)
    if groups and start <= now < end:
        shown = {s.key for s in sends}
        due = [
            s
            for s in due_sends(groups, now, config=config, open_prompts=prompts, base_url=base_url)
            if s.held_reason in _STILL_TO_SEND and s.send_at_utc < start and s.key not in shown
        ]
        done = set() if written else _written_keys(session, [s.key for s in due])
        sends = sorted(
            sends + [s for s in due if s.key not in done],
            key=lambda s: (s.send_at_utc, s.group_id, s.member_id, s.kind, s.key),
        )
    return sends


# Held reasons of a send already due that the next ticks will still write (None: nothing holds it).
_STILL_TO_SEND = (None, "live exchange")


def _written_keys(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        session.scalars(select(OutboxItem.idempotency_key).where(OutboxItem.idempotency_key.in_(keys)))
    )


# --- keeping pending sends in line with edits ---------------------------------------------


def cancel_outdated(session: Session, group_id: int, now: datetime) -> int:
    """Cancel pending planner sends to this group's members that their schedules no longer make.

    A member may be in several groups, and a key does not name its group: a row stays if any of
    the member's groups still makes it.
    """
    member_ids = select(GroupMember.member_id).where(GroupMember.group_id == group_id)
    pending = session.scalars(
        select(OutboxItem).where(
            OutboxItem.state == "pending",
            OutboxItem.purpose.in_(PLANNED_KINDS),
            OutboxItem.member_id.in_(member_ids),
        )
    ).all()
    if not pending:
        return 0
    links = session.execute(
        select(GroupMember.member_id, GroupMember.group_id).where(
            GroupMember.member_id.in_({i.member_id for i in pending})
        )
    ).all()
    groups_of: dict[int, set[int]] = {}
    for mid, gid in links:
        groups_of.setdefault(mid, set()).add(gid)
    groups, _ = load_state(session, now, sorted({gid for _, gid in links}))
    by_id = {g.id: g for g in groups}
    cancelled = 0
    for item in pending:
        mine = [by_id[g] for g in groups_of.get(item.member_id, ()) if g in by_id]
        if any(_still_wanted(g, item.idempotency_key) for g in mine):
            continue
        item.state, item.last_error = "cancelled", "schedule changed"
        cancelled += 1
    return cancelled


def _still_wanted(group: GroupState, key: str) -> bool:
    parts = key.split(":")
    if len(parts) < 3 or parts[0] not in PLANNED_KINDS:
        return True
    kind, occ_key, rest = parts[0], parts[2], parts[3:]
    try:
        parse_key(occ_key)
    except ValueError:
        return True
    if not is_rule_occurrence(group.schedule, occ_key):
        return False
    override = group.overrides.get(occ_key)
    if kind == "change":
        return override is not None and rest == [str(override.version)]
    if override is not None and override.status == "cancelled":
        return False
    if kind == "reminder":
        if not rest or rest[0] not in {str(m) for m in group.plan.reminder_offsets_minutes}:
            return False  # the plan no longer reminds at this offset
        version = rest[1] if len(rest) > 1 else None
        if override is None:
            return version is None
        return version == f"v{override.version}"
    if kind == "prompt":
        return group.plan.prompt_days_after > 0
    if kind == "nudge":
        return group.plan.nudge_after_hours > 0
    return True


def night_sends(session: Session, group_id: int, now: datetime | None = None) -> list:
    """The group's plan's sends that fall in members' night (checkin.schedules.night), in its zone."""
    from checkin.schedules import night

    now = now or utcnow()
    groups, _prompts = load_state(session, now, [group_id])
    return night.night_sends(groups[0], now, load_config()) if groups else []
