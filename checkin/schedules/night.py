"""Which sends of a group's plan fall in members' night, and what the planner does with each.

The planner itself answers: a member in the group's zone is planned for the next weeks (plan_sends, as
the tick and the preview call it), and every reminder, check-in prompt and nudge whose time is outside
the sending window is reported with what happens to it: moved to the window's opening, or dropped
because by then the meeting has started, the next reminder is near, or the prompt is stale. A
coordinator sees this on the plan page before any member is affected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from checkin.schedules.plan import PlanConfig
from checkin.schedules.planning import GroupState, MemberState, OpenPrompt, plan_sends

WEEKS = 4  # enough for every weekday of a weekly schedule and one of a monthly one to come up
_PROBE = MemberState(id=0, name="Alex", phone="", language="en", zone=None, channel="sms", status="active")


@dataclass(frozen=True)
class NightSend:
    """One kind of send that lands in the night, in the group's wall-clock time."""

    kind: str  # reminder | prompt | nudge
    offset_minutes: int | None  # a reminder's offset before the meeting
    meeting: time | None  # a reminder's meeting start
    due: time  # when it would go, before quiet hours
    moved_to: time | None  # when it goes instead; None when it is dropped
    dropped: str | None  # the planner's reason, when it is dropped ("quiet hours until the meeting")


def night_sends(group: GroupState, now: datetime, config: PlanConfig) -> list[NightSend]:
    """Every distinct send of the group's plan, over the next WEEKS, that falls in the group's night."""
    if group.schedule is None:
        return []
    probe = replace(group, members=(_PROBE,), planned_since=None)  # no catch-up: the plan as it runs
    end = now + timedelta(weeks=WEEKS)
    sends = plan_sends([probe], now, end, now=now, config=config)
    if group.plan.nudge_after_hours:
        # A nudge follows a prompt still unanswered: as if every prompt went unanswered.
        prompts = [
            OpenPrompt(_PROBE.id, group.id, s.key, s.send_at_utc)
            for s in sends
            if s.kind == "prompt" and s.held_reason is None
        ]
        later = plan_sends(
            [probe], now, end + timedelta(days=3), now=now, config=config, open_prompts=prompts
        )
        sends += [s for s in later if s.kind == "nudge"]
    found: dict[tuple, NightSend] = {}
    for send in sorted(sends, key=lambda s: s.send_at_utc):
        held = send.held_reason or ""
        if send.kind not in ("reminder", "prompt", "nudge"):
            continue
        if send.delayed_from is None and not held.startswith("quiet hours"):
            continue
        moved = send.delayed_from is not None and not held
        due = send.delayed_from if moved else send.local_time
        offset = meeting = None
        if send.kind == "reminder":
            offset = int(send.key.split(":")[3])  # "reminder:{member}:{occurrence}:{minutes}[:v{n}]"
            meeting = (due + timedelta(minutes=offset)).time()
        night = NightSend(
            send.kind,
            offset,
            meeting,
            due.time(),
            send.local_time.time() if moved else None,
            None if moved else held,
        )
        found.setdefault((night.kind, night.offset_minutes, night.meeting, night.due), night)
    order = {"reminder": 0, "prompt": 1, "nudge": 2}
    return sorted(found.values(), key=lambda n: (order[n.kind], -(n.offset_minutes or 0), n.due))
