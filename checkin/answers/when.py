"""WHEN / CUANDO: the member's next meeting, in their own time zone, and where to go."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import templates
from checkin.models import Group, GroupMember, Member

# Written out rather than taken from the C locale, which is English only. Spanish without accents
# (mie, sab) keeps the reply in GSM-7.
DAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "es": ("lun", "mar", "mie", "jue", "vie", "sab", "dom")}
MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}
PLACE = {"en": (" at {location}", ", dial in {dial_in}"), "es": (" en {location}", ", llama al {dial_in}")}


def local_day_time(when: datetime, zone: str, language: str) -> tuple[str, str]:
    """("Tue Dec 8", "6:00 PM EST") / ("mar 8 dic", "18:00 EST") in the member's zone."""
    local = when.astimezone(ZoneInfo(zone))
    lang = language if language in DAYS else "en"
    day_name, month = DAYS[lang][local.weekday()], MONTHS[lang][local.month - 1]
    if lang == "en":
        hour = local.hour % 12 or 12
        return f"{day_name} {month} {local.day}", f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {local.tzname()}"
    return f"{day_name} {local.day} {month}", f"{local.hour}:{local.minute:02d} {local.tzname()}"


def reply(session: Session, member: Member, to_number: str | None, now: datetime) -> str:
    from checkin.schedules import next_meeting

    groups = session.execute(
        select(Group.id, Group.phone_number).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.member_id == member.id).order_by(Group.id)
    ).all()
    found = [(group, next_meeting(session, group.id, now)) for group in groups]
    found = [(group, occ) for group, occ in found if occ is not None]
    lang = member.language
    if not found:
        return templates.render("when_none", lang)
    # The group whose number they texted, else whichever of their groups meets first.
    texted = [occ for group, occ in found if to_number and group.phone_number == to_number]
    occ = texted[0] if texted else min((occ for _, occ in found), key=lambda o: o.starts_at)
    day, time = local_day_time(occ.starts_at, member.effective_timezone, lang)
    at_place, dial = PLACE.get(lang, PLACE["en"])
    place = at_place.format(location=occ.location) if occ.location else dial.format(dial_in=occ.dial_in) if occ.dial_in else ""
    return templates.render("when_moved" if occ.status == "moved" else "when_next", lang, day=day, time=time, place=place)
