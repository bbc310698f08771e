"""The meeting a caller asks about or is reminded of, read aloud in the group's local time.

Meetings come from `checkin.schedules` (next_meeting / occurrences, per the schedules contract).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from checkin import schedules
from checkin.models import Group
from checkin.schedules.texts import zone_city
from checkin.voice import speech
from checkin.voice.config import VoiceConfig


def next_for(session: Session, group: Group | None, now: datetime):
    return schedules.next_meeting(session, group.id, now) if group is not None else None


def find(session: Session, group: Group | None, occurrence_key: str | None, now: datetime):
    """The occurrence a reminder was planned for (by its key), else the next one."""
    if group is not None and occurrence_key:
        # Reminders and change notices go out before the meeting: look from yesterday on.
        for occ in schedules.occurrences(
            session, group.id, now - timedelta(days=1), now + timedelta(days=90)
        ):
            if occ.key == occurrence_key:
                return occ
    return next_for(session, group, now)


def words(cfg: VoiceConfig, meeting, language: str, timezone: str | None = None) -> dict[str, str]:
    """{when} and {where} for the meeting prompts: the date and time in the meeting's zone, its place
    said when the member's zone (`timezone`) is another, then the place or the dial-in number."""
    where = ""
    if getattr(meeting, "location", None):
        where = cfg.text("meeting_place", language, place=meeting.location)
    elif getattr(meeting, "dial_in", None):
        dial_in = meeting.dial_in
        # A phone number is read digit by digit; anything else (a PIN, a link) as written.
        spoken = speech.spoken_number(dial_in) if re.fullmatch(r"[\d\s+().-]{7,}", dial_in) else dial_in
        where = cfg.text("meeting_dial_in", language, dial_in=spoken)
    here = str(meeting.local_start.tzinfo)
    if not timezone or timezone == here:
        return {"when": speech.spoken_when(meeting.local_start, language), "where": where}
    # Another zone than the meeting's: a clock with its place said, as the texts do (schedules.texts):
    # the room's for a meeting in a room, the member's own for one joined only by phone.
    there = here if getattr(meeting, "location", None) else timezone
    local = meeting.starts_at.astimezone(ZoneInfo(there))
    when = f"{speech.spoken_when(local, language)} {zone_words(language, there)}"
    return {"when": when, "where": where}


def zone_words(language: str, zone: str) -> str:
    """'Chicago time' / 'hora de Chicago'."""
    city = zone_city(zone, language)
    return f"hora de {city}" if language == "es" else f"{city} time"
