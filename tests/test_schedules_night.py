"""Which of a plan's sends land in members' night, as the planner itself plans them (checkin.schedules.night):
reminders, prompts and nudges, each with what happens to it (moved to the window's opening, or dropped)."""

from datetime import time

from checkin.schedules.night import night_sends
from tests.test_schedules_planning import CONFIG, group, utc

NOW = utc(2026, 12, 1, 12)  # a Tuesday; the group meets Tuesdays at 18:00 New York time


def test_a_plan_inside_the_sending_window_has_nothing_in_the_night():
    assert night_sends(group(), NOW, CONFIG) == []


def test_an_early_reminder_is_moved_to_the_windows_opening():
    # 12 hours before 18:00 is 06:00, before the window opens at 08:00: it goes at 08:00 instead.
    (night,) = night_sends(group(reminder_offsets_minutes=(12 * 60, 120)), NOW, CONFIG)
    assert (night.kind, night.offset_minutes, night.meeting) == ("reminder", 720, time(18))
    assert (night.due, night.moved_to, night.dropped) == (time(6), time(8), None)


def test_a_reminder_that_would_wait_past_the_meeting_is_dropped_and_says_why():
    # A 07:00 meeting's 1-hour reminder is due at 06:00; by 08:00 the meeting has started.
    (night,) = night_sends(
        group(start=time(7), reminder_offsets_minutes=(60,), prompt_days_after=0), NOW, CONFIG
    )
    assert (night.due, night.moved_to) == (time(6), None)
    assert night.dropped == "quiet hours until the meeting"


def test_a_late_prompt_and_its_nudge_are_reported_in_the_groups_time():
    nights = night_sends(
        group(prompt_time=time(7), nudge_after_hours=14, reminder_offsets_minutes=()), NOW, CONFIG
    )
    kinds = {n.kind: n for n in nights}
    assert (kinds["prompt"].due, kinds["prompt"].moved_to) == (time(7), time(8))
    # prompted at 08:00, nudged 14 hours later: 22:00, after the window closes at 21:00; next morning 08:00
    assert kinds["nudge"].due == time(22)
    assert kinds["nudge"].moved_to == time(8)  # within the 12-hour limit for a held prompt


def test_every_week_of_one_schedule_is_one_line():
    nights = night_sends(group(reminder_offsets_minutes=(12 * 60,)), NOW, CONFIG)
    assert len(nights) == 1  # four Tuesdays, one sentence
