"""The planner: a pure function from groups, schedules, plans and members to every send that is due.

The cron tick and the preview both call `plan_sends`, so the preview is what will happen. Nothing
here reads the clock or the database: `now` and the state come in, PlannedSends go out, each
either sendable (held_reason None, at send_at_utc) or held back with the reason a coordinator sees.

Rules, in the order they apply:
- reminders at each offset before a meeting that is not cancelled; never once it has started,
  and a late reminder (a backlog, quiet hours) is superseded once its next (closer) reminder is
  near (`reminder_deadline`), so a member never gets two about one meeting within a short time;
- a meeting first planned (set, moved, or the plan changed) after some reminder times had passed
  gets the reminders still ahead plus at most one catch-up: the last passed one, sent at the time of
  the edit, and only if that is not near the next reminder (it never goes at its old, past time);
- a prompt `prompt_days_after` the meeting's member-local date at `prompt_time` member-local;
  one nudge `nudge_after_hours` after a prompt still open; prompts and nudges held more than
  `prompt_stale_hours` are dropped; they also wait while the member is in a live exchange;
- a notice per cancelled/moved occurrence version, once it is within `change_notice_days`;
- every send waits for quiet hours to end in the member's zone; opted-out and paused members are
  held; voice members get a call (a twiml_url) instead of a text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from checkin import quiet_hours
from checkin.schedules.plan import Plan, PlanConfig
from checkin.schedules.recurrence import Occurrence, OverrideSpec, ScheduleSpec, expand, parse_key, to_utc
from checkin.schedules.texts import NAMED_KINDS, render
from checkin.templates import placeholders

log = logging.getLogger("checkin.schedules.planning")


@dataclass(frozen=True)
class MemberState:
    id: int
    name: str
    phone: str
    language: str
    zone: str | None  # None: the group's zone
    channel: str  # sms | voice
    status: str  # active | paused | opted_out
    paused_until: datetime | None = None
    last_inbound_at: datetime | None = None


@dataclass(frozen=True)
class GroupState:
    id: int
    name: str
    zone: str
    phone_number: str | None
    schedule: ScheduleSpec | None
    overrides: dict[str, OverrideSpec]
    plan: Plan
    members: tuple[MemberState, ...]
    # The group's own texts, {language: {template: text}}, laid over config/plan.toml's.
    templates: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)
    # When the schedule or plan was last edited: reminder times before it were never planned (catch-up).
    planned_since: datetime | None = None


@dataclass(frozen=True)
class OpenPrompt:
    member_id: int
    group_id: int
    prompt_key: str
    prompted_at: datetime
    nudged_at: datetime | None = None

    @property
    def occurrence_key(self) -> str:
        return self.prompt_key.split(":")[2]


@dataclass(frozen=True)
class PlannedSend:
    member_id: int
    member_name: str
    kind: str  # reminder | prompt | nudge | change
    occurrence_key: str
    send_at_utc: datetime
    local_time: datetime  # send_at in the member's zone
    channel: str
    held_reason: str | None
    body: str | None  # None for a voice call
    key: str = ""  # the outbox idempotency key
    group_id: int = 0
    phone: str = ""
    from_number: str | None = None
    twiml_url: str | None = None
    delayed_from: datetime | None = field(default=None, compare=False)  # local, when quiet hours moved it


@dataclass(frozen=True)
class _Candidate:
    """One send for every member of a group, before the member's zone and state are applied."""

    kind: str
    occ: Occurrence
    nominal: datetime  # UTC, before quiet hours
    expires: datetime  # UTC: not sent at or after this instant
    key_middle: str  # the key without "{kind}:{member}:"
    expired_reason: str  # why it is held once `expires` has passed


# A late reminder gives way to the next one this long before the next one is due (at most half the
# time between the two), so two reminders of one meeting never come within a short time of each other.
REMINDER_GAP = timedelta(hours=2)


