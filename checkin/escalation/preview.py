"""A group's escalation policy in words, for a moment a coordinator picks ("a crisis at 2:00 am
Sunday texts and calls Alex Rivera (on call). After 5 minutes, Bo Chen (backup) ...").

It walks the policy as the engine does (checkin.escalation.service): the same effective policy
(checkin.escalation.effective), the same `step_circles` for who each step reaches at that moment,
the same rules for what happens next (each step sent 1 + repeats times, a timeout apart; a step that
adds nobody is passed over at once; after the last one a final text, then round again until someone
takes it; nobody at all reachable: whoever `reachable` finds). It says plainly when a step reaches
nobody and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import rota
from checkin.escalation import effective
from checkin.escalation.policy import GroupPolicy, Policy
from checkin.escalation.service import step_circles
from checkin.models import Group, StaffUser

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIER_WORDS = {"primary": "on call", "backup": "backup", "coordinator": "coordinator"}
FACILITATOR_WORDS = {"primary": "facilitator", "backup": "backup facilitator"}
STEP_WORDS = {
    "primary": "facilitators on call",
    "backup": "backup facilitators",
    "coordinator": "coordinators",
}


@dataclass(frozen=True)
class Preview:
    level: str
    at: datetime  # in the group's zone
    sentences: tuple[str, ...]
    # The step that would page first, or the whole policy, reaches nobody at that moment (worth a
    # headline); an empty later step is passed over and only said in its sentence.
    reaches_nobody: bool

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def clock(at: datetime) -> str:
    """2:00 am, 12:30 pm: one clock for the console's English."""
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'am' if at.hour < 12 else 'pm'}"


def moment(group: Group, now: datetime, day: int = 6, hour: int = 2, minute: int = 0) -> datetime:
    """The next `day` (0 Monday .. 6 Sunday; today counts) at hour:minute in the group's zone.
    The default: "2 am this Sunday"."""
    zone = ZoneInfo(group.timezone)
    today = now.astimezone(zone).date()
    date = today + timedelta(days=(day - today.weekday()) % 7)
    return datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _minutes(value: float) -> str:
    value = round(value, 2)
    shown = f"{value:g}"
    return f"{shown} minute" if value == 1 else f"{shown} minutes"


def _how(channels: tuple[str, ...]) -> str:
    return _and([{"sms": "texts", "voice": "calls"}[c] for c in channels])


def _why_nobody(session: Session, group: Group, tier: str, at: datetime) -> str:
    """Why a step adds nobody at `at`, in words."""
    if tier == "coordinator":
        return "no coordinator has a phone number"
    mine = [
        p
        for p in rota.places(session, group, at)
        if p.link.tier == tier and p.staff.role != "coordinator" and p.staff.active
    ]
    if not mine:
        return "the group has no facilitator" if tier == "primary" else "the group has no backup facilitator"
    on_call = [p for p in mine if p.on_call]
    if not on_call:  # shifts that do not cover the moment, or an absence
        return f"no {FACILITATOR_WORDS[tier]} is on call at that time"
    one = len(on_call) == 1
    as_ = " as backup" if tier == "backup" else ""
    return (
        f"{_and([p.staff.name for p in on_call])} {'is' if one else 'are'} on call{as_} but "
        f"{'has' if one else 'have'} no phone number"
    )


def _unreachable_on_call(session: Session, group: Group, tier: str, at: datetime) -> list[str]:
    if tier == "coordinator":
        return []
    return [
        p.staff.name
        for p in rota.places(session, group, at)
        if p.link.tier == tier and p.on_call and p.staff.role != "coordinator" and not p.reachable
    ]


def not_accepted(session: Session, people) -> set[int]:
    """The ids of those invited to the console who have not accepted (no password, an invitation unused).
    They are still paged: a page goes to their phone, which needs no console password, and they can take
    the case by text; skipping them could leave a crisis with nobody. But a coordinator counting on
    them should know they have not said yes (the number may not even be theirs)."""
    from checkin.accounts.models import StaffInvitation  # here: accounts reaches the inbound path, and us

    ids = [p.id for p in people if not p.password_hash]
    if not ids:
        return set()
    return set(
        session.scalars(
            select(StaffInvitation.staff_id).where(
                StaffInvitation.staff_id.in_(ids),
                StaffInvitation.kind == "invite",
                StaffInvitation.used_at.is_(None),
            )
        )
    )


