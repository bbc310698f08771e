"""The planner on its own: meetings in wall-clock time across DST, members in other zones, quiet
hours at both edges, pauses, opt-outs, live exchanges, staleness, and the texts they get."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from checkin.schedules.plan import PlanError, load_config, parse_config, parse_plan
from checkin.schedules.planning import GroupState, MemberState, OpenPrompt, due_sends, plan_sends
from checkin.schedules.recurrence import OverrideSpec, ScheduleSpec, expand, validate_rrule

UTC = UTC
CONFIG = load_config()


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def group(
    zone="America/New_York",
    rrule="FREQ=WEEKLY;BYDAY=TU",
    start=time(18, 0),
    members=None,
    overrides=None,
    location="12 Main St",
    **plan,
):
    spec = ScheduleSpec(1, zone, rrule, date(2026, 1, 1), start, 90, location, None)
    return GroupState(
        1,
        "Tuesday Evening Group",
        zone,
        "+15005550006",
        spec,
        overrides or {},
        replace(CONFIG.defaults, **plan),
        tuple(members or [person()]),
    )


def person(
    id=7, zone=None, language="en", channel="sms", status="active", paused_until=None, last_inbound_at=None
):
    return MemberState(
        id, "Sam", f"+1202555{id:04d}", language, zone, channel, status, paused_until, last_inbound_at
    )


def plan(g, start, end, now=None, prompts=()):
    return plan_sends(
        [g],
        start,
        end,
        now=now or start,
        config=CONFIG,
        open_prompts=list(prompts),
        base_url="https://checkin.example.org",
    )


def local(send, fmt="%a %Y-%m-%d %H:%M %Z"):
    return send.local_time.strftime(fmt)


# --- meetings in wall-clock time ----------------------------------------------------------


@pytest.mark.parametrize(
    "zone, before, after, local_times",
    [
        # New York springs forward on Sun 8 March 2026 and falls back on Sun 1 November.
        ("America/New_York", date(2026, 3, 3), date(2026, 3, 10), ("2026-03-03 23:00", "2026-03-10 22:00")),
        ("America/New_York", date(2026, 10, 27), date(2026, 11, 3), ("2026-10-27 22:00", "2026-11-03 23:00")),
        # London: BST from Sun 29 March, GMT again from Sun 25 October.
        ("Europe/London", date(2026, 3, 24), date(2026, 3, 31), ("2026-03-24 18:00", "2026-03-31 17:00")),
        ("Europe/London", date(2026, 10, 20), date(2026, 10, 27), ("2026-10-20 17:00", "2026-10-27 18:00")),
        # Kolkata has no DST: the same UTC instant all year.
        ("Asia/Kolkata", date(2026, 3, 3), date(2026, 11, 3), ("2026-03-03 12:30", "2026-11-03 12:30")),
    ],
)
def test_meetings_stay_at_local_time_across_dst(zone, before, after, local_times):
    g = group(zone=zone)
    found = {}
    for day in (before, after):
        start = datetime.combine(day, time(0), UTC)
        [occ] = expand(g.schedule, {}, start, start + timedelta(days=1))
        found[day] = occ
        assert occ.local_start.strftime("%H:%M") == "18:00" and occ.local_start.date() == day
    assert tuple(found[d].starts_at.strftime("%Y-%m-%d %H:%M") for d in (before, after)) == local_times


def test_a_meeting_time_the_clocks_skip_or_repeat_happens_once():
    # 02:30 does not exist in New York on 8 March 2026 and 01:30 happens twice on 1 November.
    spring = ScheduleSpec(1, "America/New_York", "FREQ=DAILY", date(2026, 3, 7), time(2, 30), 60)
    occs = expand(spring, {}, utc(2026, 3, 7), utc(2026, 3, 10))
    assert [o.local_start.strftime("%d %H:%M %Z") for o in occs] == [
        "07 02:30 EST",
        "08 03:30 EDT",
        "09 02:30 EDT",
    ]
    autumn = ScheduleSpec(1, "America/New_York", "FREQ=DAILY", date(2026, 10, 31), time(1, 30), 60)
    occs = expand(autumn, {}, utc(2026, 10, 31), utc(2026, 11, 3))
    assert [o.local_start.strftime("%d %H:%M %Z") for o in occs] == [
        "31 01:30 EDT",
        "01 01:30 EDT",
        "02 01:30 EST",
    ]


def test_a_reminder_the_day_before_a_dst_change_is_at_the_same_local_hour():
    # Sunday 8 March 2026 is spring-forward day in New York: 24 h before Sunday 18:00 is Saturday 18:00 local.
    g = group(rrule="FREQ=WEEKLY;BYDAY=SU")
    sends = [s for s in plan(g, utc(2026, 3, 7), utc(2026, 3, 9)) if s.kind == "reminder"]
    assert [local(s) for s in sends] == ["Sat 2026-03-07 18:00 EST", "Sun 2026-03-08 16:00 EDT"]
    assert sends[0].body == (
        "Reminder: Tuesday Evening Group meets tomorrow, Sun, Mar 8 at 6:00 pm, at 12 Main St. "
        "Reply 1 if you're coming, 2 if not. Reply STOP to stop."
    )


@pytest.mark.parametrize(
    "zone, start, offset, expected",
    [
        # New York skips 02:00-03:00 on Sun 8 March 2026: 02:30 and 02:00 do not exist.
        ("America/New_York", time(3, 30), 60, "Sun 2026-03-08 01:30 EST"),
        ("America/New_York", time(3, 0), 60, "Sun 2026-03-08 01:00 EST"),
        ("America/New_York", time(3, 0), 30, "Sun 2026-03-08 01:30 EST"),
        # Lord Howe skips half an hour, 02:00-02:30, on Sun 4 October 2026.
        ("Australia/Lord_Howe", time(2, 45), 30, "Sun 2026-10-04 01:45 +1030"),
    ],
)
def test_a_reminder_whose_wall_time_is_skipped_by_spring_forward_goes_the_offset_before_in_utc(
    zone, start, offset, expected
):
    # Counting back on the wall clock lands in the gap, which would fold onto the meeting's own start, and
    # the reminder would never go: it goes the offset before the meeting in absolute time instead.
    g = group(
        zone=zone,
        rrule="FREQ=WEEKLY;BYDAY=SU",
        start=start,
        reminder_offsets_minutes=(offset,),
        quiet_start=time(0, 0),
        quiet_end=time(23, 59),
    )
    day = utc(2026, 3, 7) if zone == "America/New_York" else utc(2026, 10, 3)
    sends = [s for s in plan(g, day, day + timedelta(days=2)) if s.kind == "reminder"]
    assert [(local(s), s.held_reason) for s in sends] == [(expected, None)]
    meeting = sends[0].send_at_utc + timedelta(minutes=offset)
    assert meeting.astimezone(ZoneInfo(zone)).time() == start
    # The tick at that moment writes it (not held as "meeting started").
    due = due_sends([g], sends[0].send_at_utc, config=CONFIG)
    assert [(s.key, s.held_reason) for s in due if s.kind == "reminder"] == [(sends[0].key, None)]


def test_november_fall_back_prompt_and_reminders_in_local_time():
    g = group()
    sends = plan(g, utc(2026, 10, 30), utc(2026, 11, 6))
    assert [(s.kind, local(s)) for s in sends] == [
        ("reminder", "Mon 2026-11-02 18:00 EST"),
        ("reminder", "Tue 2026-11-03 16:00 EST"),
        ("prompt", "Thu 2026-11-05 10:00 EST"),
    ]


def test_monthly_second_tuesday():
    g = group(rrule="FREQ=MONTHLY;BYDAY=+2TU")
    occs = expand(g.schedule, {}, utc(2026, 1, 1), utc(2026, 7, 1))
    assert [o.local_start.date().isoformat() for o in occs] == [
        "2026-01-13",
        "2026-02-10",
        "2026-03-10",
        "2026-04-14",
        "2026-05-12",
        "2026-06-09",
    ]


def test_every_other_week_counts_from_the_first_day():
    spec = ScheduleSpec(
        1, "America/New_York", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", date(2026, 12, 1), time(18), 90
    )
    occs = expand(spec, {}, utc(2026, 12, 1), utc(2027, 1, 1))
    assert [o.local_start.day for o in occs] == [1, 15, 29]


@pytest.mark.parametrize(
    "rule, words",
    [
        ("FREQ=HOURLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR is not allowed"),
        ("weekly on tuesdays", "not a valid RRULE"),
        ("FREQ=WEEKLY;UNTIL=20200101T000000Z", "produces no meeting"),
        ("", "empty"),
    ],
)
def test_bad_rules_are_refused_saying_why(rule, words):
    with pytest.raises(ValueError, match=words):
        validate_rrule(rule, date(2026, 1, 1), time(18))


# --- members in other zones, languages, channels ------------------------------------------


def test_member_in_another_zone_is_sent_at_their_time_and_reads_the_meetings_clock_named():
    g = group(members=[person(zone="America/Los_Angeles")])
    sends = plan(g, utc(2026, 12, 6), utc(2026, 12, 11))
    assert [(s.kind, local(s)) for s in sends] == [
        ("reminder", "Mon 2026-12-07 15:00 PST"),
        ("reminder", "Tue 2026-12-08 13:00 PST"),
        ("prompt", "Thu 2026-12-10 10:00 PST"),  # 10:00 where the member is, not where the group is
    ]
    # The meeting is in a room in New York: its clock, named, not an unnamed 3:00 pm.
    assert "Tue, Dec 8 at 6:00 pm New York time, at 12 Main St." in sends[0].body


def test_a_chicago_meeting_reads_6_30_chicago_time_to_members_elsewhere_in_both_languages():
    from checkin.templates import segments

    members = [
        person(1, zone="America/New_York"),
        person(2, zone="America/New_York", language="es"),
        person(3),  # the group's own zone: the time alone, as before
    ]
    g = group(zone="America/Chicago", start=time(18, 30), members=members)
    reminders = [s for s in plan(g, utc(2026, 12, 6), utc(2026, 12, 9)) if s.kind == "reminder"]
    day_before = {s.member_id: s.body for s in reversed(reminders)}  # each member's first
    assert "Tue, Dec 8 at 6:30 pm Chicago time, at 12 Main St." in day_before[1]
    assert "7:30" not in day_before[1]  # never the member's clock unnamed
    assert day_before[2].startswith(
        "Tuesday Evening Group: mañana, 8 de diciembre, 6:30 p. m. hora de Chicago, en"
    )
    assert "Tue, Dec 8 at 6:30 pm, at 12 Main St." in day_before[3] and "time," not in day_before[3]
    assert all(segments(body)[2] <= 2 for body in day_before.values())


def test_a_meeting_joined_only_by_phone_reads_the_members_own_clock_named():
    g = group(
        zone="America/Chicago", start=time(18, 30), location=None, members=[person(zone="America/New_York")]
    )
    g = replace(g, schedule=replace(g.schedule, dial_in="+1 312 555 0100"))
    [first, *_] = [s for s in plan(g, utc(2026, 12, 6), utc(2026, 12, 9)) if s.kind == "reminder"]
    assert "Tue, Dec 8 at 7:30 pm New York time" in first.body


def test_member_far_east_is_not_reminded_in_their_night():
    # 18:00 in New York is 23:00 in London: the 2 h reminder (21:00 London) would fall in quiet hours
    # until after the meeting started, so it is held; the day-before one waits for 08:00.
    g = group(members=[person(zone="Europe/London")])
    sends = plan(g, utc(2026, 12, 6), utc(2026, 12, 9))
    [day_before, two_hours] = [s for s in sends if s.kind == "reminder"]
    assert local(day_before) == "Tue 2026-12-08 08:00 GMT" and day_before.held_reason is None
    assert day_before.delayed_from.strftime("%a %H:%M") == "Mon 23:00"
    assert day_before.body.startswith(
        "Reminder: Tuesday Evening Group meets today, Tue, Dec 8 at 6:00 pm New York time"
    )
    assert two_hours.held_reason == "quiet hours until the meeting"


def test_spanish_member_gets_spanish_texts_with_full_dates_and_a_12_hour_clock():
    g = group(members=[person(language="es")])
    sends = plan(g, utc(2026, 12, 7, 12), utc(2026, 12, 11))
    assert sends[0].body == (
        "Tuesday Evening Group: mañana, 8 de diciembre, 6:00 p. m., en 12 Main St. 1 voy, 2 no voy. BAJA: parar"
    )
    assert sends[-1].kind == "prompt" and sends[-1].body.startswith(
        "¿Qué tal tu semana? Responde del 1 al 5 (1 = muy mal, 5 = muy bien)"
    )


def test_english_prompt_is_the_issue_text():
    g = group()
    [prompt] = [s for s in plan(g, utc(2026, 12, 9), utc(2026, 12, 11)) if s.kind == "prompt"]
    assert (
        prompt.body
        == "How are you doing this week? Reply 1 to 5 (1 = very bad, 5 = very good). Add words if you like. Reply STOP to stop."
    )
    assert prompt.key == "prompt:7:20261208T2300Z"


def test_voice_member_gets_a_call_not_a_text():
    g = group(members=[person(channel="voice")])
    [reminder] = [s for s in plan(g, utc(2026, 12, 7, 12), utc(2026, 12, 8)) if s.kind == "reminder"]
    assert reminder.channel == "voice" and reminder.body is None
    assert reminder.twiml_url == (
        "https://checkin.example.org/twilio/voice/outbound?kind=reminder&member=7&occurrence=20261208T2300Z"
    )


def test_reminder_keys_name_member_occurrence_and_offset():
    sends = plan(group(), utc(2026, 12, 7), utc(2026, 12, 9))
    assert [s.key for s in sends] == ["reminder:7:20261208T2300Z:1440", "reminder:7:20261208T2300Z:120"]


# --- quiet hours at both edges ------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt_time, expected",
    [
        (time(7, 59), "Thu 08:00"),  # a minute early: waits for the window to open
        (time(8, 0), "Thu 08:00"),  # the first allowed minute
        (time(20, 59), "Thu 20:59"),  # the last allowed minute
        (time(21, 0), "Fri 08:00"),  # the window has closed: next morning
    ],
)
def test_quiet_hours_edges(prompt_time, expected):
    g = group(prompt_time=prompt_time, prompt_stale_hours=12, reminder_offsets_minutes=())
    [prompt] = plan(g, utc(2026, 12, 9), utc(2026, 12, 13))
    assert local(prompt, "%a %H:%M") == expected and prompt.held_reason is None


def test_group_with_a_stricter_window():
    g = group(
        quiet_start=time(9, 0), quiet_end=time(20, 0), reminder_offsets_minutes=(), prompt_time=time(8, 30)
    )
    [prompt] = plan(g, utc(2026, 12, 9), utc(2026, 12, 13))
    assert local(prompt, "%a %H:%M") == "Thu 09:00"


def test_prompt_held_past_staleness_is_dropped():
    # Prompt at 21:30 is held to 08:00, 10.5 h later: over a 6 h staleness limit, so it is not sent late.
    g = group(prompt_time=time(21, 30), prompt_stale_hours=6, reminder_offsets_minutes=())
    [prompt] = plan(g, utc(2026, 12, 9), utc(2026, 12, 13))
    assert prompt.held_reason == "quiet hours until stale"


def test_a_tick_after_an_outage_sends_no_stale_prompt_and_no_started_meeting_reminder():
    g = group()
    # The tick ran last on Monday; it is now Thursday 23:00 local (prompt was due 10:00, 13 h ago).
    now = utc(2026, 12, 11, 4)
    sends = plan(g, now - timedelta(days=4), now + timedelta(seconds=1), now=now)
    assert {(s.kind, s.held_reason) for s in sends} == {
        ("reminder", "superseded by the next reminder"),
        ("reminder", "meeting started"),
        ("prompt", "stale"),
    }


def test_a_day_before_reminder_sent_late_on_the_meeting_day_says_today_not_tomorrow():
    # `make run` on a meeting day (or a tick after an outage) still sends the day-before reminder, which
    # stays good until the next one is due; its text must read from the day it goes out.
    g = group()
    now = utc(
        2026, 12, 8, 17
    )  # Tue 8 Dec 12:00 in New York; the meeting is at 18:00, the reminder was due Monday
    [late] = [
        s
        for s in plan(g, now - timedelta(days=1), now + timedelta(seconds=1), now=now)
        if s.kind == "reminder"
    ]
    assert late.held_reason is None and late.key.endswith(":1440")
    assert late.body.startswith("Reminder: Tuesday Evening Group meets today, Tue, Dec 8 at 6:00 pm")
    # Planned ahead of time, the same reminder still says tomorrow.
    [on_time] = [
        s
        for s in plan(g, utc(2026, 12, 7, 12), utc(2026, 12, 8), now=utc(2026, 12, 7, 12))
        if s.key.endswith(":1440")
    ]
    assert on_time.body.startswith("Reminder: Tuesday Evening Group meets tomorrow, Tue, Dec 8")


# --- meetings planned inside a reminder window --------------------------------------------

# A coordinator in New York sets, at 17:38 on Sunday 6 December 2026, a weekly meeting on Sundays at
# 19:42, starting that very evening: the 24 h reminder's time has passed, the 2 h one is 4 minutes away.
SET_AT = utc(2026, 12, 6, 22, 38)  # 17:38 EST
TONIGHT = "20261207T0042Z"  # 19:42 EST


def sunday_group(planned_since=SET_AT, **plan_keys):
    g = group(
        rrule="FREQ=WEEKLY;BYDAY=SU",
        start=time(19, 42),
        members=[person(7), person(8, zone="Asia/Kolkata")],
        **plan_keys,
    )
    return replace(g, planned_since=planned_since)


def ticks(g, first, last, step=timedelta(minutes=1)):
    """What a tick every `step` from `first` to `last` writes (each key once, as the outbox's unique key
    does): {key: when}, and every held reason a tick gave, with when."""
    written, held, now = {}, [], first
    while now <= last:
        for send in due_sends([g], now, config=CONFIG):
            if send.held_reason is None:
                written.setdefault(send.key, now)
            elif send.occurrence_key == TONIGHT:
                held.append((now, send.key, send.held_reason))
        now += step
    return written, held


def test_a_meeting_set_inside_the_day_before_window_gets_one_reminder_as_the_preview_shows():
    g = sunday_group()
    written, held = ticks(g, SET_AT + timedelta(minutes=1), utc(2026, 12, 7, 0, 45))
    # One reminder, the 2 h one at 17:42; no catch-up 4 minutes before it (the tester saw both).
    assert {k: v for k, v in written.items() if TONIGHT in k} == {
        f"reminder:7:{TONIGHT}:120": utc(2026, 12, 6, 22, 42)
    }
    # The preview, seen just after the edit, shows exactly that.
    shown = plan(g, SET_AT + timedelta(seconds=30), utc(2026, 12, 8), now=SET_AT + timedelta(seconds=30))
    assert [(s.key, s.send_at_utc) for s in shown if s.held_reason is None and s.kind == "reminder"] == [
        (f"reminder:7:{TONIGHT}:120", utc(2026, 12, 6, 22, 42))
    ]
    # Kolkata (04:12 there at 17:42 New York; the meeting is at 06:12): held by the member's night, saying
    # so, and never "meeting started" before the meeting has.
    [olu] = [s for s in shown if s.member_id == 8 and s.kind == "reminder"]
    assert olu.held_reason == "quiet hours until the meeting"
    assert {r for _, k, r in held if k == f"reminder:8:{TONIGHT}:120"} == {"quiet hours until the meeting"}
    assert all(when >= utc(2026, 12, 7, 0, 42) for when, _, r in held if r == "meeting started")


def test_a_meeting_set_hours_ahead_gets_one_catch_up_then_the_reminders_still_ahead():
    # Set at 10:00 instead, with a plan that also reminds two days before: both earlier times have
    # passed; only the closer one is caught up, at once; the 2 h reminder goes at its time.
    ten = utc(2026, 12, 6, 15, 0)
    g = sunday_group(planned_since=ten, reminder_offsets_minutes=(2880, 1440, 120))
    written, _ = ticks(g, ten, utc(2026, 12, 7, 0, 45), step=timedelta(minutes=7))
    assert {k: v for k, v in written.items() if k.startswith("reminder:7:")} == {
        f"reminder:7:{TONIGHT}:1440": ten,
        f"reminder:7:{TONIGHT}:120": utc(2026, 12, 6, 22, 42),
    }
    # Caught up when the meeting was set, worded for that day. In Kolkata it is 20:30, still their day:
    # the catch-up is their only reminder, the 2 h one falling in their night until the meeting.
    [catch_up] = [s for s in due_sends([g], ten, config=CONFIG) if s.key == f"reminder:7:{TONIGHT}:1440"]
    assert catch_up.body.startswith("Reminder: Tuesday Evening Group meets today, Sun, Dec 6 at 7:42 pm")
    assert {k: v for k, v in written.items() if k.startswith("reminder:8:")} == {
        f"reminder:8:{TONIGHT}:1440": ten
    }


def test_a_meeting_set_an_hour_ahead_gets_one_catch_up_at_once():
    g = sunday_group(planned_since=utc(2026, 12, 6, 23, 40))  # 18:40, the 2 h reminder's time has passed
    written, _ = ticks(g, utc(2026, 12, 6, 23, 40), utc(2026, 12, 7, 0, 45))
    assert {k: v for k, v in written.items() if k.startswith("reminder:7:")} == {
        f"reminder:7:{TONIGHT}:120": utc(2026, 12, 6, 23, 40)
    }


def test_a_meeting_moved_inside_the_day_before_window_gets_no_reminder_an_hour_before_the_next():
    # Tuesday 8 December's 18:00 meeting is moved at 12:00 that day to 15:00: the 24 h reminder of the new
    # time (Monday 15:00) has passed, the 2 h one is at 13:00. The day-before one is not sent at 12:00.
    moved_at = utc(2026, 12, 8, 17, 0)
    key = "20261208T2300Z"
    move = OverrideSpec(key, "moved", datetime(2026, 12, 8, 15, 0), 1, moved_at)
    g = group(overrides={key: move})
    written, _ = ticks(g, moved_at, utc(2026, 12, 8, 20, 0), step=timedelta(minutes=5))
    assert sorted(written.items()) == [
        (f"change:7:{key}:1", moved_at),
        (f"reminder:7:{key}:120:v1", utc(2026, 12, 8, 18, 0)),
    ]


def test_a_reminder_late_after_an_outage_gives_way_when_the_next_one_is_near():
    # No tick ran from Saturday 12:00 until 17:39 Sunday: the 24 h reminder is not sent 3 minutes before
    # the 2 h one; had the tick come back at 15:00, it would have been (2 h 42 min before).
    g = sunday_group(planned_since=utc(2026, 11, 1))
    late = due_sends([g], utc(2026, 12, 6, 22, 39), config=CONFIG)
    [day_before] = [s for s in late if s.key == f"reminder:7:{TONIGHT}:1440"]
    assert day_before.held_reason == "superseded by the next reminder"
    earlier = due_sends([g], utc(2026, 12, 6, 20, 0), config=CONFIG)
    assert [s.held_reason for s in earlier if s.key == f"reminder:7:{TONIGHT}:1440"] == [None]


def test_an_edit_stamped_after_the_planners_clock_changes_nothing():
    # A clock we cannot compare with (an edit stamped later than `now`) is not read as "set after its time".
    g = sunday_group(planned_since=utc(2026, 12, 7))
    late = due_sends([g], utc(2026, 12, 6, 1, 0), config=CONFIG)
    assert [s.held_reason for s in late if s.key == f"reminder:7:{TONIGHT}:1440"] == [None]


# --- pauses, opt-outs, live exchanges -----------------------------------------------------


def test_paused_and_opted_out_members_are_held_with_reasons():
    members = [
        person(1),
        person(2, status="opted_out"),
        person(3, status="paused"),
        person(4, paused_until=utc(2026, 12, 8, 12)),
    ]
    sends = plan(group(members=members), utc(2026, 12, 7), utc(2026, 12, 9))
    reasons = {(s.member_id, s.key.split(":")[-1]): s.held_reason for s in sends}
    assert reasons == {
        (1, "1440"): None,
        (1, "120"): None,
        (2, "1440"): "opted out",
        (2, "120"): "opted out",
        (3, "1440"): "paused",
        (3, "120"): "paused",
        (4, "1440"): "paused through 2026-12-08",
        (4, "120"): None,  # the pause ended by then
    }


def test_live_exchange_holds_a_prompt_but_not_a_reminder():
    due = utc(2026, 12, 10, 15)  # Thursday 10:00 New York
    texting = person(last_inbound_at=due - timedelta(minutes=3))
    g = group(members=[texting], reminder_offsets_minutes=(1440, 120, 3 * 1440 - 16 * 60))
    [prompt] = [
        s
        for s in plan(g, due - timedelta(hours=1), due + timedelta(minutes=1), now=due)
        if s.kind == "prompt"
    ]
    assert prompt.held_reason == "live exchange"
    later = due + timedelta(minutes=8)
    [prompt] = [s for s in plan(g, due - timedelta(hours=1), later, now=later) if s.kind == "prompt"]
    assert prompt.held_reason is None


def test_nudge_once_after_the_delay_for_an_open_prompt():
    g = group(reminder_offsets_minutes=())
    prompted = utc(2026, 12, 10, 15)
    open_prompt = OpenPrompt(7, 1, "prompt:7:20261208T2300Z", prompted)
    window = (prompted + timedelta(hours=23), prompted + timedelta(hours=25))
    [nudge] = [s for s in plan(g, *window, now=window[1], prompts=[open_prompt]) if s.kind == "nudge"]
    assert nudge.key == "nudge:7:20261208T2300Z" and nudge.send_at_utc == prompted + timedelta(hours=24)
    assert nudge.body.startswith("Just checking in.")
    already = replace(open_prompt, nudged_at=prompted + timedelta(hours=24))
    assert [s for s in plan(g, *window, now=window[1], prompts=[already]) if s.kind == "nudge"] == []


# --- cancelled and moved occurrences ------------------------------------------------------


def test_cancelled_meeting_gets_a_notice_and_no_reminders_or_prompt():
    updated = utc(2026, 12, 2, 15)
    cancelled = {"20261208T2300Z": OverrideSpec("20261208T2300Z", "cancelled", None, 1, updated)}
    sends = plan(group(overrides=cancelled), updated, utc(2026, 12, 12))
    sends = [s for s in sends if "20261201" not in s.key]  # last week's check-in prompt
    assert [(s.kind, s.key) for s in sends] == [("change", "change:7:20261208T2300Z:1")]
    assert (
        sends[0].body
        == "Tuesday Evening Group: Tuesday's meeting (Tue, Dec 8 at 6:00 pm) is canceled. Reply STOP to stop."
    )


def test_moved_meeting_gets_a_notice_and_reminders_for_the_new_time():
    updated = utc(2026, 12, 4, 15)
    moved = {
        "20261208T2300Z": OverrideSpec("20261208T2300Z", "moved", datetime(2026, 12, 9, 18, 0), 2, updated)
    }
    sends = plan(group(overrides=moved), updated, utc(2026, 12, 12))
    assert [(s.kind, s.key, local(s, "%a %H:%M")) for s in sends] == [
        ("change", "change:7:20261208T2300Z:2", "Fri 10:00"),
        ("reminder", "reminder:7:20261208T2300Z:1440:v2", "Tue 18:00"),
        ("reminder", "reminder:7:20261208T2300Z:120:v2", "Wed 16:00"),
        ("prompt", "prompt:7:20261208T2300Z", "Fri 10:00"),  # two days after the meeting's new day
    ]
    assert (
        sends[0].body
        == "Tuesday Evening Group: Tuesday's meeting is moved to Wed, Dec 9 at 6:00 pm, at 12 Main St. Reply STOP to stop."
    )


def test_change_notice_waits_until_the_meeting_is_near():
    updated = utc(2026, 12, 1, 15)
    far = {"20270216T2300Z": OverrideSpec("20270216T2300Z", "cancelled", None, 1, updated)}
    g = group(overrides=far, reminder_offsets_minutes=(), prompt_days_after=0)
    [notice] = plan(g, updated, utc(2027, 3, 1))
    assert local(notice, "%Y-%m-%d %H:%M") == "2027-02-02 18:00"  # 14 days before


# --- the plan file ------------------------------------------------------------------------


def test_plan_defaults_are_the_issues():
    d = CONFIG.defaults
    assert (
        d.reminder_offsets_minutes == (1440, 120) and d.prompt_days_after == 2 and d.prompt_time == time(10)
    )
    assert d.nudge_after_hours == 24 and (d.quiet_start, d.quiet_end) == (time(8), time(21))


@pytest.mark.parametrize(
    "change, named",
    [
        (("defaults", "prompt_time", "25:00"), "defaults.prompt_time: must be a time of day"),
        (
            ("defaults", "reminder_offsets_minutes", [1440, -5]),
            "defaults.reminder_offsets_minutes: must be a whole number",
        ),
        (("defaults", "quiet_end", "07:00"), "defaults.quiet_end: must be later than quiet_start"),
        (("defaults", "nudge_after", 24), "defaults.nudge_after: unknown key"),
        (("templates", "reminder", "Meet {place}"), "templates.en.reminder: unknown placeholder {place}"),
    ],
)
def test_a_bad_plan_file_names_the_key(change, named):
    import tomllib

    from config import CONFIG_DIR

    raw = tomllib.loads((CONFIG_DIR / "plan.toml").read_text())
    table, key, value = change
    (raw["templates"]["en"] if table == "templates" else raw[table])[key] = value
    with pytest.raises(PlanError, match=named.replace("{", r"\{").replace("}", r"\}")):
        parse_config(raw)


def test_group_override_is_validated_naming_the_key():
    with pytest.raises(PlanError, match="prompt_days_after: must be a whole number from 0 to 6"):
        parse_plan({"prompt_days_after": 9}, base=CONFIG.defaults)


def test_the_cron_process_refuses_a_bad_plan_file_naming_file_and_key(tmp_path):
    from config import CONFIG_DIR

    bad = tmp_path / "plan.toml"
    bad.write_text(
        (CONFIG_DIR / "plan.toml").read_text().replace('prompt_time = "10:00"', 'prompt_time = "ten"')
    )
    with pytest.raises(PlanError, match=r"^plan.toml: defaults.prompt_time: must be a time of day as HH:MM"):
        load_config(bad)


# --- the tick's plan and the next-due index ------------------------------------------------


def test_the_ticks_plan_is_the_due_sends_and_its_next_due_is_never_after_the_next_send():
    # A week in 37-minute steps for a group with members in other zones, on voice, paused, opted out and
    # texting right now, a moved and a cancelled meeting: what plan_due says is due is due_sends exactly, and
    # no send that will go lies between the tick and the next-due instant it gives the index.
    from checkin.schedules.planning import plan_due

    members = [
        person(1),
        person(2, zone="Asia/Kolkata"),
        person(3, channel="voice", language="es"),
        person(4, status="opted_out"),
        person(5, paused_until=utc(2026, 3, 12)),
        person(6, last_inbound_at=utc(2026, 3, 5, 15, 20)),  # texting when Thursday's prompt is due
    ]
    overrides = {
        "20260310T2200Z": OverrideSpec(
            "20260310T2200Z", "moved", datetime(2026, 3, 11, 12, 0), 1, utc(2026, 3, 6)
        ),
        "20260317T2200Z": OverrideSpec("20260317T2200Z", "cancelled", None, 1, utc(2026, 3, 9)),
    }
    g = group(members=members, overrides=overrides)
    prompts = [OpenPrompt(1, 1, "prompt:1:20260303T2300Z", utc(2026, 3, 5, 15, 0))]
    horizon = timedelta(days=1)
    now, lives = utc(2026, 3, 4), 0
    while now < utc(2026, 3, 11):
        plan = plan_due([g], now, config=CONFIG, open_prompts=prompts, horizon=horizon)
        expected = due_sends([g], now, config=CONFIG, open_prompts=prompts)
        assert sorted(s.key for s in plan.sends) == sorted(s.key for s in expected)
        assert {s.key: s for s in plan.sends} == {s.key: s for s in expected}
        ahead = plan_sends(
            [g], now + timedelta(microseconds=1), now + horizon, now=now, config=CONFIG, open_prompts=prompts
        )
        going = [s.send_at_utc for s in ahead if s.held_reason is None]
        # A prompt held for a live exchange goes when the exchange ends.
        exchange = timedelta(minutes=g.plan.live_exchange_minutes)
        held = [s for s in plan.sends if s.held_reason == "live exchange"]
        going += [members[s.member_id - 1].last_inbound_at + exchange for s in held]
        lives += len(held)
        assert now < plan.next_due[g.id] <= min(going, default=now + horizon), now
        now += timedelta(minutes=37)
    assert lives  # the sweep met a prompt held for a live exchange