def reminder_deadline(
    nominal: datetime, following: datetime | None, meeting: datetime
) -> tuple[datetime, str]:
    """Until when a reminder due at `nominal` may go, and why not after: the meeting's start for the
    closest reminder (`following` None); else shortly before the `following` reminder's time."""
    if following is None or following >= meeting:
        return meeting, "meeting started"
    return following - min(REMINDER_GAP, (following - nominal) / 2), "superseded by the next reminder"


def reminder_at(
    meeting: datetime, offset: timedelta, zone: str, local_start: datetime | None = None
) -> datetime:
    """When the reminder `offset` before `meeting` (UTC) is due. Offsets count back on the group's wall
    clock ("24 h before" Sunday 18:00 is Saturday 18:00, across a clock change), except when that wall
    time does not exist (skipped by spring-forward): then it is the offset before in UTC, since the wall
    clock would put it just after the gap, at or after a meeting that starts in the hour after it."""
    tz = ZoneInfo(zone)
    # `local_start`: the meeting's wall-clock start as scheduled (an occurrence's own), if known.
    local = (local_start or meeting.astimezone(tz)).replace(tzinfo=None) - offset
    when = to_utc(local, zone)
    if when.astimezone(tz).replace(tzinfo=None) != local:  # in the gap
        return meeting - offset
    return when


def next_reminder_at(
    offsets_minutes: tuple[int, ...], offset_minutes: int, meeting: datetime, zone: str
) -> datetime | None:
    """The time of the reminder after the one at `offset_minutes` before `meeting` (None: it is the last,
    or the plan no longer has that offset). Offsets count back on the group's wall clock."""
    closer = [m for m in offsets_minutes if m < offset_minutes]
    if offset_minutes not in offsets_minutes or not closer:
        return None
    return reminder_at(meeting, timedelta(minutes=max(closer)), zone)


def frozen(cls, **values):
    """An instance of the frozen dataclass `cls` given every one of its fields, as `cls(**values)` makes it
    but without the generated __init__'s object.__setattr__ per field: the planner makes one PlannedSend
    per member and send, and a frozen __init__ of 15 fields cost as much as planning the send."""
    if len(values) != len(cls.__dataclass_fields__):  # a field added later and not given here
        raise TypeError(
            f"{cls.__name__} needs all of {sorted(cls.__dataclass_fields__)}, got {sorted(values)}"
        )
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


# PlannedSend's fields that differ from member to member (_GroupPlanner._send sets them; the slot the rest).
_MEMBER_FIELDS = frozenset(
    ("member_id", "member_name", "channel", "held_reason", "key", "phone", "body", "twiml_url")
)


@dataclass(frozen=True)
class _Slot:
    """A send of one candidate to every member in one zone, before each member's state and words."""

    kind: str
    occ: Occurrence
    nominal: datetime
    expires: datetime
    expired_reason: str
    send_at: datetime
    held: str | None  # held whoever the member is (quiet hours or lateness), or None
    key_tail: str  # the outbox key after "{kind}:{member id}"
    shared: dict  # PlannedSend's fields that are the same for every member
    voice: tuple[str, str]  # a call's twiml_url before and after the member id (voice_url's)
    zone: str
    bodies: dict  # language, or (language, name) if the text says {name} -> the text, filled as needed
    named: dict  # language -> whether the text says {name}

    def __post_init__(self):
        if self.shared.keys() | _MEMBER_FIELDS != PlannedSend.__dataclass_fields__.keys():  # a field added
            raise TypeError(
                f"PlannedSend's fields are not all set: {sorted(self.shared.keys() | _MEMBER_FIELDS)}"
            )


def voice_url(base_url: str, kind: str, member_id: int, occurrence_key: str) -> str:
    query = urlencode({"kind": kind, "member": member_id, "occurrence": occurrence_key})
    return f"{base_url.rstrip('/')}/twilio/voice/outbound?{query}"