def _people(tier: str, people: list[StaffUser], waiting: set[int] = frozenset()) -> str:
    names = [f"{p.name} (has not accepted the invitation yet)" if p.id in waiting else p.name for p in people]
    if tier == "coordinator":
        return f"{'coordinator' if len(names) == 1 else 'coordinators'} {_and(names)}"
    return f"{_and(names)} ({TIER_WORDS[tier]})"


def describe(
    session: Session,
    policy: Policy,
    group: Group,
    level: str,
    at: datetime,
    gp: GroupPolicy | None = None,
) -> Preview:
    """What a `level` case of `group` opened at `at` does, in sentences."""
    gp = gp or effective.group_policy(session, policy, group)
    at = at.astimezone(ZoneInfo(group.timezone))
    when = f"{clock(at)} {DAYS[at.weekday()]}"
    article = "An" if level == "urgent" else "A"
    if level == "watch":
        return Preview(
            level,
            at,
            (
                "A watch message pages nobody: the facilitators on call get one digest a day, "
                f"at {clock(at.replace(hour=gp.digest_hour, minute=0))}.",
            ),
            False,
        )
    lp = gp.for_level(level)
    how = _how(lp.channels)
    step_time = _minutes(lp.timeout_minutes * (lp.repeats + 1))
    again = (
        f" If nobody takes it, each step is sent again every {_minutes(lp.timeout_minutes)}, "
        f"{lp.repeats} more time{'s' if lp.repeats != 1 else ''}, before the next."
        if lp.repeats
        else ""
    )
    sentences: list[str] = []
    circles, fell_back = step_circles(session, group.id, lp, at)
    if fell_back:
        steps = ", ".join(
            f"{STEP_WORDS[t]} ({_why_nobody(session, group, t, at)})" for t in dict.fromkeys(lp.levels)
        )
        sentences.append(f"{article} {level} at {when} reaches nobody through this policy: {steps}.")
        people = circles[0] if circles else []
        if not people:
            sentences.append(
                "Nobody at all can be reached: no staff member has a phone number, so nobody is paged. "
                "Add a phone number on the Staff page."
            )
        else:
            sentences.append(
                f"Instead it {how} whoever can be reached: {_and([p.name for p in people])}."
                f"{again} After {step_time}, if nobody has taken it, they get a last text, the case waits on "
                f"every console page, and {_minutes(lp.timeout_minutes)} later it starts again, until someone takes it."
            )
        sentences.append(_after_ack(gp))
        return Preview(level, at, tuple(sentences), True)

    reached: set[int] = set()
    elapsed = 0.0
    skipped: list[str] = []
    nobody = False
    for index, tier in enumerate(lp.levels):
        t = at + timedelta(minutes=elapsed)
        here = step_circles(session, group.id, lp, t)[0][index]
        new = [p for p in here if p.id not in reached]
        if not new:
            why = _why_nobody(session, group, tier, t)
            if reached:
                sentences.append(f"The {STEP_WORDS[tier]} step reaches nobody ({why}), so it is passed over.")
            else:  # said with the first step that reaches someone: the alert starts later than planned
                nobody = True
                skipped.append(f"the {STEP_WORDS[tier]} step reaches nobody: {why}")
            continue
        missing = _unreachable_on_call(session, group, tier, t)
        note = (
            f" ({_and(missing)} {'is' if len(missing) == 1 else 'are'} on call too but "
            f"{'has' if len(missing) == 1 else 'have'} no phone number.)"
            if missing
            else ""
        )
        if not reached:
            passed = f" ({'; '.join(skipped)}.)" if skipped else ""
            sentences.append(
                f"{article} {level} at {when} {how} {_people(tier, new, not_accepted(session, new))}.{passed}{note}{again}"
            )
        else:
            sentences.append(
                f"After {_minutes(elapsed)}, {_people(tier, new, not_accepted(session, new))}, with everyone before told again.{note}"
            )
        reached |= {p.id for p in here}
        elapsed += lp.timeout_minutes * (lp.repeats + 1)
    sentences.append(
        f"After {_minutes(elapsed)}, if nobody has taken it, everyone paged gets a last text and the case "
        f"waits on every console page; {_minutes(lp.timeout_minutes)} later it starts again from the first "
        "step, until someone takes it."
    )
    sentences.append(_after_ack(gp))
    return Preview(level, at, tuple(sentences), nobody)


def _after_ack(gp: GroupPolicy) -> str:
    return (
        f"Whoever takes it is reminded every {_minutes(gp.realert_after_ack_minutes)} until it is resolved."
    )
