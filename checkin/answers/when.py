"""WHEN / CUANDO: the member's next meeting, in their own time zone, and where to go."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import templates
from checkin.models import Group, GroupMember, Member


def reply(session: Session, member: Member, to_number: str | None, now: datetime) -> str:
    # Imported here: checkin.schedules imports the directory, which reaches the inbound path and us.
    from checkin.schedules import next_meeting
    from checkin.schedules.service import group_config

    # The same date and time words as the reminders (config/plan.toml), so WHEN and a reminder agree.
    from checkin.schedules.texts import _date, _time, fitting, places

    groups = session.execute(
        select(Group.id, Group.phone_number)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.member_id == member.id)
        .order_by(Group.id)
    ).all()
    found = [(group, next_meeting(session, group.id, now)) for group in groups]
    found = [(group, occ) for group, occ in found if occ is not None]
    lang = member.language
    if not found:
        return templates.render("when_none", lang)
    # The group whose number they texted, else whichever of their groups meets first.
    texted = [(group, occ) for group, occ in found if to_number and group.phone_number == to_number]
    group, occ = texted[0] if texted else min(found, key=lambda pair: pair[1].starts_at)
    config = group_config(session, group.id)  # the place line in the group's own words, as in its reminders
    fmt = config.format(lang)
    local = occ.starts_at.astimezone(ZoneInfo(member.effective_timezone))
    return fitting(
        lambda place: templates.render(
            "when_moved" if occ.status == "moved" else "when_next",
            lang,
            day=_date(fmt, local),
            time=f"{_time(fmt, local)} {local.tzname()}",
            place=place,
        ),
        places(config, lang, occ.location, occ.dial_in),
    )