def _candidates(group: GroupState, start: datetime, end: datetime, now: datetime) -> list[_Candidate]:
    plan = group.plan
    offsets = plan.offsets
    longest = offsets[0] if offsets else timedelta(0)
    stale = timedelta(hours=plan.prompt_stale_hours)
    # Widest span whose meetings can have a send in [start, end): quiet hours delay a send < 1 day.
    lo = start - timedelta(days=plan.prompt_days_after + 2) - stale
    hi = end + longest + timedelta(days=1)
    day = timedelta(days=1)

    def near(nominal: datetime, slack: timedelta) -> bool:
        # A send is shown at a time between its nominal time and a day after it (quiet hours), so one
        # outside these bounds cannot land in the window for any member: skip it before the member loop.
        return nominal - slack < end and nominal + day + slack >= start

    out: list[_Candidate] = []
    for occ in expand(group.schedule, group.overrides, lo, hi):
        if occ.status == "cancelled":
            continue
        version = f":v{occ.version}" if occ.status == "moved" else ""
        # Offsets count back on the group's wall clock: "24 h before" Sunday 18:00 is Saturday 18:00,
        # even when the clocks change in between.
        times = [_before(occ, offset, group.zone) for offset in offsets] + [occ.starts_at]
        known = _planned_since(group, occ, now)
        for index, offset in enumerate(offsets):
            nominal = times[index]
            following = times[index + 1] if index + 1 < len(offsets) else None
            expires, reason = reminder_deadline(nominal, following, occ.starts_at)
            if known is not None and nominal < known:
                # Its time had passed before this meeting was planned: only the last such reminder is a
                # catch-up, due when the meeting was planned (and dropped if the next one is near).
                if times[index + 1] < known:
                    continue
                nominal = known
            if not near(nominal, timedelta(0)):
                continue
            out.append(
                _Candidate(
                    "reminder",
                    occ,
                    nominal,
                    expires,
                    f"{occ.key}:{int(offset.total_seconds() // 60)}{version}",
                    reason,
                )
            )
        # A member's prompt time is within a day and a half of the meeting time + N days, whatever their zone.
        if plan.prompt_days_after and near(occ.starts_at + timedelta(days=plan.prompt_days_after), 1.5 * day):
            # Nominal time and expiry depend on the member's zone: the member loop fills them in.
            out.append(_Candidate("prompt", occ, occ.starts_at, occ.starts_at, occ.key, "stale"))
    return out


def _planned_since(group: GroupState, occ: Occurrence, now: datetime) -> datetime | None:
    """When this occurrence got its current time and reminder plan (the schedule's or plan's last edit, or
    its move); None if that is not known or lies after `now` (a clock we cannot compare with)."""
    times = [group.planned_since]
    if occ.status == "moved":
        override = group.overrides.get(occ.key)
        times.append(override.updated_at if override is not None else None)
    known = max((t for t in times if t is not None), default=None)
    return known if known is not None and known <= now else None


def _before(occ: Occurrence, offset: timedelta, zone: str) -> datetime:
    return reminder_at(occ.starts_at, offset, zone, occ.local_start)


def _change_candidates(group: GroupState, start: datetime, end: datetime) -> list[_Candidate]:
    out = []
    notice = timedelta(days=group.plan.change_notice_days)
    for override in group.overrides.values():
        occs = [
            o
            for o in expand(group.schedule, group.overrides, *_around(override, group.zone))
            if o.key == override.occurrence_key
        ]
        if not occs:
            continue
        occ = occs[0]
        nominal = max(override.updated_at, occ.original_start - notice)
        expires = min(occ.original_start, occ.starts_at)
        if nominal < end and expires > start:
            out.append(
                _Candidate("change", occ, nominal, expires, f"{occ.key}:{override.version}", "meeting passed")
            )
    return out


