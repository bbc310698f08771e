"""The meeting a caller asks about or is reminded of, read aloud in the group's local time.

Meetings come from `checkin.schedules` (next_meeting / occurrences, per the schedules contract).
Until that part is merged the lookups find nothing and callers hear that no meeting is on the
calendar, which is true of a group without a schedule.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from checkin.models import Group
from checkin.voice import speech
from checkin.voice.config import VoiceConfig

log = logging.getLogger("checkin.voice")


def _schedules():
    try:
        from checkin.schedules import next_meeting, occurrences
    except ImportError:  # the schedules part is not merged in this build
        return None, None
    return next_meeting, occurrences


def next_for(session: Session, group: Group | None, now: datetime):
    next_meeting, _ = _schedules()
    if group is None or next_meeting is None:
        return None
    return next_meeting(session, group.id, now)


def find(session: Session, group: Group | None, occurrence_key: str | None, now: datetime):
    """The occurrence a reminder was planned for (by its key, its original UTC start), else the next one."""
    _, occurrences = _schedules()
    if group is not None and occurrences is not None and occurrence_key:
        try:
            original = datetime.fromisoformat(occurrence_key.replace("Z", "+00:00"))
        except ValueError:
            original = None
        if original is not None and original.tzinfo is not None:
            for occ in occurrences(session, group.id, original - timedelta(days=1), original + timedelta(days=60)):
                if occ.key == occurrence_key:
                    return occ
    return next_for(session, group, now)


def words(cfg: VoiceConfig, meeting, language: str) -> dict[str, str]:
    """{when} and {where} for the meeting prompts: local date and time, then place or dial-in."""
    where = ""
    if getattr(meeting, "location", None):
        where = cfg.text("meeting_place", language, place=meeting.location)
    elif getattr(meeting, "dial_in", None):
        dial_in = meeting.dial_in
        # A phone number is read digit by digit; anything else (a PIN, a link) as written.
        spoken = speech.spoken_number(dial_in) if re.fullmatch(r"[\d\s+().-]{7,}", dial_in) else dial_in
        where = cfg.text("meeting_dial_in", language, dial_in=spoken)
    return {"when": speech.spoken_when(meeting.local_start, language), "where": where}
