from datetime import UTC, datetime

from checkin.quiet_hours import allowed, next_allowed

UTC = UTC


def test_evening_message_waits_for_the_members_morning_across_dst():
    # 22:30 in New York on the evening before DST ends (2026-10-31 is a Saturday; DST ends 2026-11-01).
    late = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)
    assert not allowed(late, "America/New_York")
    morning = next_allowed(late, "America/New_York")
    # 08:00 EST on 1 November is 13:00 UTC (it would be 12:00 UTC had the offset not changed).
    assert morning == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_early_morning_waits_until_start_of_the_same_day():
    early = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # 05:00 in New York
    assert next_allowed(early, "America/New_York") == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_daytime_is_left_alone():
    noon = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # 12:00 in New York, 09:00 in Los Angeles
    assert next_allowed(noon, "America/Los_Angeles") == noon
    assert not allowed(datetime(2026, 7, 1, 14, 0, tzinfo=UTC), "America/Los_Angeles")  # 07:00


def test_a_time_in_the_night_waits_for_the_window_to_open():
    from datetime import time as clock
    from datetime import timedelta

    from checkin.quiet_hours import wait_for_window

    assert wait_for_window(clock(6, 30)) == timedelta(hours=1, minutes=30)  # the same morning
    assert wait_for_window(clock(22, 0)) == timedelta(hours=10)  # the next morning
    assert wait_for_window(clock(21, 0)) == timedelta(hours=11)  # the window's end is outside it
    assert wait_for_window(clock(8, 0)) is None and wait_for_window(clock(20, 59)) is None