def _around(override: OverrideSpec, zone: str) -> tuple[datetime, datetime]:
    """A span holding both the original and the new start of an overridden occurrence."""
    times = [parse_key(override.occurrence_key)]
    if override.new_start_local is not None:
        times.append(to_utc(override.new_start_local, zone))
    return min(times), max(times) + timedelta(minutes=1)


def plan_sends(
    groups: list[GroupState],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    config: PlanConfig,
    open_prompts: list[OpenPrompt] = (),
    base_url: str = "",
    catch_up: bool = False,
) -> list[PlannedSend]:
    """Every send whose time (after quiet hours) falls in [start, end), sendable or held with a reason.

    With catch_up (the tick), a change notice due before `start` is included too while its meeting
    is still ahead: a notice can be due days before the reminders are, and must not be lost.
    """
    prompts_by_group: dict[int, list[OpenPrompt]] = {}
    for prompt in open_prompts:
        prompts_by_group.setdefault(prompt.group_id, []).append(prompt)
    sends: list[PlannedSend] = []
    for group in groups:
        if group.schedule is None:
            continue
        try:
            planner = _GroupPlanner(group, config, now, base_url)
            found = _plan_group(planner, prompts_by_group.get(group.id, ()), start, end, catch_up)
        except PLANNING_ERRORS as exc:
            # One group's broken schedule (edited outside the app) must not stop every other group's sends.
            log.error("planning skipped group=%s (%s: %s)", group.id, type(exc).__name__, exc)
            continue
        sends.extend(found)
    sends.sort(key=_order)
    return sends


# What a group's broken data (edited outside the app) raises while it is planned.
PLANNING_ERRORS = (ValueError, TypeError, LookupError)


def _order(send: PlannedSend):
    return (send.send_at_utc, send.group_id, send.member_id, send.kind, send.key)


def _plan_group(planner: _GroupPlanner, prompts, start: datetime, end: datetime, catch_up: bool):
    group = planner.group
    found = planner.run(_candidates(group, start, end, planner.now), prompts, start, end)
    if group.overrides:
        changes = _change_candidates(group, start, end)
        found += planner.run(
            changes, (), min([start, *(c.nominal for c in changes)]) if catch_up else start, end
        )
    return found


@dataclass
class DuePlan:
    """A tick's planning: what is due now (as `due_sends` gives it), and for each group planned, the
    earliest instant a send of it can be due next (checkin.schedules.due_index)."""

    sends: list[PlannedSend]
    next_due: dict[int, datetime]
    failed: list[int]  # groups whose planning raised: not in next_due, so the next tick tries them again


def plan_due(
    groups: list[GroupState],
    now: datetime,
    *,
    config: PlanConfig,
    open_prompts: list[OpenPrompt] = (),
    base_url: str = "",
    horizon: timedelta,
    lookback: timedelta | None = None,
) -> DuePlan:
    """What a tick at `now` writes, and when each group needs its next tick (at most `horizon` ahead).

    The next instant is the earliest send after `now` and before now + horizon that is not dropped for
    lateness or quiet hours, whoever it is to: a member opted out or paused now may be back by then, so
    their sends count too (waking a group early costs one group's planning, sending nothing twice).
    A send due now but held for a live exchange counts at the exchange's end, and a prompt due now
    at its nudge's time.
    `lookback`: how far back the window starts (default: the longest of these groups' plans); a tick that
    plans its groups in parts gives the whole tick's, so each part plans what planning all at once would."""
    if not groups:
        return DuePlan([], {}, [])
    start = now - (lookback if lookback is not None else max(g.plan.lookback for g in groups))
    end = now + horizon
    prompts_by_group: dict[int, list[OpenPrompt]] = {}
    for prompt in open_prompts:
        prompts_by_group.setdefault(prompt.group_id, []).append(prompt)
    plan = DuePlan([], {}, [])
    for group in groups:
        if group.schedule is None:
            plan.next_due[group.id] = end
            continue
        try:
            planner = _GroupPlanner(group, config, now, base_url, ahead=now)
            found = _plan_group(planner, prompts_by_group.get(group.id, ()), start, end, True)
        except PLANNING_ERRORS as exc:
            log.error("planning skipped group=%s (%s: %s)", group.id, type(exc).__name__, exc)
            plan.failed.append(group.id)
            continue
        wake = [end, *planner.wake]
        if group.plan.nudge_after_hours:
            nudge = timedelta(hours=group.plan.nudge_after_hours)
            wake += [now + nudge for s in found if s.kind == "prompt" and s.held_reason is None][:1]
        plan.next_due[group.id] = min(wake)
        plan.sends.extend(found)
    return plan  # in no particular order: the tick writes by key (a million sends need no sort)


def due_sends(
    groups: list[GroupState],
    now: datetime,
    *,
    config: PlanConfig,
    open_prompts: list[OpenPrompt] = (),
    base_url: str = "",
) -> list[PlannedSend]:
    """What a tick at `now` plans: every send due within the plans' lookback, change notices caught up."""
    lookback = max(g.plan.lookback for g in groups)
    return plan_sends(
        groups,
        now - lookback,
        now + timedelta(microseconds=1),
        now=now,
        config=config,
        open_prompts=open_prompts,
        base_url=base_url,
        catch_up=True,
    )


class _GroupPlanner:
    """Applies one group's candidates to each of its members; caches per zone, not per member."""

    def __init__(
        self,
        group: GroupState,
        config: PlanConfig,
        now: datetime,
        base_url: str,
        ahead: datetime | None = None,
    ):
        self.group, self.now, self.base_url = group, now, base_url
        # With `ahead` (a tick's now), sends after it are not returned: their times go to `wake`.
        self.ahead = ahead
        self.wake: list[datetime] = []
        self.config = config.with_templates(group.templates)  # once per group, not per member
        self.plan = group.plan
        self._effective: dict[tuple, datetime] = {}
        self._bodies: dict[tuple, str] = {}
        self._named: dict[tuple[str, str], bool] = {}
        self._prompt_times: dict[tuple, datetime] = {}
        self._local: dict[tuple, datetime] = {}

    def effective(self, nominal: datetime, zone: str) -> datetime:
        """The send time after quiet hours in `zone`."""
        key = (nominal, zone)
        if key not in self._effective:
            self._effective[key] = quiet_hours.next_allowed(
                nominal, zone, self.plan.quiet_start, self.plan.quiet_end
            )
        return self._effective[key]

    def _names(self, kind: str, language: str) -> bool:
        """Whether this group's `kind` text in `language` names the member ({name})."""
        key = (kind, language)
        if key not in self._named:
            self._named[key] = kind in NAMED_KINDS and "name" in placeholders(
                self.config.template(language, kind)
            )
        return self._named[key]

    def local(self, when: datetime, zone: str) -> datetime:
        """`when` in `zone` (once per instant and zone, not per member)."""
        key = (when, zone)
        found = self._local.get(key)
        if found is None:
            found = self._local[key] = when.astimezone(ZoneInfo(zone))
        return found

    def body(self, kind: str, member: MemberState, zone: str, occ: Occurrence, send_at: datetime) -> str:
        local_day = self.local(send_at, zone).date() if kind == "reminder" else None
        # A text that says {name} is the member's own, so the name is in the key; one that does not (the
        # defaults) is still worded once per language, zone and day.
        name = member.name if self._names(kind, member.language) else ""
        key = (kind, occ.key, occ.version, member.language, zone, local_day, name)
        if key not in self._bodies:
            self._bodies[key] = render(
                self.config, kind, member.language, zone, occ, self.group.name, send_at, member_name=name
            )
        return self._bodies[key]

    def run(self, candidates: list[_Candidate], prompts, start: datetime, end: datetime) -> list[PlannedSend]:
        out: list[PlannedSend] = []
        # Whether a candidate is shown, when and whether quiet hours or lateness drop it depend on the zone,
        # not the member: worked out once per zone, so a member costs only what is theirs.
        slots_by_zone: dict[str, list[_Slot]] = {}
        for member in self.group.members:
            zone = member.zone or self.group.zone
            slots = slots_by_zone.get(zone)
            if slots is None:
                slots = slots_by_zone[zone] = self._zone_slots(candidates, zone, start, end)
            for slot in slots:
                out.append(self._send(member, slot))
        if prompts:
            out.extend(self._nudges(prompts, start, end))
        return out

    def _zone_slots(
        self, candidates: list[_Candidate], zone: str, start: datetime, end: datetime
    ) -> list[_Slot]:
        slots = []
        for cand in candidates:
            nominal, expires = cand.nominal, cand.expires
            if cand.kind == "prompt":
                nominal = self._prompt_time(cand.occ, zone)
                expires = nominal + timedelta(hours=self.plan.prompt_stale_hours)
            slot = self._slot(
                zone, cand.kind, cand.occ, nominal, expires, cand.expired_reason, cand.key_middle, start, end
            )
            if slot is not None:
                slots.append(slot)
        return slots

    def _prompt_time(self, occ: Occurrence, zone: str) -> datetime:
        key = (occ.key, occ.version, zone)
        if key not in self._prompt_times:
            local_day = occ.starts_at.astimezone(ZoneInfo(zone)).date() + timedelta(
                days=self.plan.prompt_days_after
            )
            self._prompt_times[key] = to_utc(datetime.combine(local_day, self.plan.prompt_time), zone)
        return self._prompt_times[key]

    def _nudges(self, prompts, start: datetime, end: datetime) -> list[PlannedSend]:
        if not self.plan.nudge_after_hours:
            return []
        members = {m.id: m for m in self.group.members}
        occs: dict[str, Occurrence] = {}
        slots: dict[tuple, _Slot | None] = {}
        out = []
        for prompt in prompts:
            member = members.get(prompt.member_id)
            if member is None or prompt.nudged_at is not None:
                continue
            occ_key = prompt.occurrence_key
            if occ_key not in occs:
                found = [
                    o
                    for o in expand(self.group.schedule, self.group.overrides, *_span(occ_key, self.group))
                    if o.key == occ_key
                ]
                occs[occ_key] = found[0] if found else None
            occ = occs[occ_key]
            if occ is None:
                continue
            zone = member.zone or self.group.zone
            nominal = prompt.prompted_at + timedelta(hours=self.plan.nudge_after_hours)
            # Prompts of one meeting mostly went out at one time: one slot for all their nudges in a zone.
            slot_key = (zone, occ_key, nominal)
            if slot_key not in slots:
                expires = nominal + timedelta(hours=self.plan.prompt_stale_hours)
                slots[slot_key] = self._slot(
                    zone, "nudge", occ, nominal, expires, "stale", occ_key, start, end
                )
            slot = slots[slot_key]
            if slot is not None:
                out.append(self._send(member, slot))
        return out

    def _slot(
        self,
        zone: str,
        kind: str,
        occ: Occurrence,
        nominal: datetime,
        expires: datetime,
        expired_reason: str,
        key_middle: str,
        start: datetime,
        end: datetime,
    ) -> _Slot | None:
        """What a send of `kind` to any member in `zone` is (None if it is not shown in [start, end)); each
        member's is made from it by `_send`, its outbox key "{kind}:{member id}:{key_middle}"."""
        send_at = self.effective(nominal, zone)
        held = None
        if kind == "reminder" and nominal >= expires:
            # A catch-up planned when its next reminder was already near: that one goes instead.
            held, send_at = expired_reason, nominal
        elif send_at >= expires:
            # Quiet hours last until it is too late: the send is dropped, and the preview says why.
            held, send_at = (_quiet_reason(kind, expired_reason), nominal)
        if not start <= send_at < end:
            return None
        if self.ahead is not None and send_at > self.ahead:
            if held is None:  # only its time matters yet: no text, no object
                self.wake.append(send_at)
            return None
        voice_head = f"{self.base_url.rstrip('/')}/twilio/voice/outbound?{urlencode({'kind': kind})}&member="
        return _Slot(
            kind,
            occ,
            nominal,
            expires,
            expired_reason,
            send_at,
            held,
            f":{key_middle}",
            dict(
                kind=kind,
                occurrence_key=occ.key,
                send_at_utc=send_at,
                local_time=self.local(send_at, zone),
                group_id=self.group.id,
                from_number=self.group.phone_number,
                delayed_from=self.local(nominal, zone) if send_at != nominal else None,
            ),
            (voice_head, f"&{urlencode({'occurrence': occ.key})}"),
            zone,
            {},
            {},
        )

    def _send(self, member: MemberState, slot: _Slot) -> PlannedSend:
        """The slot's send to `member`: held if the member's state says so, worded for them."""
        held = slot.held
        if held is None:
            held = self._held(member, slot.kind, slot.send_at, slot.expires, slot.expired_reason)
            if held == "live exchange" and self.ahead is not None:
                self.wake.append(member.last_inbound_at + timedelta(minutes=self.plan.live_exchange_minutes))
        values = slot.shared.copy()  # with the member's fields below, every field (checked in _slot)
        values["member_id"] = member_id = member.id
        values["member_name"] = member.name
        values["channel"] = member.channel
        values["held_reason"] = held
        values["key"] = f"{slot.kind}:{member_id}{slot.key_tail}"
        values["phone"] = member.phone
        if member.channel == "voice":
            values["body"] = None
            values["twiml_url"] = f"{slot.voice[0]}{member_id}{slot.voice[1]}"  # voice_url's, per member
        else:
            # A text that says {name} is the member's own; one that does not is the same for a language.
            language = member.language
            named = slot.named.get(language)
            if named is None:
                named = slot.named[language] = self._names(slot.kind, language)
            words = (language, member.name) if named else language
            body = slot.bodies.get(words)
            if body is None:
                # A late send (first start, or after an outage) goes out now: "today"/"tomorrow" count from now.
                body = slot.bodies[words] = self.body(
                    slot.kind, member, slot.zone, slot.occ, max(slot.send_at, self.now)
                )
            values["body"] = body
            values["twiml_url"] = None
        send = object.__new__(PlannedSend)
        object.__setattr__(send, "__dict__", values)
        return send

    def _held(
        self, member: MemberState, kind: str, send_at: datetime, expires: datetime, expired_reason: str
    ) -> str | None:
        if member.status == "opted_out":
            return "opted out"
        if member.status == "paused":
            return "paused"
        if member.paused_until is not None and member.paused_until > send_at:
            last_day = member.paused_until.astimezone(ZoneInfo(member.zone or self.group.zone)) - timedelta(
                microseconds=1
            )
            return f"paused through {last_day:%Y-%m-%d}"
        if self.now >= expires:
            return expired_reason
        if (  # noqa: SIM102 - the comment below explains the second test
            kind in ("prompt", "nudge")
            and member.last_inbound_at is not None
            and self.plan.live_exchange_minutes
        ):
            # Only a send due now can be in a live exchange; the preview of next week is not.
            if (
                send_at
                <= self.now
                < member.last_inbound_at + timedelta(minutes=self.plan.live_exchange_minutes)
            ):
                return "live exchange"
        return None


def _quiet_reason(kind: str, expired_reason: str) -> str:
    if kind != "reminder":
        return "quiet hours until stale"
    if expired_reason == "meeting started":
        return "quiet hours until the meeting"
    return "quiet hours until the next reminder"


def _span(occ_key: str, group: GroupState) -> tuple[datetime, datetime]:
    override = group.overrides.get(occ_key)
    if override is not None:
        return _around(override, group.zone)
    when = parse_key(occ_key)
    return when, when + timedelta(minutes=1)
